"""What the reconciliation checks find, computed in memory from rows loaded in bulk.

No database access here: :mod:`server.review.checks` loads the columns, these functions turn
them into :class:`Finding` objects (one per future case), and :mod:`server.review.cases`
writes them. Explanations are plain Indonesian for the office.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from server.core.timeutil import office_time
from shared.errors import InvalidNik
from shared.labels import ROLE_LABELS
from shared.nik import parse_nik
from shared.protocol import CaseKind

#: A device clock this far ahead of the server's is wrong, not a rounding error.
FUTURE_SLACK = dt.timedelta(minutes=10)
#: Recorded more than a year before it arrived: a wrong clock or an old record re-sent.
OLDEST = dt.timedelta(days=365)
#: Records named in one explanation; the case's record list has them all.
MAX_LISTED = 5

KIND_LABELS: dict[str, str] = {
    CaseKind.NIK_INVALID: "NIK tidak sah",
    CaseKind.NOT_IN_REGISTRY: "tidak ada di data penduduk",
    CaseKind.REGISTRY_MISMATCH: "berbeda dengan data penduduk",
    CaseKind.DUPLICATE_NIK: "NIK direkam lebih dari sekali",
    CaseKind.SHARED_BIOMETRIC: "berkas biometrik sama dengan NIK lain",
    CaseKind.OUTSIDE_AREA: "di luar kecamatan tugas",
    CaseKind.CAPTURED_AT_IMPLAUSIBLE: "waktu rekam tidak wajar",
    CaseKind.SEQUENCE_GAP: "nomor urut terlewat",
}


class Row(NamedTuple):
    """A record as the checks see it (a tuple: 130,000 of them are built per full run)."""

    id: str
    device_id: str
    nik: str
    desa_kode: str
    state: str
    captured_at: dt.datetime
    received_at: dt.datetime
    supersedes: str | None
    nama: str | None = None
    tanggal_lahir: str | None = None  # YYYY-MM-DD as in the payload
    jenis_kelamin: str | None = None
    seq: int = 0  # the device's sequence number: with the device it names the record


class Registered(NamedTuple):
    """A resident's registry entry, the fields a record is compared on."""

    nama: str
    tanggal_lahir: str  # YYYY-MM-DD
    jenis_kelamin: str


@dataclass(frozen=True)
class DeviceInfo:
    """A device's name, team and assigned kecamatan."""

    id: str
    name: str
    team: str
    kecamatan_kode: str | None


@dataclass(frozen=True)
class Finding:
    """One thing to look at; ``key`` identifies it across runs."""

    kind: str
    key: str
    record_ids: tuple[str, ...]
    explanation: str
    desa_kode: str | None
    team: str | None
    device_id: str | None


def case_key(kind: str, subject: str, record_ids: Iterable[str]) -> str:
    """``kind:subject:digest`` where the digest covers the sorted record ids."""
    digest = hashlib.sha256("\n".join(sorted(record_ids)).encode()).hexdigest()[:32]
    return f"{kind}:{subject}:{digest}"


def same_name(recorded: str | None, registered: str) -> bool:
    """True when two names differ at most in accents, case and spacing."""
    return recorded == registered or normalise_name(recorded or "") == normalise_name(registered)


def normalise_name(name: str) -> str:
    """A name with accents, case and spacing removed, for comparison only."""
    if name.isascii():
        return " ".join(name.casefold().split())
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def _single(kind: str, row: Row, team: str | None, explanation: str, subject: str = "") -> Finding:
    """A finding about one record."""
    return Finding(kind, case_key(kind, subject or row.nik, [row.id]), (row.id,), explanation,
                   row.desa_kode, team, row.device_id)


def record_findings(
    row: Row,
    registered: Registered | None,
    device: DeviceInfo | None,
    kecamatan: Mapping[str, str],
) -> list[Finding]:
    """The findings about one record on its own (everything except duplicates and gaps)."""
    team = device.team if device else None
    found: list[Finding] = []
    problem = _nik_problem(row.nik, kecamatan)
    if problem:
        found.append(_single(CaseKind.NIK_INVALID, row, team, problem))
    if registered is None:
        found.append(_single(CaseKind.NOT_IN_REGISTRY, row, team,
                             f"NIK {row.nik} tidak ditemukan di data penduduk (SIAK)."))
    else:
        fields, text = _mismatch(row, registered)
        if fields:
            found.append(_single(CaseKind.REGISTRY_MISMATCH, row, team, text,
                                 subject=f"{row.nik}:{','.join(fields)}"))
    if device and device.kecamatan_kode and row.desa_kode[:8] != device.kecamatan_kode:
        where = kecamatan.get(device.kecamatan_kode, "")
        found.append(_single(
            CaseKind.OUTSIDE_AREA, row, team,
            f"Desa {row.desa_kode} berada di luar kecamatan tugas perangkat {device.name} "
            f"(tim {device.team}): {device.kecamatan_kode} {where}".rstrip() + "."))
    timing = _timing_problem(row)
    if timing:
        found.append(_single(CaseKind.CAPTURED_AT_IMPLAUSIBLE, row, team, timing))
    return found


