"""A synthetic population registry of Kabupaten Sekadau that reads like the reported figures.

At scale 1 and the reference date ``at``: 148,293 residents wajib KTP, 127,901 of them already
recorded in SIAK (86.25 %), 225,494 residents in all. Wajib KTP is split over the kecamatan in
proportion to the 2018 voter list (largest remainder), over Nanga Mahap's desa in proportion to
their 2017 population and over the other desa by seeded random weights; Nanga Mahap is the least
covered kecamatan. The rest are children (under 17, never married), some turning 17 soon.
Names come from Faker's ``id_ID`` lists; NIKs are valid and agree with birth date, sex and the
kecamatan of first registration. Nothing here is a real person. Facts: shared/data/README.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from faker.providers.person.id_ID import Provider as IndonesianNames
from sqlalchemy import delete, func, select

from server.core.errors import Conflict, InvalidInput
from server.core.extensions import db
from server.core.models import Resident
from server.core.models.base import table_of
from server.core.timeutil import utcnow
from server.registry import population, regions
from server.registry.wajib import EVER_MARRIED, adult_cutoff, years_before
from shared import vocab

log = logging.getLogger(__name__)

TOTAL_WAJIB = 148_293
TOTAL_RECORDED = 127_901
TOTAL_POPULATION = 225_494
MALE_SHARE = 116_971 / TOTAL_POPULATION
NANGA_MAHAP = "61.09.04"
#: Final voter list, November 2018: the wajib-KTP share of each kecamatan.
VOTERS_2018 = {
    "61.09.01": 48_661, "61.09.02": 20_801, "61.09.03": 20_236, "61.09.04": 19_997,
    "61.09.05": 17_235, "61.09.06": 15_586, "61.09.07": 10_084,
}
#: Nanga Mahap's population per desa (kecamatan office, October 2017).
NANGA_MAHAP_DESA = {
    "61.09.04.2001": 2_893, "61.09.04.2002": 1_793, "61.09.04.2003": 3_264,
    "61.09.04.2004": 2_051, "61.09.04.2005": 2_192, "61.09.04.2006": 3_545,
    "61.09.04.2007": 1_274, "61.09.04.2008": 1_164, "61.09.04.2009": 1_723,
    "61.09.04.2010": 2_063, "61.09.04.2011": 2_567, "61.09.04.2012": 1_898,
    "61.09.04.2013": 1_588,
}
#: Relative SIAK coverage per kecamatan before the total is made exact: the regency seat
#: (Sekadau Hilir) best, Nanga Mahap (remote, where the next outreach goes) clearly the least.
COVERAGE_WEIGHT = {
    "61.09.01": 0.93, "61.09.02": 0.87, "61.09.03": 0.86, "61.09.04": 0.70,
    "61.09.05": 0.89, "61.09.06": 0.88, "61.09.07": 0.90,
}
#: Share of wajib residents who are married teenagers (wajib KTP by marriage, under 17).
MARRIED_UNDER_17 = 0.003
#: Share of NIKs first registered in another Sekadau kecamatan (people move; a NIK does not).
MOVED_SHARE = 0.08
DEFAULT_SEED = 2017
#: One resident: values in ``population.FIELDS`` order.
Row = tuple[Any, ...]
COLUMNS = (*population.FIELDS, "updated_at")
CHUNK_ROWS = 10_000

# Adult ages: (from, to) years -> weight (a young population, thinning with age).
_ADULT_AGES = ((17, 20, 8.0), (20, 25, 12.0), (25, 30, 12.0), (30, 35, 11.0), (35, 40, 10.0),
               (40, 45, 9.0), (45, 50, 8.0), (50, 55, 7.0), (55, 60, 6.0), (60, 65, 5.0),
               (65, 70, 4.0), (70, 75, 3.0), (75, 80, 2.0), (80, 95, 1.5))
# Status perkawinan by age: (up to age, weights of BELUM KAWIN, KAWIN, CERAI HIDUP, CERAI MATI).
_MARRIAGE = ((20, (85, 15, 0, 0)), (25, (50, 48, 2, 0)), (30, (25, 72, 3, 0)),
             (50, (7, 88, 3, 2)), (65, (3, 82, 4, 11)), (200, (2, 58, 4, 36)))
_AGAMA = (("KATHOLIK", 53.0), ("ISLAM", 27.0), ("KRISTEN", 17.0), ("BUDHA", 2.0),
          ("KHONGHUCU", 0.6), ("HINDU", 0.1), ("KEPERCAYAAN TERHADAP TUHAN YME", 0.3))
_DARAH = (("TIDAK TAHU", 45.0), ("O", 20.0), ("B", 16.0), ("A", 13.0), ("AB", 6.0))
_STUDENT = (("PELAJAR/MAHASISWA", 45.0), ("PETANI/PEKEBUN", 25.0),
            ("BELUM/TIDAK BEKERJA", 15.0), ("WIRASWASTA", 5.0), ("KARYAWAN SWASTA", 5.0),
            ("BURUH TANI/PERKEBUNAN", 5.0))
_MAN = (("PETANI/PEKEBUN", 52.0), ("BURUH TANI/PERKEBUNAN", 10.0), ("WIRASWASTA", 10.0),
        ("KARYAWAN SWASTA", 6.0), ("BURUH HARIAN LEPAS", 5.0), ("PEDAGANG", 4.0),
        ("PEGAWAI NEGERI SIPIL", 4.0), ("SOPIR", 3.0), ("GURU", 2.0), ("TUKANG KAYU", 2.0),
        ("BELUM/TIDAK BEKERJA", 2.0))
_WOMAN = (("MENGURUS RUMAH TANGGA", 40.0), ("PETANI/PEKEBUN", 35.0), ("PEDAGANG", 5.0),
          ("WIRASWASTA", 5.0), ("GURU", 3.0), ("PEGAWAI NEGERI SIPIL", 3.0), ("BIDAN", 1.0),
          ("PERAWAT", 1.0), ("KARYAWAN SWASTA", 4.0), ("BELUM/TIDAK BEKERJA", 3.0))
_OLD = (("PETANI/PEKEBUN", 45.0), ("BELUM/TIDAK BEKERJA", 30.0), ("MENGURUS RUMAH TANGGA", 15.0),
        ("PENSIUNAN", 10.0))
_DUSUN = ("SUNGAI AYAK", "TANJUNG", "NANGA", "TELUK", "SEPAN", "LUBUK", "RIAM", "BUKIT RAYA",
          "KERABAT", "SEMADU", "PAMPANG", "SEMANGGAK", "LANDAU", "TAPANG", "ENTIBAB", "MENTAWA",
          "SUNGAI ANTU", "TEMIANG", "KEMANTAN", "SEPAUK")
_ELSEWHERE = ("PONTIANAK", "SANGGAU", "SINTANG", "MELAWI", "KETAPANG", "SEKADAU")


@dataclass(frozen=True)
class DesaPlan:
    """How many residents one desa gets: wajib KTP, of them recorded, and children."""

    kode: str
    wajib: int
    recorded: int
    children: int


@dataclass(frozen=True)
class PopulationSummary:
    """What :func:`load` wrote, and how long generating and inserting took."""

    residents: int
    wajib: int
    recorded: int
    desa: int
    seconds: float


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (Hamilton's method; ties by position)."""
    weight_sum = sum(weights)
    if total < 0 or weight_sum <= 0:
        raise ValueError("a split needs a non-negative total and a positive weight")
    quotas = [total * weight / weight_sum for weight in weights]
    shares = [int(quota) for quota in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (shares[i] - quotas[i], i))
    for index in order[: total - sum(shares)]:
        shares[index] += 1
    return shares


