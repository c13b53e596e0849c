"""MkDocs hook: the reference parts of the site, generated from the code at every build.

A page asks for a generated part with a marker on a line of its own::

    <!-- jemput:openapi device -->

and the hook replaces the marker with Markdown built from the code, so the site cannot drift
from what the server and the field client really do:

- ``openapi GROUP`` (``device``, ``office``, ``web``) and ``openapi-schemas``: the HTTP API
  from the OpenAPI document the server serves at ``/api/v1/openapi.json``, taken from an app
  made by ``server.create_app`` on a throw-away instance folder (no running server, no network);
- ``problems``: the error catalogue of ``shared/problems.py``;
- ``protocol``: the constants and enumerations of ``shared/protocol.py`` with the wording of
  ``shared/labels.py``;
- ``server-cli`` and ``field-cli``: every ``jemput-server`` and ``jemput-field`` command with
  its ``--help`` text.

It also warns (a failed ``mkdocs build --strict``) when an environment variable that
``server/core/config.py`` or ``field_client/config.py`` reads is missing from
``admin/configuration.md``. The build needs the server installed (``pip install -e '.[dev]'``
or ``'.[server]'``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.reference")

MARKER = re.compile(r"^<!-- jemput:([a-z-]+)(?: ([a-z-]+))? -->[ \t]*$", re.MULTILINE)
#: Width of the generated ``--help`` texts (as on an 88-column terminal).
HELP_WIDTH = 88
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
#: Which page lists which paths: the first matching prefix wins; anything else goes to ``web``.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("office", ("/api/v1/office/",)),
    ("device", ("/api/v1/devices", "/api/v1/device/", "/api/v1/sync/", "/api/v1/uploads",
                "/api/v1/outreach/")),
    ("web", ("",)),
)
#: The page (relative to ``docs/``) that must name every environment variable.
CONFIG_PAGE = "admin/configuration.md"
CONFIG_MODULES = ("server/core/config.py", "field_client/config.py")

_root: Path | None = None
_cache: dict[str, Any] = {}


# -- MkDocs events ---------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    """Put the repository on ``sys.path`` so the hook imports the code it documents."""
    global _root
    _root = Path(config.config_file_path).resolve().parent
    if str(_root) not in sys.path:
        sys.path.insert(0, str(_root))
    _cache.clear()
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each ``<!-- jemput:... -->`` marker with its generated Markdown."""
    if page.file.src_uri == CONFIG_PAGE:
        _check_configuration_page(markdown)

    def replace(match: re.Match[str]) -> str:
        name, argument = match.group(1), match.group(2)
        renderer = RENDERERS.get(name)
        if renderer is None:
            log.warning("%s: unknown marker jemput:%s", page.file.src_uri, name)
            return match.group(0)
        return renderer(argument)

    return MARKER.sub(replace, markdown)


# -- what the code says ----------------------------------------------------------------------


@contextlib.contextmanager
def _scratch_app() -> Iterator[Any]:
    """A server app on a temporary instance folder and SQLite file (nothing else is touched)."""
    try:
        from server import create_app
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise PluginError(
            f"The docs need the server to build its API reference ({exc}); install it with "
            "pip install -e '.[dev]' (or '.[server]')."
        ) from exc
    root_logger = logging.getLogger()
    if not root_logger.handlers:  # else create_app would configure logging for the build
        root_logger.addHandler(logging.NullHandler())
    previous = os.environ.get("JEMPUT_INSTANCE_PATH")
    with tempfile.TemporaryDirectory(prefix="jemput-docs-") as scratch:
        os.environ["JEMPUT_INSTANCE_PATH"] = scratch
        try:
            yield create_app({
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch}/docs.db",
                "JEMPUT_BLOB_DIR": f"{scratch}/blobs",
            })
        finally:
            if previous is None:
                os.environ.pop("JEMPUT_INSTANCE_PATH", None)
            else:
                os.environ["JEMPUT_INSTANCE_PATH"] = previous


def _server_facts() -> dict[str, Any]:
    """The OpenAPI document and the ``jemput-server`` help texts, from one scratch app."""
    if "server" not in _cache:
        with _scratch_app() as app:
            response = app.test_client().get("/api/v1/openapi.json")
            if response.status_code != 200:
                raise PluginError(f"/api/v1/openapi.json answered {response.status_code}")
            _cache["server"] = {"openapi": response.get_json(),
                                "commands": _server_commands(app)}
    return _cache["server"]


# -- OpenAPI ---------------------------------------------------------------------------------


