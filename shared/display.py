"""Numbers as Indonesians write them (``148.293`` and ``86,25``) and names as a public page or a
laptop list may show them (masked), on every screen and report."""

from __future__ import annotations

from decimal import Decimal


def format_number(value: int) -> str:
    """``148293`` -> ``148.293``."""
    return f"{value:,}".replace(",", ".")


def format_percent(value: Decimal | None) -> str:
    """``86.25`` -> ``86,25``; nothing to divide by (no wajib-KTP residents): ``-``."""
    return "-" if value is None else f"{value:.2f}".replace(".", ",")


def format_decimal(value: float) -> str:
    """``15.79`` -> ``15,79`` and ``2.0`` -> ``2``; thousands with a dot."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def mask_name(name: str) -> str:
    """Each word's first letters (at most 3, at most half) kept: ``MARIA GORETTI`` ->
    ``MAR** GOR****``. What ``/verify`` shows of a Suket's holder and what a laptop keeps of a
    saved record's name (under its data key)."""
    words = []
    for word in name.split():
        keep = min(3, (len(word) + 1) // 2)
        words.append(word[:keep] + "*" * (len(word) - keep))
    return " ".join(words)
