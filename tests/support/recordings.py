"""A batch of residents with realistic biometric files for the end-to-end tests (a JSONL file
for ``jemput-field import``, each resident with its own 14 files of random bytes)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from server.demo.residents import synthetic_residents
from shared.vocab import BIOMETRIC_ROLES, FINGER_ROLES
from tests.support.field import BIOMETRIC_KINDS, FINGER_KIND, person

FILES = {
    "photo": ("jpg", 30_000),
    "signature": ("png", 10_000),
    "iris_left": ("jp2", 30_000),
    "iris_right": ("jp2", 30_000),
    **{role: ("wsq", 20_000) for role in FINGER_ROLES},
}


def write_recordings(folder: Path, count: int, seed: int) -> tuple[Path, dict[str, int]]:
    """A JSONL of ``count`` residents, each with its own 14 files; return it and {sha256: size}."""
    rng = random.Random(seed)
    expected: dict[str, int] = {}
    lines = []
    for index, payload in enumerate(synthetic_residents(count, seed=seed)):
        files = {}
        for role, (suffix, size) in FILES.items():
            data = rng.randbytes(size + rng.randrange(-2_000, 2_000))
            path = folder / f"r{index:03d}" / f"{role}.{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            expected[hashlib.sha256(data).hexdigest()] = len(data)
            files[role] = str(path.relative_to(folder))
        lines.append(json.dumps({"operator": "op.e2e", "payload": payload, "files": files}))
    batch = folder / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return batch, expected


def named_recordings(folder: Path, people: list[tuple[str, str]], seed: int,
                     ) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[bytes]]:
    """For each ``(nama, alamat)`` of ``people``: a payload, its 14 files (random bytes, written
    under ``folder``) by role, and every file's bytes."""
    rng = random.Random(seed)
    payloads, paths, files = [], [], []
    for index, (nama, alamat) in enumerate(people, start=1):
        payloads.append(person(seed * 100 + index, nama=nama, alamat=alamat))
        roles = {}
        for role in BIOMETRIC_ROLES:
            suffix, floor = BIOMETRIC_KINDS.get(role, FINGER_KIND)
            data = rng.randbytes(floor + rng.randrange(500, 4000))
            path = folder / f"r{index}" / f"{role}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            roles[role] = str(path)
            files.append(data)
        paths.append(roles)
    return payloads, paths, files
