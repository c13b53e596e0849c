"""Synthetic residents of Kabupaten Sekadau for the demo and the benchmarks.

Names come from Faker's ``id_ID`` locale; NIKs are valid and agree with the birth date, sex and
kecamatan of first registration. Nothing here is a real person.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from faker import Faker

from shared import vocab

NANGA_MAHAP = "61.09.04"
_WEIGHTED_AGAMA = ("KATHOLIK", "KRISTEN", "ISLAM", "BUDHA", "KHONGHUCU")
_WEIGHTED_PEKERJAAN = (
    "PETANI/PEKEBUN",
    "PETANI/PEKEBUN",
    "PETANI/PEKEBUN",
    "MENGURUS RUMAH TANGGA",
    "PELAJAR/MAHASISWA",
    "WIRASWASTA",
    "BURUH TANI/PERKEBUNAN",
    "GURU",
    "PEDAGANG",
    "BELUM/TIDAK BEKERJA",
)
_DUSUN = ("DUSUN HILIR", "DUSUN HULU", "DUSUN TENGAH", "DUSUN SUNGAI", "DUSUN BUKIT")
_FILE_KIND = {
    "photo": (".png", 30_000),
    "signature": (".png", 10_000),
    "iris_left": (".jp2", 30_000),
    "iris_right": (".jp2", 30_000),
}  # every finger: (".wsq", 20_000)
_MAGIC = {
    ".png": b"\x89PNG\r\n\x1a\n",
    ".jp2": b"\x00\x00\x00\x0cjP  \r\n\x87\n",
    ".wsq": b"\xff\xa0",
}


@cache
def sekadau_regions() -> dict[str, str]:
    """Kemendagri code -> name for Kalimantan Barat, Sekadau, its kecamatan and desa."""
    csv_file = resources.files("server.registry").joinpath("data/sekadau_wilayah.csv")
    text = csv_file.read_text("utf-8")
    return {row["kode"]: row["nama"] for row in csv.DictReader(text.splitlines())}


def desa_of(kecamatan: str) -> list[str]:
    """Desa codes of one kecamatan, in code order."""
    prefix = kecamatan + "."
    return sorted(code for code in sekadau_regions() if code.startswith(prefix))


def synthetic_residents(
    count: int, *, kecamatan: str = NANGA_MAHAP, seed: int = 0, today: dt.date | None = None
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` valid card payloads of adults living in ``kecamatan``."""
    rng = random.Random(seed)
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    today = today or dt.date.today()
    villages = desa_of(kecamatan)
    used: set[str] = set()
    for _ in range(count):
        woman = rng.random() < 0.49
        born = today - dt.timedelta(days=rng.randint(17 * 365 + 5, 80 * 365))
        nik = _unique_nik(kecamatan, born, woman, rng, used)
        first = fake.first_name_female() if woman else fake.first_name_male()
        yield {
            "nik": nik,
            "nama": _card_name(f"{first} {fake.last_name()}"),
            "tempat_lahir": "SEKADAU",
            "tanggal_lahir": born.isoformat(),
            "jenis_kelamin": "PEREMPUAN" if woman else "LAKI-LAKI",
            "golongan_darah": rng.choice(vocab.GOLONGAN_DARAH),
            "alamat": rng.choice(_DUSUN),
            "rt": f"{rng.randint(1, 12):03d}",
            "rw": f"{rng.randint(1, 5):03d}",
            "desa_kode": rng.choice(villages),
            "agama": rng.choice(_WEIGHTED_AGAMA),
            "status_perkawinan": rng.choice(("BELUM KAWIN", "KAWIN", "KAWIN", "CERAI MATI")),
            "pekerjaan": rng.choice(_WEIGHTED_PEKERJAAN),
            "kewarganegaraan": "WNI",
        }


@dataclass(frozen=True)
class SyntheticRecording:
    """One person's stand-in biometric files, and the biometrics that could not be captured."""

    files: dict[str, Path]
    exceptions: dict[str, str]


def synthetic_biometrics(directory: Path, index: int) -> SyntheticRecording:
    """Write stand-in biometric files (photo, signature, irises, ten fingers) for one person.

    Photo and signature are real PNG images of random pixels (~30 KB and ~10 KB), so the office
    pages can show them; the other files are random bytes behind the format's magic number, sized
    like the real thing (irises ~30 KB JPEG 2000, fingers ~20 KB WSQ), so hashing and transfer are
    exercised honestly. A few people have a finger (one an eye) that could not
    be captured: those are recorded as exceptions with a reason, as in the field.
    """
    rng = random.Random(index)
    exceptions = _synthetic_exceptions(index, rng)
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for role in vocab.BIOMETRIC_ROLES:
        if role in exceptions:
            continue
        suffix, size = _FILE_KIND.get(role, (".wsq", 20_000))
        size += rng.randint(-2_000, 2_000)
        path = directory / f"{index:05d}-{role}{suffix}"
        if suffix == ".png":
            path.write_bytes(_noise_png(rng, size))
        else:
            path.write_bytes(_MAGIC[suffix] + rng.randbytes(size - len(_MAGIC[suffix])))
        files[role] = path
    return SyntheticRecording(files, exceptions)


def _noise_png(rng: random.Random, size: int, width: int = 100) -> bytes:
    """A valid RGB PNG of random pixels, exactly ``size`` bytes (a comment chunk pads it)."""
    row_bytes = 1 + 3 * width  # a filter byte, then the pixels
    height = max(1, (size - 400) // row_bytes)  # room for the chunks' framing and the padding
    pixels = b"".join(b"\x00" + rng.randbytes(3 * width) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    image = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels, 1))
    padding = max(0, size - len(_MAGIC[".png"]) - len(image) - 2 * 12 - len(b"Comment\x00"))
    return (_MAGIC[".png"] + image + chunk(b"tEXt", b"Comment\x00" + b" " * padding)
            + chunk(b"IEND", b""))


def _synthetic_exceptions(index: int, rng: random.Random) -> dict[str, str]:
    """About one person in fifteen lacks a finger, one in forty an eye (deterministic by index)."""
    exceptions = {}
    if index % 15 == 7:
        finger = rng.choice(vocab.FINGER_ROLES)
        exceptions[finger] = rng.choice(("amputated", "amputated", "injured", "bandaged"))
    if index % 40 == 29:
        exceptions[rng.choice(vocab.IRIS_ROLES)] = "injured"
    return exceptions


def _unique_nik(
    kecamatan: str, born: dt.date, woman: bool, rng: random.Random, used: set[str]
) -> str:
    day = born.day + 40 if woman else born.day
    stem = f"{kecamatan.replace('.', '')}{day:02d}{born.month:02d}{born.year % 100:02d}"
    while True:
        nik = f"{stem}{rng.randint(1, 9999):04d}"
        if nik not in used:
            used.add(nik)
            return nik


def _card_name(name: str) -> str:
    """Upper case, only the characters a card name may hold, at most 60 characters."""
    kept = "".join(ch for ch in name.upper() if (ch.isalpha() and ch.isascii()) or ch in " .'-")
    return " ".join(kept.split())[:60].strip() or "TANPA NAMA"