def render_openapi(group: str | None) -> str:
    """Every operation of one group of paths, one section per path and method."""
    if group not in {name for name, _ in GROUPS}:
        log.warning("jemput:openapi needs a group: %s", ", ".join(name for name, _ in GROUPS))
        return ""
    doc = _server_facts()["openapi"]
    default_security = doc.get("security", [])
    out: list[str] = []
    operations = [(path, method, op) for path, item in doc["paths"].items()
                  if _group_of(path) == group
                  for method, op in sorted(item.items(), key=lambda kv: _method_order(kv[0]))]
    described = sum(1 for *_, op in operations if _described(op))
    out.append(f"*{len(operations)} operations, {described} of them with a request or response "
               f"schema; generated from `/api/v1/openapi.json` (OpenAPI {doc['openapi']}, "
               f"{doc['info']['title']} version {doc['info']['version']}).*\n")
    # The document's default security (a device token) is right for the device API only.
    inherited = None if group == "device" else (
        "not described in the OpenAPI document (its default, `deviceToken`, is meant for the "
        "device API); see [Authentication](index.md#authentication)")
    for path, method, op in operations:
        out.append(_operation(path, method, op, default_security, inherited))
    return "\n".join(out)


def _group_of(path: str) -> str:
    for name, prefixes in GROUPS:
        if any(path.startswith(prefix) for prefix in prefixes):
            return name
    return "web"


def _method_order(method: str) -> int:
    return METHODS.index(method) if method in METHODS else len(METHODS)


def _described(op: dict[str, Any]) -> bool:
    """Whether the document gives a request body or any response a schema."""
    if "requestBody" in op:
        return True
    return any("content" in response for response in op.get("responses", {}).values())


def _operation(path: str, method: str, op: dict[str, Any],
               default_security: list[dict[str, Any]], inherited: str | None) -> str:
    lines = [f"### {method.upper()} `{path}`", ""]
    if op.get("summary"):
        lines += [_text(op["summary"]), ""]
    if op.get("description"):
        lines += [_text(op["description"]), ""]
    if not _described(op):
        lines += ['!!! note "Not yet described"',
                  "    The OpenAPI document has no request or response schema for this "
                  "operation yet; the summary above and the hand-written guides are what "
                  "describes it for now.", ""]
    security = inherited if inherited and "security" not in op else \
        _security(op, default_security)
    lines += [f"**Security:** {security}", ""]
    if op.get("parameters"):
        lines += ["**Parameters**", "", "| name | in | required | schema | description |",
                  "|---|---|---|---|---|"]
        for parameter in op["parameters"]:
            lines.append("| " + " | ".join([
                f"`{parameter['name']}`", parameter.get("in", ""),
                "yes" if parameter.get("required") else "no",
                _markup_cell(_schema_summary(parameter.get("schema", {}))),
                _cell(parameter.get("description", "")),
            ]) + " |")
        lines.append("")
    if "requestBody" in op:
        body = op["requestBody"]
        required = "required" if body.get("required") else "optional"
        lines += [f"**Request body** ({required})", ""]
        if body.get("description"):
            lines += [_text(body["description"]), ""]
        for media_type, content in body.get("content", {}).items():
            lines.append(f"- `{media_type}`: {_schema_summary(content.get('schema', {}))}")
        lines.append("")
    if op.get("responses"):
        lines += ["**Responses**", "", "| status | description | content |", "|---|---|---|"]
        for status, response in op["responses"].items():
            content = ", ".join(
                f"`{media_type}` {_schema_summary(body.get('schema', {}))}"
                for media_type, body in response.get("content", {}).items()
            )
            lines.append(f"| {status} | {_cell(response.get('description', ''))} | "
                         f"{_markup_cell(content) or '–'} |")
        lines.append("")
    return "\n".join(lines)


def _security(op: dict[str, Any], default: list[dict[str, Any]]) -> str:
    own = op.get("security")
    requirements = default if own is None else own
    if not requirements:
        return "none (open to anyone)"
    names = " or ".join(", ".join(f"`{name}`" for name in requirement)
                        for requirement in requirements)
    return names + (" (the document's default)" if own is None else "")


def render_schemas(_: str | None) -> str:
    """Every component schema with a table of its properties."""
    schemas = _server_facts()["openapi"].get("components", {}).get("schemas", {})
    out: list[str] = []
    for name in sorted(schemas):
        schema = schemas[name]
        out += [f"### {name} {{#{_anchor(name)}}}", ""]
        if schema.get("description"):
            out += [_text(schema["description"]), ""]
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        if properties:
            out += ["| property | required | schema | description |", "|---|---|---|---|"]
            long_enums: list[tuple[str, list[Any]]] = []
            for prop, spec in properties.items():
                summary = _schema_summary(spec, long_enums=long_enums, name=prop)
                out.append(f"| `{prop}` | {'yes' if prop in required else 'no'} | "
                           f"{_markup_cell(summary)} | {_cell(spec.get('description', ''))} |")
            out.append("")
            for prop, values in long_enums:
                out += [f"`{prop}` is one of: " + ", ".join(f"`{v}`" for v in values) + ".", ""]
        else:
            out += [f"Type: {_schema_summary(schema)}.", ""]
        if schema.get("additionalProperties") is False:
            out += ["No other properties are accepted.", ""]
    return "\n".join(out)


