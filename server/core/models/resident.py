"""The population registry (a SIAK export): who lives where and whether they are recorded."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base


class Resident(Base):
    """One resident as the civil registry knows them, keyed by NIK."""

    __tablename__ = "resident"

    nik: Mapped[str] = mapped_column(String(16), primary_key=True)
    nama: Mapped[str] = mapped_column(String(120))
    tempat_lahir: Mapped[str | None] = mapped_column(String(60))
    tanggal_lahir: Mapped[dt.date] = mapped_column(Date)
    jenis_kelamin: Mapped[str] = mapped_column(String(16))
    golongan_darah: Mapped[str | None] = mapped_column(String(16))
    alamat: Mapped[str | None] = mapped_column(String(200))
    rt: Mapped[str | None] = mapped_column(String(3))
    rw: Mapped[str | None] = mapped_column(String(3))
    desa_kode: Mapped[str] = mapped_column(String(13), index=True)
    agama: Mapped[str | None] = mapped_column(String(40))
    status_perkawinan: Mapped[str | None] = mapped_column(String(40))
    pekerjaan: Mapped[str | None] = mapped_column(String(80))
    kewarganegaraan: Mapped[str | None] = mapped_column(String(8))
    # Already recorded for e-KTP before Jemput (SIAK's "sudah rekam"): coverage counts it.
    recorded: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime]