def _nik_problem(nik: str, kecamatan: Mapping[str, str]) -> str | None:
    """Why ``nik`` fails its rules or names a kecamatan the region table lacks, or None.

    A stored record's NIK passed :func:`shared.nik.parse_nik` at ingest (the push refuses
    others) and its birth date cannot become invalid later, so a well-formed NIK is checked by
    its region part only (few distinct values: cached); anything else is parsed in full.
    """
    if len(nik) == 16 and nik.isdigit() and nik[12:] != "0000":
        problem, code = _nik_rules(nik[:6] + "010190")
    else:
        problem, code = _nik_rules(nik, full=True)
    if problem is None and code in kecamatan:
        return None
    if problem is None:
        problem = (f"kode kecamatan dalam NIK ({code}) tidak ada di tabel wilayah. Bila "
                   "penduduk pindahan dari daerah lain, impor tabel wilayah nasional.")
    return f"NIK {nik} tidak sah: {problem}"


@lru_cache(maxsize=65536)
def _nik_rules(nik: str, full: bool = False) -> tuple[str | None, str]:
    """``(problem, kecamatan code)`` of a NIK, or of a 12-digit stem unless ``full``."""
    try:
        facts = parse_nik(nik if full else nik + "0001")
    except InvalidNik as exc:
        return exc.message, ""
    return None, facts.kecamatan_code


def _mismatch(row: Row, registered: Registered) -> tuple[list[str], str]:
    """The compared fields that differ from the registry, and the explanation."""
    fields: list[str] = []
    parts: list[str] = []
    if not same_name(row.nama, registered.nama):
        fields.append("nama")
        parts.append(f"nama '{row.nama}' (registri: '{registered.nama}')")
    if row.tanggal_lahir != registered.tanggal_lahir:
        fields.append("tanggal_lahir")
        parts.append(f"tanggal lahir {_dmy(row.tanggal_lahir)} "
                     f"(registri: {_dmy(registered.tanggal_lahir)})")
    if row.jenis_kelamin != registered.jenis_kelamin:
        fields.append("jenis_kelamin")
        parts.append(f"jenis kelamin {row.jenis_kelamin} (registri: {registered.jenis_kelamin})")
    if not fields:
        return [], ""
    text = "Data rekaman berbeda dengan data penduduk: " + "; ".join(parts) + "."
    if "tanggal_lahir" in fields:
        text += _nik_date_hint(row.nik)
    return fields, text


def _nik_date_hint(nik: str) -> str:
    """The NIK's own birth date, offered as a hint only (its year has two digits)."""
    try:
        born = parse_nik(nik).birth_date
    except InvalidNik:
        return ""
    return f" Petunjuk: tanggal lahir dalam NIK {born:%d-%m-%y} (hanya petunjuk)."


def _dmy(iso: str | None) -> str:
    """``YYYY-MM-DD`` as ``DD-MM-YYYY``; anything else as it is."""
    if iso and len(iso) == 10 and iso[4] == iso[7] == "-":
        return f"{iso[8:10]}-{iso[5:7]}-{iso[0:4]}"
    return str(iso)


def _timing_problem(row: Row) -> str | None:
    """Why the capture time is implausible against the arrival time, or None."""
    late = row.captured_at > row.received_at + FUTURE_SLACK
    if not late and row.captured_at >= row.received_at - OLDEST:
        return None
    stamp = f"{row.captured_at:%d-%m-%Y %H:%M} UTC"
    arrived = f"{row.received_at:%d-%m-%Y %H:%M} UTC"
    if late:
        return (f"Waktu rekam {stamp} lebih dari 10 menit setelah rekaman diterima server "
                f"({arrived}): jam perangkat kemungkinan salah.")
    return (f"Waktu rekam {stamp} lebih dari setahun sebelum rekaman diterima server "
            f"({arrived}): jam perangkat salah atau rekaman lama dikirim ulang.")