def capped_split(total: int, weights: Sequence[float], caps: Sequence[int]) -> list[int]:
    """:func:`largest_remainder`, with no share above its cap (the excess goes to the others)."""
    if total > sum(caps):
        raise ValueError("the caps cannot hold the total")
    fixed: dict[int, int] = {}
    while True:
        free = [i for i in range(len(caps)) if i not in fixed and caps[i] > 0]
        left = total - sum(fixed.values())
        free_weights = [weights[i] if weights[i] > 0 else 1e-9 for i in free]
        shares = dict(zip(free, largest_remainder(left, free_weights), strict=True)) \
            if free else {}
        over = [i for i, share in shares.items() if share > caps[i]]
        if not over:
            return [fixed.get(i, shares.get(i, 0)) for i in range(len(caps))]
        fixed.update((i, caps[i]) for i in over)


def plan(scale: float = 1.0, seed: int = DEFAULT_SEED) -> list[DesaPlan]:
    """Residents per desa: the reported totals times ``scale`` (each rounded), split exactly."""
    if not 0 < scale <= 1:
        raise InvalidInput("Skala populasi harus lebih dari 0 dan paling banyak 1.")
    rng = random.Random(seed)
    wajib, recorded = round(TOTAL_WAJIB * scale), round(TOTAL_RECORDED * scale)
    children = round(TOTAL_POPULATION * scale) - wajib
    kecamatan = sorted(VOTERS_2018)
    kec_wajib = dict(zip(kecamatan, largest_remainder(wajib, [VOTERS_2018[k] for k in kecamatan]),
                         strict=True))
    kec_recorded = dict(zip(kecamatan, capped_split(
        recorded, [kec_wajib[k] * COVERAGE_WEIGHT[k] for k in kecamatan],
        [kec_wajib[k] for k in kecamatan]), strict=True))
    plans: list[DesaPlan] = []
    for kode in kecamatan:
        desa = _desa_of(kode)
        if kode == NANGA_MAHAP:
            weights = [float(NANGA_MAHAP_DESA[d]) for d in desa]
        else:
            weights = [rng.uniform(0.5, 1.5) for _ in desa]
        desa_wajib = largest_remainder(kec_wajib[kode], weights)
        # Coverage differs between desa too: the kecamatan's unrecorded residents are spread
        # unevenly (a remote desa lags behind), never leaving a desa fully recorded by chance.
        missing = capped_split(kec_wajib[kode] - kec_recorded[kode],
                               [n * rng.uniform(0.6, 1.6) for n in desa_wajib], desa_wajib)
        desa_recorded = [n - m for n, m in zip(desa_wajib, missing, strict=True)]
        plans += [DesaPlan(d, w, r, 0)
                  for d, w, r in zip(desa, desa_wajib, desa_recorded, strict=True)]
    desa_children = largest_remainder(children, [max(p.wajib, 1) for p in plans])
    return [DesaPlan(p.kode, p.wajib, p.recorded, c)
            for p, c in zip(plans, desa_children, strict=True)]


