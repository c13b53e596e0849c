"""Argument helpers shared by the ``jemput-field`` commands (parsing only, no output)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from field_client.errors import UsageInvalid

if TYPE_CHECKING:
    from field_client.capture.login import Login
    from field_client.client import FieldClient

Handler = Callable[["FieldClient", argparse.Namespace], int]


def command(commands: Any, name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
    """Add subcommand ``name`` that runs ``handler``."""
    sub: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(handler=handler)
    return sub


def add_pin_option(parser: argparse.ArgumentParser) -> None:
    """``--pin-stdin``: the command opens data under the device key, so it asks for a PIN."""
    parser.add_argument(
        "--pin-stdin", action="store_true",
        help="baca PIN operator dari baris pertama masukan standar (untuk skrip); tanpa ini "
        "PIN diminta di layar. PIN tidak pernah diterima lewat argumen atau variabel lingkungan.",
    )


def unlock(client: FieldClient, args: argparse.Namespace) -> Login:
    """Log the operator in (``--operator`` or the stored one) with a PIN read from a prompt or,
    with ``--pin-stdin``, from standard input: the device's data key for this command."""
    operator = (getattr(args, "operator", None) or client.default_operator or "").strip()
    if not operator:
        raise UsageInvalid("Operator belum ditentukan: beri --operator NAMA_PENGGUNA "
                           "(atau JEMPUT_OPERATOR).")
    if args.pin_stdin:
        pin = sys.stdin.readline().strip() if sys.stdin is not None else ""
        if not pin:  # not a wrong PIN: nothing to try, and nothing counted against the operator
            raise UsageInvalid("Tidak ada PIN di masukan standar: dengan --pin-stdin, PIN "
                               "operator harus ada di baris pertama masukan standar.")
    elif sys.stdin is not None and sys.stdin.isatty():
        pin = getpass.getpass(f"PIN operator {operator}: ").strip()
        if not pin:
            raise UsageInvalid("PIN kosong: ketik PIN operator (8 angka).")
    else:
        raise UsageInvalid("PIN operator diminta di layar, tetapi tidak ada layar (skrip?). "
                           "Beri PIN lewat masukan standar dengan --pin-stdin.")
    return client.login(operator, pin)


def pair(text: str) -> tuple[str, str]:
    """``ROLE=VALUE`` with both parts present."""
    role, sep, value = text.partition("=")
    if not sep or not role.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"'{text}' harus berbentuk PERAN=NILAI")
    return role.strip(), value.strip()


def setting(text: str) -> tuple[str, str]:
    """``FIELD=VALUE`` with both parts present."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"'{text}' harus berbentuk KOLOM=NILAI")
    return name.strip(), value.strip()


def add_biometric_options(parser: argparse.ArgumentParser, files_help: str,
                          exceptions_help: str) -> None:
    """The repeatable ``--file PERAN=PATH`` and ``--exception PERAN=ALASAN`` of a capture."""
    parser.add_argument("--file", action="append", type=pair, default=[], metavar="PERAN=PATH",
                        help=files_help)
    parser.add_argument("--exception", action="append", type=pair, default=[],
                        metavar="PERAN=ALASAN", help=exceptions_help)


def biometric_inputs(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``--file`` and ``--exception`` as ``{role: path}`` and ``{role: reason}``."""
    return unique(args.file, "--file"), unique(args.exception, "--exception")


def unique(pairs: list[tuple[str, Any]], option: str) -> dict[str, Any]:
    """The pairs as a dict; a key given twice is a usage error."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise UsageInvalid(f"'{key}' disebut dua kali di {option}.")
        found[key] = value
    return found


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (card data); UsageInvalid when unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UsageInvalid(f"Berkas {path} tidak dapat dibaca: {exc.strerror}.") from exc
    except json.JSONDecodeError as exc:
        raise UsageInvalid(f"Berkas {path} bukan JSON yang sah ({exc.msg}).") from exc
    except UnicodeDecodeError as exc:
        raise UsageInvalid(f"Berkas {path} bukan teks UTF-8.") from exc
    if not isinstance(data, dict):
        raise UsageInvalid(f"Berkas {path} harus berisi satu objek JSON data kartu.")
    return data
