"""A batch of residents with realistic biometric files for the end-to-end tests (a JSONL file
for ``jemput-field import``, each resident with its own 14 files of random bytes)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from server.demo.residents import synthetic_residents
from shared.vocab import FINGER_ROLES

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