def _desa_of(kecamatan: str) -> list[str]:
    prefix = kecamatan + "."
    return sorted(kode for kode in _region_names() if kode.startswith(prefix)
                  and kode.count(".") == 3)


def _region_names() -> dict[str, str]:
    from server.demo.residents import sekadau_regions  # the bundled Sekadau table, read once

    return sekadau_regions()


def generate(scale: float = 1.0, *, at: dt.date, seed: int = DEFAULT_SEED,
             ) -> Iterator[Row]:
    """Yield every resident as values in ``population.FIELDS`` order; the same for a seed."""
    people = _People(at, seed)
    for desa in plan(scale, seed):
        yield from people.desa(desa)


def load(scale: float = 1.0, *, at: dt.date, seed: int = DEFAULT_SEED,
         replace: bool = False) -> PopulationSummary:
    """Load the Sekadau regions and the synthetic registry (bulk insert, one transaction).

    A registry that already holds residents is left alone (409) unless ``replace`` is given,
    then its residents are deleted first, in the same transaction.
    """
    start = time.perf_counter()
    regions.seed_sekadau()
    existing = db.session.execute(select(func.count()).select_from(Resident)).scalar_one()
    if existing and not replace:
        db.session.rollback()
        raise Conflict(f"Registri penduduk sudah berisi {existing} penduduk; tidak ada yang "
                       "diubah. Pakai --replace untuk menggantinya dengan populasi demo.")
    now, written, wajib, recorded = utcnow(), 0, 0, 0
    cutoff = adult_cutoff(at)
    try:
        if existing:
            db.session.execute(delete(table_of(Resident)))
        chunk: list[Row] = []
        for row in generate(scale, at=at, seed=seed):
            chunk.append((*row, now))
            if row[3] <= cutoff or row[11] in EVER_MARRIED:
                wajib += 1
                recorded += bool(row[14])
            if len(chunk) >= CHUNK_ROWS:
                population._insert(chunk)  # COPY on PostgreSQL, executemany elsewhere
                written, chunk = written + len(chunk), []
        population._insert(chunk)
        written += len(chunk)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    seconds = time.perf_counter() - start
    log.info("Demo population loaded: %d residents in %.1f s", written, seconds)
    return PopulationSummary(written, wajib, recorded, len(_all_desa()), seconds)


def _all_desa() -> list[str]:
    return [d for k in sorted(VOTERS_2018) for d in _desa_of(k)]


