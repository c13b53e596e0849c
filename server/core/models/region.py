"""Kemendagri administrative regions: province, regency, kecamatan, desa."""

from __future__ import annotations

from sqlalchemy import SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base

PROVINCE, REGENCY, KECAMATAN, DESA = 1, 2, 3, 4


class Region(Base):
    """One region code, e.g. ``61.09.04.2006`` (level 4, a desa)."""

    __tablename__ = "region"

    kode: Mapped[str] = mapped_column(String(13), primary_key=True)
    nama: Mapped[str] = mapped_column(String(120))
    level: Mapped[int] = mapped_column(SmallInteger)
