"""The folder blob store: layout, locking, durability helpers, refusals."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import pytest

from server.core.blobstore import BlobStore, PartialFile, blob_store, filesystem
from server.core.blobstore.filesystem import FilesystemBlobStore
from server.core.errors import StorageFull, UploadBusy
from tests.support.server_app import make_app

UPLOAD_ID = "u" * 32


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


def test_a_partial_grows_then_moves_in_under_its_hash(store: FilesystemBlobStore) -> None:
    typed: BlobStore = store  # the folder store is a BlobStore (checked by mypy)
    data = os.urandom(3 * 1024 * 1024 + 7)
    digest = hashlib.sha256(data).hexdigest()
    with typed.partial(UPLOAD_ID) as part:
        assert part.size == 0
        part.append(data[:1000])
        part.append(data[1000:])
        part.sync()
        assert part.size == len(data)
        assert part.read(10, 5) == data[10:15]
        assert part.read(len(data) - 2, 100) == data[-2:]
        assert part.sha256() == digest
        typed.promote(UPLOAD_ID, digest)
    target = store.root / "sha256" / digest[:2] / digest[2:4] / digest
    assert target.read_bytes() == data
    assert not store.partial_path(UPLOAD_ID).exists()
    assert typed.has_blob(digest)
    with typed.open_blob(digest) as stream:
        assert stream.read(4) == data[:4]
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.parent.stat().st_mode & 0o777 == 0o700


def test_promoting_a_copy_of_a_held_blob_is_harmless(store: FilesystemBlobStore) -> None:
    data = b"same bytes"
    digest = hashlib.sha256(data).hexdigest()
    for upload_id in ("a" * 20, "b" * 20):
        with store.partial(upload_id) as part:
            part.append(data)
            part.sync()
            store.promote(upload_id, digest)
    assert store.blob_path(digest).read_bytes() == data
    assert list(store.partial_ids()) == []


def test_one_writer_per_partial(store: FilesystemBlobStore) -> None:
    with store.partial(UPLOAD_ID), pytest.raises(UploadBusy), store.partial(UPLOAD_ID):
        pass  # pragma: no cover
    with store.partial(UPLOAD_ID), store.partial("v" * 32):
        pass  # other uploads are not held up
    with store.partial(UPLOAD_ID) as part:  # released when the first writer is done
        assert part.size == 0


def test_disk_full_leaves_nothing_half_written(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = filesystem._write_all

    def half_then_full(fd: int, data: bytes, offset: int) -> None:
        real(fd, data[: len(data) // 2], offset)
        raise OSError(errno.ENOSPC, "No space left on device")

    with store.partial(UPLOAD_ID) as part:
        part.append(b"kept")
        monkeypatch.setattr(filesystem, "_write_all", half_then_full)
        with pytest.raises(StorageFull):
            part.append(b"x" * 1000)
        assert part.size == 4
    assert store.partial_path(UPLOAD_ID).read_bytes() == b"kept"


def test_other_write_errors_are_not_storage_full(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int, data: bytes, offset: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(filesystem, "_write_all", broken)
    with store.partial(UPLOAD_ID) as part, pytest.raises(OSError) as caught:
        part.append(b"x")
    assert not isinstance(caught.value, StorageFull) and caught.value.errno == errno.EIO


def test_truncate_and_discard(store: FilesystemBlobStore) -> None:
    with store.partial(UPLOAD_ID) as part:
        part.append(b"0123456789")
        part.truncate(4)
        assert (part.size, part.read(0, 100)) == (4, b"0123")
        part.append(b"ab")
        assert part.read(0, 100) == b"0123ab"
    assert list(store.partial_ids()) == [UPLOAD_ID]
    assert store.discard(UPLOAD_ID) is True
    assert store.discard(UPLOAD_ID) is False
    assert list(store.partial_ids()) == []


def test_names_that_could_leave_the_folder_are_refused(store: FilesystemBlobStore) -> None:
    for bad_id in ("../../etc/passwd", "short", "a/b" * 10, ""):
        with pytest.raises(ValueError):
            store.partial_path(bad_id)
    for bad_hash in ("../" + "a" * 61, "A" * 64, "a" * 63):
        with pytest.raises(ValueError):
            store.blob_path(bad_hash)
    store.partial_dir.mkdir(parents=True)
    (store.partial_dir / "not an id").touch()
    assert list(store.partial_ids()) == []


def test_partial_protocol_is_met(store: FilesystemBlobStore) -> None:
    with store.partial(UPLOAD_ID) as part:
        typed: PartialFile = part
        assert typed.sha256() == hashlib.sha256(b"").hexdigest()


def test_the_app_store_lives_in_the_configured_folder(tmp_path: Path) -> None:
    default = make_app(tmp_path / "i1", f"sqlite:///{tmp_path / 'a.db'}")
    with default.app_context():
        assert blob_store().root == tmp_path / "i1" / "blobs"  # type: ignore[attr-defined]
    chosen = make_app(tmp_path / "i2", f"sqlite:///{tmp_path / 'b.db'}",
                      JEMPUT_BLOB_DIR=str(tmp_path / "elsewhere"))
    with chosen.app_context():
        assert blob_store().root == tmp_path / "elsewhere"  # type: ignore[attr-defined]


def test_a_lock_won_on_a_file_just_moved_away_is_not_kept(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another request held the partial, finished it (moved it into the store) and let go
    # between this request opening the file and locking it: the lock must not sit on the
    # finished blob, or this request would cut back and append to it.
    data = os.urandom(5000)
    digest = hashlib.sha256(data).hexdigest()
    with store.partial(UPLOAD_ID) as part:
        part.append(data)
        part.sync()
    real_flock, moved = filesystem.fcntl.flock, []

    def flock_after_promote(fd: int, operation: int) -> None:
        if not moved:
            store.promote(UPLOAD_ID, digest)
            moved.append(fd)
        real_flock(fd, operation)

    monkeypatch.setattr(filesystem.fcntl, "flock", flock_after_promote)
    with store.partial(UPLOAD_ID) as part:
        assert part.size == 0  # a fresh partial, not the blob
        part.append(b"other bytes")
    assert moved
    assert store.blob_path(digest).read_bytes() == data


def test_an_import_file_waits_in_its_folder_until_deleted(store: FilesystemBlobStore,
                                                          tmp_path: Path) -> None:
    source = tmp_path / "penduduk.csv"
    source.write_bytes(b"nik,nama\n" * 300_000)
    with source.open("rb") as reading:
        store.put_import("cd" * 16 + ".csv", reading)
    stored = store.root / "imports" / ("cd" * 16 + ".csv")
    assert stored.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600  # residents' data: owner only
    with store.open_import("cd" * 16 + ".csv") as body:
        assert body.read(9) == b"nik,nama\n"
    store.delete_import("cd" * 16 + ".csv")
    store.delete_import("cd" * 16 + ".csv")
    with pytest.raises(FileNotFoundError):
        store.open_import("cd" * 16 + ".csv")
    with pytest.raises(ValueError):
        store.open_import("../../etc/passwd")
