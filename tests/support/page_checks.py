"""What every page a person reads is checked for in the browser: axe-core's accessibility rules
(no serious or critical violation) and the language (no bare code, no UTC time).

The language check reads the text a person sees (visible text nodes and the options of select
boxes) and fails on a text equal to a schema field name or to a state, role, case, reason, action or
status code from ``shared`` or the server's vocabulary (inside a sentence: a snake_case one),
on ``user:``/``device:`` audit names, and on "UTC". Elements marked ``translate="no"``
(names, NIKs, region codes: data, not words) are not read.
"""

from __future__ import annotations

import re
from typing import Any

from shared import labels, protocol, vocab
from shared.schemas import PAYLOAD_FIELDS

#: Every code a person must never read as it is.
CODES: frozenset[str] = frozenset({
    *PAYLOAD_FIELDS,
    *(s.value for s in protocol.ServerState), *(s.value for s in protocol.ClientState),
    *(k.value for k in protocol.CaseKind), *(r.value for r in protocol.CaseResolution),
    *vocab.BIOMETRIC_ROLES, *vocab.EXCEPTION_REASONS,
    *(key for table in labels.ALL_LABELS for key in table),
    "system", "open", "resolved",
})
#: Pieces of text are split on these before they are compared with the codes.
_SEPARATORS = re.compile(r"[·,;:()/\[\]|]+|\s[-–—]\s")
_AUDIT_NAME = re.compile(r"\b(user|device|operator):\w")

_VISIBLE_TEXT = """() => {
  const out = [];
  const seen = (el) => {
    if (el.closest('script, style, [hidden], [translate="no"]')) return false;
    const style = getComputedStyle(el);
    return style.display !== 'none' && style.visibility !== 'hidden';
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement, text = node.textContent.trim();
    if (text && el && el.tagName !== 'OPTION' && seen(el)) out.push(text);
  }
  for (const option of document.querySelectorAll('option')) {
    const select = option.closest('select');
    if (select && seen(select) && !option.closest('[translate="no"]')) {
      out.push(option.textContent.trim());
    }
  }
  return out;
}"""


def leaked_words(page: Any) -> list[str]:
    """The pieces of visible text that are codes, audit names or a UTC time."""
    found: list[str] = []
    for text in page.evaluate(_VISIBLE_TEXT):
        if "UTC" in text or _AUDIT_NAME.search(text):
            found.append(text)
            continue
        if text in CODES:
            found.append(repr(text))
            continue
        # Inside a sentence only the snake_case codes: "nama" and "alamat" are words too.
        for piece in _SEPARATORS.split(text):
            if "_" in piece.strip() and piece.strip() in CODES:
                found.append(f"{piece.strip()!r} in {text[:80]!r}")
    return found


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} - "
            f"{', '.join(str(n.get('target')) for n in v['nodes'][:3])}"
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


def check_page(page: Any, name: str) -> list[str]:
    """Both checks on the page now showing, each problem prefixed with the page's name."""
    return ([f"{name}: axe {line}" for line in serious_violations(page)]
            + [f"{name}: language {line}" for line in leaked_words(page)])