def _anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _schema_summary(schema: dict[str, Any], *, long_enums: list[tuple[str, list[Any]]] | None
                    = None, name: str = "") -> str:
    """A schema in a few words: its type, a link for a reference, and its constraints."""
    if not schema:
        return "any"
    if "$ref" in schema:
        target = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{target}](schemas.md#{_anchor(target)})"
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(_schema_summary(part) for part in
                           schema.get("anyOf", schema.get("oneOf", [])))
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array" and "items" in schema:
        kind = f"array of {_schema_summary(schema['items'])}"
    notes = []
    if "format" in schema:
        notes.append(f"format {schema['format']}")
    if "enum" in schema:
        values = schema["enum"]
        if long_enums is not None and len(values) > 12:
            long_enums.append((name, values))
            notes.append(f"one of the {len(values)} values listed below")
        else:
            notes.append("one of " + ", ".join(_code(str(v)) for v in values))
    if "pattern" in schema:
        notes.append(f"pattern {_code(schema['pattern'])}")
    for key, word in (("minimum", "min"), ("maximum", "max"), ("minLength", "min length"),
                      ("maxLength", "max length"), ("maxItems", "max items")):
        if key in schema:
            notes.append(f"{word} {schema[key]}")
    if "default" in schema:
        notes.append(f"default {_code(str(schema['default']).replace('None', 'null'))}")
    return kind + (f" ({'; '.join(notes)})" if notes else "")


# -- the shared contract ---------------------------------------------------------------------


def render_problems(_: str | None) -> str:
    """The error catalogue, grouped by status, with what the field client makes of each."""
    from shared import problems

    rows = sorted(problems.CATALOGUE.values(), key=lambda p: (p.status, p.code))
    framework = {p.code for p in problems.HTTP_PROBLEMS.values()}
    by_status = {p.code for p in problems.BY_STATUS.values()}
    lines = ["| status | code | title (as answered) | notes |", "|---|---|---|---|"]
    for problem in rows:
        notes = []
        if problem.code in problems.TRY_AGAIN_LATER:
            notes.append("try again later: the client keeps everything")
        if problem.code in by_status:
            notes.append(f"stands for an unknown code with status {problem.status}")
        if problem.code in framework:
            notes.append("also what the framework answers by itself")
        lines.append(f"| {problem.status} | `{problem.code}` | {_cell(problem.title)} | "
                     f"{'; '.join(notes)} |")
    return "\n".join(lines) + "\n"


def render_protocol(_: str | None) -> str:
    """The constants and enumerations of ``shared.protocol``, and the state wording."""
    from shared import labels, protocol

    lines = ["| constant | value |", "|---|---|"]
    for name, value in vars(protocol).items():
        if name.isupper() and isinstance(value, str | int) and not isinstance(value, enum.Enum):
            lines.append(f"| `{name}` | {_code(str(value))} |")
    lines.append("")
    for name, value in vars(protocol).items():
        if isinstance(value, type) and issubclass(value, enum.Enum) and value.__module__ == \
                protocol.__name__:
            # The docstrings still cite the original design document's section numbers.
            doc = re.sub(r"\s*\(design section \d+\)", "", (value.__doc__ or "").strip())
            lines += [f"#### `{name}`", "", _text(doc), ""]
            words = labels.STATE_LABELS if name.endswith("State") else \
                labels.KIND_LABELS if name == "CaseKind" else \
                labels.RESOLUTION_LABELS if name == "CaseResolution" else None
            if words is not None:
                lines += ["| value | shown as (`shared/labels.py`) |", "|---|---|"]
                lines += [f"| `{member.value}` | {words.get(member.value, '–')} |"
                          for member in value]
            else:
                lines.append(", ".join(f"`{member.value}`" for member in value))
            lines.append("")
    lines += ["#### `CLIENT_STATE_FOR_SERVER_STATE`", "",
              "The state the field client shows for each server state it hears in the pull feed.",
              "", "| server state | client state |", "|---|---|"]
    lines += [f"| `{server}` | `{client}` |"
              for server, client in protocol.CLIENT_STATE_FOR_SERVER_STATE.items()]
    return "\n".join(lines) + "\n"


# -- command lines ---------------------------------------------------------------------------


def _server_commands(app: Any) -> list[tuple[str, str, str, str]]:
    """(domain, name, one-line help, full help) for every ``jemput-server`` command."""
    import click
    from flask import cli as flask_cli

    commands: dict[str, Any] = dict(app.cli.commands)
    for builtin in (flask_cli.run_command, flask_cli.shell_command, flask_cli.routes_command):
        commands.setdefault(builtin.name or "", builtin)
    found = []
    for name in sorted(commands):
        command = commands[name]
        ctx = click.Context(command, info_name=f"jemput-server {name}",
                            terminal_width=HELP_WIDTH, max_content_width=HELP_WIDTH)
        text = command.get_help(ctx)
        if isinstance(command, click.Group):
            for sub_name in ("upgrade",):
                sub = command.commands.get(sub_name)
                if sub is not None:
                    sub_ctx = click.Context(sub, info_name=sub_name, parent=ctx,
                                            terminal_width=HELP_WIDTH,
                                            max_content_width=HELP_WIDTH)
                    text += "\n\n" + sub.get_help(sub_ctx)
        module = getattr(command.callback, "__module__", "") or type(command).__module__
        found.append((_domain_of(module), name, command.get_short_help_str(limit=100), text))
    return found


def _domain_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "server" and len(parts) > 1:
        return parts[1]
    return "flask"


SERVER_DOMAIN_TITLES = {
    "core": "Core", "http": "HTTP", "registry": "Registry: regions and the population",
    "accounts": "Accounts: users, devices, operators", "sync": "Sync: records and files",
    "review": "Review: checks, cases, audit", "coverage": "Coverage",
    "outreach": "Outreach", "cards": "Cards: blanko, printing, Suket", "demo": "Demo",
    "flask": "Flask and Flask-Migrate (the database)",
}


def render_server_cli(_: str | None) -> str:
    """A table of every ``jemput-server`` command by domain, then each command's help."""
    commands = _server_facts()["commands"]
    order = list(SERVER_DOMAIN_TITLES)
    commands = sorted(commands, key=lambda c: (order.index(c[0]) if c[0] in order
                                               else len(order), c[1]))
    lines = ["| command | domain | what it does |", "|---|---|---|"]
    lines += [f"| [`{name}`](#{_command_anchor(name)}) | {domain} | {_cell(short)} |"
              for domain, name, short, _ in commands]
    lines.append("")
    current = None
    for domain, name, _, text in commands:
        if domain != current:
            lines += [f"### {SERVER_DOMAIN_TITLES.get(domain, domain)}", ""]
            current = domain
        lines += [f"#### `{name}` {{#{_command_anchor(name)}}}", "", "```text", text.rstrip(),
                  "```", ""]
    return "\n".join(lines)


def render_field_cli(_: str | None) -> str:
    """``jemput-field --help`` and each subcommand's help."""
    from field_client.cli.main import build_parser

    def formatter(prog: str) -> argparse.HelpFormatter:
        return argparse.HelpFormatter(prog, width=HELP_WIDTH)

    parser = build_parser()
    parser.formatter_class = formatter
    lines = ["```text", parser.format_help().rstrip(), "```", ""]
    for action in parser._actions:  # argparse keeps its subcommands here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                sub.formatter_class = formatter
                lines += [f"### `{name}` {{#{_command_anchor(name)}}}", "", "```text",
                          sub.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def _command_anchor(name: str) -> str:
    return "cmd-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# -- checks ----------------------------------------------------------------------------------


def _check_configuration_page(markdown: str) -> None:
    """Warn about each variable the configuration modules read that the page does not name."""
    assert _root is not None
    for module in CONFIG_MODULES:
        source = (_root / module).read_text(encoding="utf-8")
        for variable in sorted(set(re.findall(r'"(JEMPUT_[A-Z_]+)"', source))):
            if f"`{variable}`" not in markdown:
                log.warning("%s reads %s, which %s does not describe", module, variable,
                            CONFIG_PAGE)


# -- Markdown helpers ------------------------------------------------------------------------


def _text(text: str) -> str:
    """Free text from a docstring or the document, safe in a Markdown paragraph."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    """Free text for a table cell: one line, no markup, no bare pipe."""
    return _markup_cell(_text(str(text)))


def _markup_cell(markdown: str) -> str:
    """Generated Markdown (links, code) for a table cell: one line, no bare pipe."""
    return " ".join(markdown.split()).replace("|", "&#124;")


def _code(text: str) -> str:
    """Inline code that survives a table cell (a pipe cannot sit in a code span there)."""
    if "|" in text or "`" in text:
        return "<code>" + _text(text).replace("|", "&#124;") + "</code>"
    return f"`{text}`"


RENDERERS = {
    "openapi": render_openapi,
    "openapi-schemas": render_schemas,
    "problems": render_problems,
    "protocol": render_protocol,
    "server-cli": render_server_cli,
    "field-cli": render_field_cli,
}
