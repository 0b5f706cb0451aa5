"""services/common/storage.py: spooling and the local-directory store.

The S3 store is covered by the integration tests against a real S3 server.
"""

from __future__ import annotations

import hashlib
import io
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common import storage
from services.common.errors import NotFound, PayloadTooLarge, SettingsError
from services.common.storage import (
    CHUNK,
    LocalDirectoryStore,
    SpooledUpload,
    StoredObject,
    object_key,
    open_store,
    spool,
)


def _bytes(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


class TrickleStream(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read, like a slow socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        n = self._step if size < 0 else min(size, self._step)
        chunk, self._data = bytes(self._data[:n]), self._data[n:]
        return chunk


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


@pytest.fixture
def store(tmp_path: Path) -> LocalDirectoryStore:
    return LocalDirectoryStore(tmp_path / "objects")


def _spooled(tmp_path: Path, data: bytes) -> SpooledUpload:
    return spool(io.BytesIO(data), tmp_path / "spool", limit=len(data) + 1)


# --- spool -----------------------------------------------------------------


def test_spool_hashes_and_copies(tmp_path: Path) -> None:
    data = _bytes(3 * CHUNK + 17)
    upload = spool(io.BytesIO(data), tmp_path / "spool", limit=10 * CHUNK)

    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.size == len(data)
    assert upload.path.parent == tmp_path / "spool"
    assert upload.path.read_bytes() == data


def test_spool_of_a_stream_that_trickles(tmp_path: Path) -> None:
    data = _bytes(100_000)
    stream = TrickleStream(data, step=4096)
    upload = spool(stream, tmp_path / "spool", limit=len(data))  # type: ignore[arg-type]
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.size == len(data)
    assert stream.reads > 1


def test_spool_of_nothing(tmp_path: Path) -> None:
    upload = spool(io.BytesIO(b""), tmp_path / "spool", limit=1024)
    assert upload.size == 0
    assert upload.sha256 == hashlib.sha256(b"").hexdigest()


def test_spool_accepts_exactly_the_limit(tmp_path: Path) -> None:
    data = _bytes(5000)
    upload = spool(io.BytesIO(data), tmp_path / "spool", limit=5000)
    assert upload.size == 5000


@pytest.mark.parametrize(("size", "limit"), [(5001, 5000), (3 * CHUNK, 2 * CHUNK + 1), (2, 1)])
def test_spool_refuses_more_than_the_limit_and_leaves_nothing(
    tmp_path: Path, size: int, limit: int
) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        spool(io.BytesIO(_bytes(size)), tmp_path / "spool", limit=limit)
    assert caught.value.status == 413
    assert str(limit) in caught.value.detail
    assert _files(tmp_path / "spool") == []


def test_spool_removes_its_file_when_the_stream_breaks(tmp_path: Path) -> None:
    class Broken(io.RawIOBase):
        calls = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise ConnectionResetError("client went away")
            return b"x" * 1000

    with pytest.raises(ConnectionResetError):
        spool(Broken(), tmp_path / "spool", limit=10**6)  # type: ignore[arg-type]
    assert _files(tmp_path / "spool") == []


def test_discard_removes_the_spooled_file(tmp_path: Path) -> None:
    upload = _spooled(tmp_path, b"%PDF-1.7 something")
    upload.discard()
    assert not upload.path.exists()
    upload.discard()  # twice is harmless


# --- object addresses ---------------------------------------------------------


def test_object_key_is_sharded_by_the_hash_prefix() -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    assert object_key(sha) == f"sha256/{sha[:2]}/{sha}"


MALFORMED = [
    "",
    "abc",
    "0" * 63,
    "0" * 65,
    hashlib.sha256(b"x").hexdigest().upper(),
    "g" * 64,
    "../" * 21 + "a",
    "/" + "0" * 63,
]


@pytest.mark.parametrize("address", MALFORMED)
def test_malformed_addresses_are_not_found(store: LocalDirectoryStore, address: str) -> None:
    with pytest.raises(NotFound):
        object_key(address)
    with pytest.raises(NotFound):
        store.iter_bytes(address)


# --- LocalDirectoryStore ------------------------------------------------------


def test_put_is_content_addressed(store: LocalDirectoryStore, tmp_path: Path) -> None:
    data = b"%PDF-1.4 a small document"
    upload = _spooled(tmp_path, data)
    stored = store.put(upload)

    sha = hashlib.sha256(data).hexdigest()
    assert stored == StoredObject(sha, len(data))
    target = store.root / "sha256" / sha[:2] / sha
    assert target.read_bytes() == data
    assert store.exists(sha)
    assert upload.path.exists()  # put copies; discarding the spool is the caller's job
    assert [p.name for p in _files(store.root)] == [sha]  # no staging files left behind


def test_put_twice_is_a_no_op(store: LocalDirectoryStore, tmp_path: Path) -> None:
    data = _bytes(50_000)
    first = store.put(_spooled(tmp_path, data))
    target = store.root / object_key(first.sha256)
    inode = target.stat().st_ino

    second = store.put(_spooled(tmp_path, data))

    assert second == first
    assert target.stat().st_ino == inode  # not rewritten
    assert len(_files(store.root)) == 1


def test_different_bytes_get_different_addresses(
    store: LocalDirectoryStore, tmp_path: Path
) -> None:
    a = store.put(_spooled(tmp_path, b"one"))
    b = store.put(_spooled(tmp_path, b"two"))
    assert a.sha256 != b.sha256
    assert b"".join(store.iter_bytes(a.sha256)) == b"one"
    assert b"".join(store.iter_bytes(b.sha256)) == b"two"


def test_iter_bytes_streams_a_multi_megabyte_object(
    store: LocalDirectoryStore, tmp_path: Path
) -> None:
    data = _bytes(5 * CHUNK + 123, seed=11)
    stored = store.put(_spooled(tmp_path, data))

    chunks = list(store.iter_bytes(stored.sha256))

    assert b"".join(chunks) == data
    assert len(chunks) > 1  # streamed, not read whole
    assert all(len(c) <= CHUNK for c in chunks)


def test_iter_bytes_of_an_absent_object_is_not_found(store: LocalDirectoryStore) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(absent)
    with pytest.raises(NotFound) as caught:
        store.iter_bytes(absent)
    assert caught.value.status == 404


def test_delete(store: LocalDirectoryStore, tmp_path: Path) -> None:
    stored = store.put(_spooled(tmp_path, b"to be deleted"))
    store.delete(stored.sha256)
    assert not store.exists(stored.sha256)
    with pytest.raises(NotFound):
        store.iter_bytes(stored.sha256)
    store.delete(stored.sha256)  # deleting an absent object is harmless


def test_check_passes_on_a_writable_directory(store: LocalDirectoryStore) -> None:
    store.check()


def test_a_concurrent_put_of_the_same_bytes_succeeds(
    store: LocalDirectoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests storing the same bytes at once (two HTTP threads of one process).

    If both threads shared one staging file, the second one's copy and rename
    would pull the file from under the first. ``put`` promises a no-op when the
    object is already there, and readers must never see half an object.
    """
    data = _bytes(200_000)
    first, second = _spooled(tmp_path, data), _spooled(tmp_path, data)
    real_copy = shutil.copyfileobj
    interleaved: list[StoredObject] = []
    calls = 0

    def copy_then_let_the_other_thread_run(src: Any, dst: Any, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        result = real_copy(src, dst, *args)
        if calls == 1:
            interleaved.append(store.put(second))  # the other thread runs here
        return result

    monkeypatch.setattr(shutil, "copyfileobj", copy_then_let_the_other_thread_run)

    stored = store.put(first)

    assert stored == StoredObject(first.sha256, len(data))
    assert interleaved == [stored]
    assert b"".join(store.iter_bytes(stored.sha256)) == data
    assert len(_files(store.root)) == 1


# --- open_store -----------------------------------------------------------------


def test_open_store_picks_the_local_directory(tmp_path: Path) -> None:
    root = tmp_path / "obj ects é"  # spaces and non-ASCII survive the URL
    opened = open_store(root.as_uri())
    assert isinstance(opened, LocalDirectoryStore)
    assert opened.root == root
    assert root.is_dir()


def test_open_store_round_trip_through_the_local_directory(tmp_path: Path) -> None:
    opened = open_store((tmp_path / "objects").as_uri())
    stored = opened.put(_spooled(tmp_path, b"hello"))
    again = open_store((tmp_path / "objects").as_uri())
    assert b"".join(again.iter_bytes(stored.sha256)) == b"hello"


@pytest.mark.parametrize(
    "url",
    [
        "http://minio:9000/bucket",
        "ftp://files/objects",
        "",
        "/var/lib/objects",
        "s3://minio:9000/bucket",  # no access key or secret
        "s3://key@minio:9000/bucket",  # no secret
        "s3://key:secret@minio:9000",  # no bucket
        "s3://key:secret@minio:9000/",  # no bucket
    ],
)
def test_open_store_rejects_bad_urls(url: str) -> None:
    with pytest.raises(SettingsError, match="LIENTHONG_STORAGE_URL"):
        open_store(url)


def test_protocol_is_satisfied_by_the_local_store(store: LocalDirectoryStore) -> None:
    def use(s: storage.ObjectStore) -> Iterator[bytes]:
        return s.iter_bytes(hashlib.sha256(b"").hexdigest())

    with pytest.raises(NotFound):
        use(store)