def duplicate_findings(
    rows: Iterable[Row], in_scope: Collection[str], devices: Mapping[str, DeviceInfo]
) -> list[Finding]:
    """One finding per NIK held by two or more live records (one of them in scope)."""
    rows = list(rows)
    twice = {nik for nik, count in Counter(row.nik for row in rows).items() if count > 1}
    by_nik: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.nik in twice:
            by_nik[row.nik].append(row)
    found: list[Finding] = []
    for nik, group in by_nik.items():
        if len(group) < 2:
            continue
        replaced = {row.supersedes for row in group if row.supersedes}
        group = sorted((row for row in group if row.id not in replaced),
                       key=lambda row: (row.captured_at, row.id))
        if len(group) < 2 or not any(row.id in in_scope for row in group):
            continue
        listed = ", ".join(_who(row, devices) for row in group[:MAX_LISTED])
        more = f" dan {len(group) - MAX_LISTED} lainnya" if len(group) > MAX_LISTED else ""
        first = group[0]
        found.append(Finding(
            CaseKind.DUPLICATE_NIK, case_key(CaseKind.DUPLICATE_NIK, nik, [r.id for r in group]),
            tuple(row.id for row in group),
            f"NIK {nik} direkam {len(group)} kali: {listed}{more}.",
            first.desa_kode, _team(first, devices), first.device_id))
    return found


def shared_biometric_findings(
    files: Iterable[tuple[str, str, str]],
    rows: Mapping[str, Row],
    in_scope: Collection[str],
    devices: Mapping[str, DeviceInfo],
) -> list[Finding]:
    """One finding per set of live records sharing a file (``(record_id, role, sha256)``)
    under two or more different NIKs."""
    holders: dict[str, set[str]] = defaultdict(set)
    roles: dict[str, set[str]] = defaultdict(set)
    for record_id, role, sha256 in files:
        if record_id in rows:
            holders[sha256].add(record_id)
            roles[sha256].add(role)
    groups: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for sha256, holding in holders.items():
        if len({rows[i].nik for i in holding}) > 1 and holding.intersection(in_scope):
            groups[tuple(sorted(holding))].update(roles[sha256])
    found: list[Finding] = []
    for ids, shared_roles in groups.items():
        group = sorted((rows[i] for i in ids), key=lambda row: (row.captured_at, row.id))
        labels = ", ".join(ROLE_LABELS.get(role, role) for role in sorted(shared_roles))
        listed = ", ".join(f"NIK {row.nik} {_who(row, devices)}" for row in group[:MAX_LISTED])
        first = group[0]
        found.append(Finding(
            CaseKind.SHARED_BIOMETRIC, case_key(CaseKind.SHARED_BIOMETRIC, first.nik, ids),
            tuple(row.id for row in group),
            f"Berkas biometrik yang sama ({labels}) dipakai untuk NIK berbeda: {listed}.",
            first.desa_kode, _team(first, devices), first.device_id))
    return found


def gap_findings(device: DeviceInfo, gaps: Iterable[list[int]]) -> list[Finding]:
    """One finding per range of sequence numbers a device never delivered."""
    found: list[Finding] = []
    for start, end in gaps:
        span = f"{start}" if start == end else f"{start}-{end}"
        found.append(Finding(
            CaseKind.SEQUENCE_GAP, case_key(CaseKind.SEQUENCE_GAP, f"{device.id}:{span}", []),
            (), f"Perangkat {device.name} (tim {device.team}): nomor urut {span} tidak pernah "
                f"diterima ({end - start + 1} rekaman). Periksa laptop tim.",
            None, device.team, device.id))
    return found


def _team(row: Row, devices: Mapping[str, DeviceInfo]) -> str | None:
    device = devices.get(row.device_id)
    return device.team if device else None


def _who(row: Row, devices: Mapping[str, DeviceInfo]) -> str:
    """``oleh tim X (Laptop 1, no. urut 12), direkam 27-11-2026 10:15 WIB, rekaman …be60259``:
    two records never read alike, even from one device on one day (UUIDv7 ids share their
    time prefix, so the end of the id is the part that tells them apart)."""
    device = devices.get(row.device_id)
    where = f"tim {device.team} ({device.name}, no. urut {row.seq})" if device else "tim ?"
    return f"oleh {where}, direkam {office_time(row.captured_at)}, rekaman …{row.id[-8:]}"
