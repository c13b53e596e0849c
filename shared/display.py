"""Numbers as Indonesians write them: ``148.293`` and ``86,25``, on every screen and report."""

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
