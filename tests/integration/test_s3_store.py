"""The S3 object store against a real SeaweedFS server."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from services.common.errors import NotFound, StorageError
from services.common.storage import S3Store, open_store, spool
from testkit.seaweed import SeaweedS3

pytestmark = pytest.mark.integration


def test_content_addressed_round_trip_streams_large_objects(
    seaweed: SeaweedS3, tmp_path: Path
) -> None:
    store = open_store(seaweed.url("lt-store-test"))
    assert isinstance(store, S3Store)
    data = os.urandom(20 * 1024 * 1024 + 123)  # above the multipart part size
    upload = spool(io.BytesIO(data), tmp_path, limit=len(data))
    assert upload.sha256 == hashlib.sha256(data).hexdigest()

    assert not store.exists(upload.sha256)
    stored = store.put(upload)
    assert (stored.sha256, stored.size) == (upload.sha256, len(data))
    assert store.exists(upload.sha256)
    chunks = list(store.iter_bytes(upload.sha256))
    assert len(chunks) > 1  # streamed, not one read
    assert b"".join(chunks) == data

    assert store.put(upload) == stored  # idempotent
    store.delete(upload.sha256)
    with pytest.raises(NotFound):
        list(store.iter_bytes(upload.sha256))


def test_unreachable_server_is_a_storage_error(tmp_path: Path) -> None:
    store = S3Store("127.0.0.1:9", "k", "s", "bucket")
    with pytest.raises(StorageError):
        store.check()
