"""Protocol 2 on the wire, end to end: a real server process, the real ``jemput-field`` CLI.

- A client that does not name the protocol (an older field client) is refused whole: 426
  ``client_outdated`` as problem+json, and nothing is stored.
- A record sealed to a key the office's ring does not hold (``unknown_key``) and a sealed record
  tampered with on the way (``sealed_invalid``) are answered with their per-record codes and
  nothing of them is stored; the real CLI keeps such a record ``ready`` with the code (held,
  never rejected) and sends it again.
- After a real ``jemput-field sync`` of records with all 14 files, no byte under the laptop's
  home folder (database, WAL, journals, sealed files) holds a NIK, a name, an address or any
  32-byte slice of a biometric file.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from nacl.public import PrivateKey
from werkzeug.wrappers import Request

from field_client.store.keys import OFFICE_KEY_ID_META, OFFICE_KEY_META
from shared.protocol import (
    HELD_RECORD_ERRORS,
    PROBLEM_MEDIA_TYPE,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    ClientState,
    RecordError,
)
from shared.sealing import b64, unb64
from shared.vocab import BIOMETRIC_ROLES
from tests.support.processes import (
    EX_TEMPFAIL,
    FieldCLI,
    ServerProcess,
    home_bytes,
    readable,
    register,
)
from tests.support.recordings import named_recordings
from tests.support.records import OfficeKey, build_record, envelope
from tests.support.wsgi_thread import serving

pytestmark = pytest.mark.e2e
PUSH = "/api/v1/sync/push"
#: Headers a proxy does not pass on (hop by hop), or sets itself. The ``Host`` goes on, so the
#: upload locations the server makes name the proxy (the client refuses another origin's).
HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "upgrade",
                 "proxy-connection", "content-length", "content-encoding"})
#: Residents of the scan test: names and addresses that occur nowhere else.
PEOPLE = [
    ("KRISTINA NGATINI WULANSARI", "DUSUN SUNGAI AYAK HILIR"),
    ("BONIFASIUS LUKAS TAMBUNAN", "DUSUN KERABAS LAMA"),
    ("VERONIKA DAMAYANTI SIHOMBING", "DUSUN PAKIT SEBERANG"),
]


# -- the server's and the laptop's state, read as another process would ----------------------


def table_counts(server: ServerProcess) -> dict[str, int]:
    """Rows of every table of the server's database (read-only, while it runs)."""
    uri = f"file:{server.instance / 'jemput.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                for name in names}


def device_progress(server: ServerProcess) -> list[tuple[Any, ...]]:
    uri = f"file:{server.instance / 'jemput.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        return conn.execute(
            "SELECT id, last_seq, received_count FROM device ORDER BY id").fetchall()


def meta(field: FieldCLI, key: str) -> str:
    with sqlite3.connect(field.home / "outbox.sqlite3") as conn:
        [(value,)] = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchall()
    return str(value)


def set_meta(field: FieldCLI, key: str, value: str) -> None:
    with sqlite3.connect(field.home / "outbox.sqlite3") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))