class _Pick:
    """A weighted choice that costs one random number and a bisection."""

    def __init__(self, weighted: Sequence[tuple[str, float]]) -> None:
        self.values = [value for value, _ in weighted]
        self.cumulative = list(accumulate(weight for _, weight in weighted))

    def __call__(self, rng: random.Random) -> str:
        return self.values[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


class _People:
    """Makes residents for one reference date and seed (serials unique across the registry)."""

    def __init__(self, at: dt.date, seed: int) -> None:
        self.rng = random.Random(seed + 1)
        self.at = at.toordinal()
        self.cutoff = adult_cutoff(at).toordinal()
        self.adult_ages = [(years_before(at, older).toordinal() + 1,
                            years_before(at, younger).toordinal())
                           for younger, older, _ in _ADULT_AGES]
        self.adult_weights = list(accumulate(weight for *_, weight in _ADULT_AGES))
        self.teen_married = (self.cutoff + 1, years_before(at, 15).toordinal())
        self.serials: dict[str, int] = {}
        self.names = {
            True: (IndonesianNames.first_names_male, IndonesianNames.last_names_male),
            False: (IndonesianNames.first_names_female, IndonesianNames.last_names_female),
        }
        self.pick_agama, self.pick_darah = _Pick(_AGAMA), _Pick(_DARAH)
        self.pick_job = {"student": _Pick(_STUDENT), "man": _Pick(_MAN),
                         "woman": _Pick(_WOMAN), "old": _Pick(_OLD)}
        self.pick_marriage = [(age, _Pick(list(zip(vocab.STATUS_PERKAWINAN, weights,
                                                   strict=True))))
                              for age, weights in _MARRIAGE]
        self.kecamatan = sorted(VOTERS_2018)
        self.region_names = _region_names()

    def desa(self, plan: DesaPlan) -> Iterator[Row]:
        """The residents of one desa: wajib adults (some recorded), then children."""
        rng = self.rng
        adults = [self._adult(plan.kode) for _ in range(plan.wajib)]
        # Weighted sampling without replacement (Efraimidis-Spirakis): teenagers who just
        # turned 17 are less often recorded yet.
        keys = [rng.random() ** (1 / (0.35 if self.at - person[3].toordinal() < 7305 else 1.0))
                for person in adults]
        chosen = set(sorted(range(len(adults)), key=keys.__getitem__, reverse=True)
                     [: plan.recorded])
        for index, person in enumerate(adults):
            person[14] = index in chosen
            yield tuple(person)
        for _ in range(plan.children):
            yield tuple(self._child(plan.kode))

    def _adult(self, desa: str) -> list[Any]:
        rng = self.rng
        if rng.random() < MARRIED_UNDER_17:
            born = rng.randint(*self.teen_married)
            man, status = rng.random() < 0.15, "KAWIN"
        else:
            bucket = bisect(self.adult_weights, rng.random() * self.adult_weights[-1])
            born = rng.randint(*self.adult_ages[bucket])
            man = rng.random() < MALE_SHARE
            status = ""
        age = (self.at - born) // 365
        birth = dt.date.fromordinal(born)
        if age >= 60 and rng.random() < 0.08:  # unknown birth date: SIAK's 31 December
            birth = dt.date(birth.year, 12, 31)
        if not status:
            status = next(pick for limit, pick in self.pick_marriage if age < limit)(rng)
        if age >= 65:
            job = self.pick_job["old"](rng)
        elif age < 23:
            job = self.pick_job["student"](rng)
        else:
            job = self.pick_job["man" if man else "woman"](rng)
        return self._person(desa, birth, man, status, job)

    def _child(self, desa: str) -> list[Any]:
        born = self.rng.randint(self.cutoff + 1, self.at)
        job = "BELUM/TIDAK BEKERJA" if self.at - born < 5 * 365 else "PELAJAR/MAHASISWA"
        return self._person(desa, dt.date.fromordinal(born), self.rng.random() < MALE_SHARE,
                            "BELUM KAWIN", job, moved=False)

    def _person(self, desa: str, birth: dt.date, man: bool, status: str, job: str,
                moved: bool = True) -> list[Any]:
        rng = self.rng
        firsts, lasts = self.names[man]
        nama = f"{rng.choice(firsts)} {rng.choice(lasts)}".upper()
        return [self._nik(desa[:8], birth, man, moved), nama, self._birthplace(desa), birth,
                "LAKI-LAKI" if man else "PEREMPUAN", self.pick_darah(rng),
                f"DUSUN {rng.choice(_DUSUN)}", f"{rng.randint(1, 15):03d}",
                f"{rng.randint(1, 5):03d}", desa, self.pick_agama(rng), status, job, "WNI",
                False]

    def _nik(self, kecamatan: str, birth: dt.date, man: bool, moved: bool) -> str:
        """Region of first registration (mostly where they live), date (+40 for women), serial."""
        if moved and self.rng.random() < MOVED_SHARE:
            kecamatan = self.rng.choice(self.kecamatan)
        day = birth.day if man else birth.day + 40
        stem = f"{kecamatan.replace('.', '')}{day:02d}{birth.month:02d}{birth.year % 100:02d}"
        serial = self.serials.get(stem, 0) + 1
        self.serials[stem] = serial
        return f"{stem}{serial:04d}"

    def _birthplace(self, desa: str) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return self.region_names[desa].upper()
        if roll < 0.8:
            return self.region_names[desa[:8]].upper()
        return self.rng.choice(_ELSEWHERE)
