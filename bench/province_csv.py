"""A synthetic SIAK resident file for the whole of Kalimantan Barat (province 61).

Residents are spread over the province's real desa from ``../shared/data`` (Kemendagri codes),
with valid NIKs (the desa's kecamatan, the birth date, women's day + 40, a serial unique per
head), ages 0-90, ~84 % of the adults recorded in SIAK. The file is what
``jemput-server import-population`` reads; ``bench/population_import.py`` times that import.

    .venv/bin/python -m bench.province_csv OUT.csv [--residents 5000000] [--seed 61]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
from collections import Counter
from pathlib import Path

from shared import vocab

REPO = Path(__file__).resolve().parents[1]
REGIONS = REPO.parent / "shared" / "data" / "wilayah_kemendagri_2025.csv"
PROVINCE = "61"
HEADER = ("nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "golongan_darah",
          "alamat", "rt", "rw", "desa_kode", "agama", "status_perkawinan", "pekerjaan",
          "kewarganegaraan", "sudah_rekam")
FIRST = ("Agus", "Budi", "Dewi", "Eka", "Fitri", "Hendra", "Indah", "Joko", "Kartini", "Lestari",
         "Maria", "Nur", "Oktavia", "Paulus", "Rina", "Sri", "Tono", "Udin", "Yohanes", "Yuliana")
LAST = ("Saputra", "Wijaya", "Lim", "Anyang", "Djau", "Kurniawan", "Pratama", "Siregar",
        "Hartono", "Nyaming", "Apui", "Setiawan", "Rahayu", "Hidayat", "Tan", "Sutrisno")
AGAMA = vocab.AGAMA[:6]
DARAH = ("A", "B", "AB", "O", "TIDAK TAHU")
KERJA = vocab.PEKERJAAN[:12]


def province_desa(regions: Path = REGIONS, province: str = PROVINCE) -> list[str]:
    """Every desa code (``PP.KK.CC.DDDD``) of ``province`` in the Kemendagri table."""
    with regions.open(encoding="utf-8") as handle:
        return [row["kode"] for row in csv.DictReader(handle)
                if row["kode"].startswith(province + ".") and row["kode"].count(".") == 3]


def write(path: Path, residents: int, seed: int = 61, today: dt.date | None = None) -> int:
    """Write ``residents`` synthetic rows to ``path``; the file's size in bytes."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    desa = province_desa()
    serials: Counter[str] = Counter()
    epoch = today.toordinal()
    names = [f"{first} {last}" for first in FIRST for last in LAST]
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(HEADER)
        for index in range(residents):
            kode = desa[index * len(desa) // residents]
            born = dt.date.fromordinal(epoch - rng.randrange(1, 90 * 365))
            woman = rng.random() < 0.5
            head = (kode[:8].replace(".", "") + f"{born.day + 40 * woman:02d}"
                    f"{born.month:02d}{born.year % 100:02d}")
            serials[head] += 1
            adult = (today - born).days >= 17 * 365
            out.writerow((
                f"{head}{serials[head]:04d}", rng.choice(names), "Sekadau",
                born.isoformat(), "PEREMPUAN" if woman else "LAKI-LAKI", rng.choice(DARAH),
                f"Jl. Desa No. {rng.randrange(1, 300)}", f"{rng.randrange(1, 20):03d}",
                f"{rng.randrange(1, 8):03d}", kode, rng.choice(AGAMA),
                "KAWIN" if adult and rng.random() < 0.6 else "BELUM KAWIN",
                rng.choice(KERJA), "WNI", "Y" if adult and rng.random() < 0.84 else "N"))
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--residents", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=61)
    args = parser.parse_args(argv)
    size = write(args.out, args.residents, args.seed)
    print(f"{args.out}: {args.residents:,} residents, {size / 1024**2:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