def laptop_records(field: FieldCLI) -> list[dict[str, Any]]:
    done = field.run("records", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return list(json.loads(done.stdout))


def headers_of(field: FieldCLI, *, version: str | None = str(PROTOCOL_VERSION)) -> dict[str, str]:
    """The laptop's bearer token, and the protocol header unless ``version`` is None."""
    headers = {"Authorization": f"Bearer {meta(field, 'token')}"}
    if version is not None:
        headers[PROTOCOL_HEADER] = version
    return headers


def laptop_key(field: FieldCLI) -> OfficeKey:
    """The office key the laptop got at registration (what it seals to)."""
    return OfficeKey(meta(field, OFFICE_KEY_ID_META), unb64(meta(field, OFFICE_KEY_META)))


def push(server: ServerProcess, headers: dict[str, str], items: list[Any]) -> requests.Response:
    return requests.post(server.url + PUSH, json={"records": items}, headers=headers, timeout=30)


def codes(answer: requests.Response) -> list[tuple[str, str | None]]:
    assert answer.status_code == 200, answer.text
    return [(r["status"], (r.get("errors") or {}).get("code")) for r in answer.json()["results"]]


# -- recordings with 14 files each -----------------------------------------------------------


def write_recordings(folder: Path, people: list[tuple[str, str]], seed: int,
                     ) -> tuple[Path, list[dict[str, Any]], list[bytes]]:
    """A JSONL batch of ``people`` (one line each, all 14 files of random bytes); the batch,
    the payloads and every file's bytes."""
    payloads, paths, files = named_recordings(folder, people, seed)
    lines = [json.dumps({"operator": "op.e2e", "payload": body, "files": roles})
             for body, roles in zip(payloads, paths, strict=True)]
    batch = folder / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return batch, payloads, files


def import_batch(field: FieldCLI, batch: Path) -> None:
    done = field.run("import", str(batch))
    assert done.returncode == 0, done.stdout + done.stderr


# -- a link that damages what it carries -----------------------------------------------------


class TamperingProxy:
    """A reverse proxy (WSGI) in front of the server; while ``tamper`` is on it flips one bit
    in the sealed bytes of every pushed record, as a damaged link or a meddler on the way
    would. Everything else passes unchanged."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.tamper = False
        self.tampered = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        request = Request(environ)
        body = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.tamper and request.method == "POST" and request.path == PUSH:
            body = self._flip(body)
        query = request.query_string.decode()
        answer = requests.request(
            request.method, self.target + request.path + (f"?{query}" if query else ""),
            headers={k: v for k, v in request.headers.items() if k.lower() not in HOP},
            data=body, timeout=60, allow_redirects=False)
        start_response(f"{answer.status_code} {answer.reason}",
                       [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP])
        return [answer.content]

    def _flip(self, body: bytes) -> bytes:
        document = json.loads(body)
        for item in document["records"]:
            sealed = bytearray(unb64(item["sealed"]))
            sealed[len(sealed) // 2] ^= 0x01
            item["sealed"] = b64(bytes(sealed))
            self.tampered += 1
        return json.dumps(document).encode()


@pytest.fixture
def tampering(server: ServerProcess) -> Iterator[tuple[TamperingProxy, str]]:
    proxy = TamperingProxy(server.url)
    with serving(proxy) as url:
        yield proxy, url


# -- (a) an older client ---------------------------------------------------------------------


@pytest.mark.parametrize("version", [None, "1"])
def test_an_old_client_is_refused_whole_and_nothing_is_stored(
    server: ServerProcess, field: FieldCLI, version: str | None
) -> None:
    register(field, server, server.url)
    before, progress = table_counts(server), device_progress(server)
    old = headers_of(field, version=version)
    # What a version-1 laptop pushes: the record in clear ...
    clear = push(server, old, [build_record(1, attachments=0)])
    # ... and even a well-sealed record, without the header, goes the same way.
    sealed = push(server, old, [envelope(build_record(2, attachments=0), laptop_key(field))])
    pull = requests.get(f"{server.url}/api/v1/sync/pull?since=0", headers=old, timeout=30)
    upload = requests.post(f"{server.url}/api/v1/uploads", timeout=30, headers={
        **old, "Tus-Resumable": "1.0.0", "Upload-Length": "100"})
    for answer in (clear, sealed, pull, upload):
        assert answer.status_code == 426, answer.text
        assert answer.headers["Content-Type"].startswith(PROBLEM_MEDIA_TYPE)
        problem = answer.json()
        assert (problem["status"], problem["code"]) == (426, "client_outdated")
        assert "results" not in problem  # the whole request, never a per-record rejection
        assert "antrean di laptop tetap utuh" in problem["detail"]
    assert table_counts(server) == before
    assert device_progress(server) == progress
    # The same records with the header are taken: the refusal was about the version only.
    assert codes(push(server, headers_of(field), [
        envelope(build_record(1, attachments=0), laptop_key(field))])) == [("accepted", None)]


# -- (b) and (c) records the server cannot open ----------------------------------------------


def test_unknown_key_and_tampered_records_over_http_store_nothing(
    server: ServerProcess, field: FieldCLI
) -> None:
    register(field, server, server.url)
    key = laptop_key(field)
    stranger = OfficeKey("20200101-deadbeef", bytes(PrivateKey.generate().public_key))
    unknown, tampered, mislabelled, other = (build_record(seq, attachments=0)
                                             for seq in (1, 2, 3, 4))
    damaged = bytearray(unb64(envelope(tampered, key)["sealed"]))
    damaged[60] ^= 0x01
    items = [
        envelope(unknown, stranger),
        envelope(tampered, key, sealed=bytes(damaged)),
        # Opens, but holds another record than the envelope names.
        {**envelope(other, key), "id": mislabelled["id"], "seq": mislabelled["seq"]},
    ]
    before, progress = table_counts(server), device_progress(server)
    answer = push(server, headers_of(field), items)
    assert codes(answer) == [("rejected", RecordError.UNKNOWN_KEY),
                             ("rejected", RecordError.SEALED_INVALID),
                             ("rejected", RecordError.SEALED_INVALID)]
    assert {r["errors"]["code"] for r in answer.json()["results"]} <= HELD_RECORD_ERRORS
    assert answer.json()["device"] == {"last_seq": 0, "received": 0, "gaps": []}
    assert table_counts(server) == before  # no record, no refusal row, no case, no progress
    assert device_progress(server) == progress
    # Sent again whole, to the office's key, they are stored: nothing held them back.
    again = push(server, headers_of(field), [envelope(r, key)
                                             for r in (unknown, tampered, mislabelled)])
    assert codes(again) == [("accepted", None)] * 3


def test_the_cli_keeps_a_record_sealed_to_an_unknown_key_ready_with_its_code(
    server: ServerProcess, field: FieldCLI, tmp_path: Path
) -> None:
    register(field, server, server.url)
    # The laptop holds a key the office's ring does not (a ring restored from an old backup,
    # a laptop registered elsewhere): it seals to it.
    set_meta(field, OFFICE_KEY_ID_META, "20200101-deadbeef")
    set_meta(field, OFFICE_KEY_META, b64(bytes(PrivateKey.generate().public_key)))
    batch, _, _ = write_recordings(tmp_path / "capture", PEOPLE[:1], seed=5)
    import_batch(field, batch)
    before = table_counts(server)
    for _ in range(2):  # held, then sent again on the next run and held again: never rejected
        done = field.run("sync")
        assert done.returncode == EX_TEMPFAIL, done.stdout + done.stderr
        assert "unknown_key" in done.stderr and "TIDAK ditolak" in done.stderr
        [record] = laptop_records(field)
        assert (record["state"], record["error_code"]) == (ClientState.READY,
                                                           RecordError.UNKNOWN_KEY)
        assert "Traceback" not in done.stderr
    assert table_counts(server) == before  # no record, no file, no upload


def test_the_cli_keeps_a_record_tampered_on_the_way_ready_and_sends_it_again(
    server: ServerProcess, field: FieldCLI, tmp_path: Path,
    tampering: tuple[TamperingProxy, str],
) -> None:
    proxy, url = tampering
    register(field, server, url)
    batch, payloads, _ = write_recordings(tmp_path / "capture", PEOPLE[:2], seed=6)
    import_batch(field, batch)
    before = table_counts(server)
    proxy.tamper = True
    done = field.run("sync")
    assert proxy.tampered == 2
    assert done.returncode == EX_TEMPFAIL, done.stdout + done.stderr
    assert "sealed_invalid" in done.stderr and "TIDAK ditolak" in done.stderr
    held = laptop_records(field)
    assert [(r["state"], r["error_code"]) for r in held] == [
        (ClientState.READY, RecordError.SEALED_INVALID)] * 2
    assert table_counts(server) == before
    # The link is sound again: the very same sealed copies go, and are stored once.
    proxy.tamper = False
    done = field.run("sync")
    assert done.returncode == 0, done.stdout + done.stderr
    synced = laptop_records(field)
    assert [(r["state"], r["error_code"]) for r in synced] == [("complete", None)] * 2
    assert [r["id"] for r in synced] == [r["id"] for r in held]
    uri = f"file:{server.instance / 'jemput.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        stored = conn.execute("SELECT nik FROM enrollment ORDER BY seq").fetchall()
        blobs = conn.execute("SELECT count(*) FROM blob").fetchone()[0]
    assert stored == [(body["nik"],) for body in payloads]
    assert blobs == 2 * len(BIOMETRIC_ROLES)


# -- (d) nothing readable under the laptop's home folder -------------------------------------


def leaks(haystack: bytes, payloads: list[dict[str, Any]], files: list[bytes]) -> list[str]:
    """:func:`readable` for the NIK, name and address of each payload."""
    texts = [str(body[name]) for body in payloads for name in ("nik", "nama", "alamat")]
    return readable(haystack, texts, files)


def test_after_a_real_sync_the_home_folder_holds_nothing_readable(
    server: ServerProcess, field: FieldCLI, tmp_path: Path
) -> None:
    register(field, server, server.url)
    batch, payloads, files = write_recordings(tmp_path / "capture", PEOPLE, seed=7)
    assert len(files) == len(PEOPLE) * 14
    import_batch(field, batch)
    assert leaks(home_bytes(field.home), payloads, files) == []  # saved: sealed at once
    done = field.run("sync")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r["state"] for r in laptop_records(field)] == ["complete"] * len(PEOPLE)
    # The sealed files stay on the laptop until purged: the scan covers them too.
    assert len(list(field.home.rglob("*.sealed"))) == len(files)
    assert leaks(home_bytes(field.home), payloads, files) == []
    # The scan finds what it looks for: the same needles in a clear copy are caught.
    clear = b"".join([json.dumps(payloads[0]).encode(), files[0][100:132]])
    assert len(leaks(clear, payloads[:1], files[:1])) >= 2
    # And the server, which holds the office key, got everything whole.
    uri = f"file:{server.instance / 'jemput.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        stored = conn.execute("SELECT nik, state FROM enrollment ORDER BY seq").fetchall()
    assert [nik for nik, _ in stored] == [body["nik"] for body in payloads]
