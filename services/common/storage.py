"""Content-addressed object storage: a local directory or any S3 server (minio client).

Objects are keyed by the SHA-256 of their bytes and always streamed: an upload
is first spooled to a temporary file while it is hashed, never held in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from services.common.errors import NotFound, PayloadTooLarge, SettingsError, StorageError

CHUNK = 1024 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int


@dataclass(frozen=True)
class SpooledUpload:
    path: Path
    sha256: str
    size: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def spool(stream: IO[bytes], directory: Path, limit: int) -> SpooledUpload:
    """Copy a stream to a temporary file while hashing it; refuse more than ``limit`` bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the file is larger than the limit of {limit} bytes")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return SpooledUpload(path=path, sha256=digest.hexdigest(), size=size)


def object_key(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound(f"{sha256!r} is not a SHA-256 object address")
    return f"sha256/{sha256[:2]}/{sha256}"


class ObjectStore(Protocol):
    def put(self, upload: SpooledUpload) -> StoredObject:
        """Store a spooled upload under its hash (a no-op when it is already there)."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def iter_bytes(self, sha256: str) -> Iterator[bytes]:
        """Stream an object's bytes; NotFound if it is absent."""
        ...

    def delete(self, sha256: str) -> None: ...

    def check(self) -> None:
        """Raise StorageError when the store cannot be reached."""
        ...


class LocalDirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        return self.root / object_key(sha256)

    def put(self, upload: SpooledUpload) -> StoredObject:
        target = self._path(upload.sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # A staging file of our own: two threads may store the same bytes at once.
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            staging = Path(name)
            try:
                with os.fdopen(fd, "wb") as out, upload.path.open("rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(staging, target)  # atomic: readers never see half an object
            finally:
                staging.unlink(missing_ok=True)
        return StoredObject(upload.sha256, upload.size)

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def iter_bytes(self, sha256: str) -> Iterator[bytes]:
        path = self._path(sha256)
        try:
            handle = path.open("rb")
        except FileNotFoundError as e:
            raise NotFound(f"object {sha256} is not stored") from e
        return _iter_file(handle)

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"object directory {self.root} is not writable")


def _iter_file(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


class S3Store:
    PART_SIZE = 16 * 1024 * 1024

    def __init__(
        self, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool = False
    ) -> None:
        from minio import Minio

        self.bucket = bucket
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure)

    def _error(self, action: str, e: Exception) -> StorageError:
        return StorageError(f"object storage failed to {action}: {e}")

    def ensure_bucket(self) -> None:
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
        except Exception as e:
            raise self._error(f"create bucket {self.bucket}", e) from e

    def put(self, upload: SpooledUpload) -> StoredObject:
        key = object_key(upload.sha256)
        # Below one part the bytes go straight up: rewriting an object under its own
        # hash changes nothing, and one request costs less than a look-up and a PUT.
        # A larger object is looked up first, to spare a long upload of what is there.
        if upload.size >= self.PART_SIZE and self.exists(upload.sha256):
            return StoredObject(upload.sha256, upload.size)
        try:
            with upload.path.open("rb") as f:
                self.client.put_object(
                    self.bucket,
                    key,
                    f,
                    length=upload.size,
                    part_size=self.PART_SIZE,
                    content_type="application/octet-stream",
                )
        except Exception as e:
            raise self._error(f"store {key}", e) from e
        return StoredObject(upload.sha256, upload.size)

    def exists(self, sha256: str) -> bool:
        from minio.error import S3Error

        try:
            self.client.stat_object(self.bucket, object_key(sha256))
            return True
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise self._error(f"look up {sha256}", e) from e
        except Exception as e:
            raise self._error(f"look up {sha256}", e) from e

    def iter_bytes(self, sha256: str) -> Iterator[bytes]:
        from minio.error import S3Error

        key = object_key(sha256)
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                raise NotFound(f"object {sha256} is not stored") from e
            raise self._error(f"read {key}", e) from e
        except Exception as e:
            raise self._error(f"read {key}", e) from e
        return self._stream(response)

    @staticmethod
    def _stream(response: object) -> Iterator[bytes]:
        try:
            yield from response.stream(CHUNK)  # type: ignore[attr-defined]
        finally:
            response.close()  # type: ignore[attr-defined]
            response.release_conn()  # type: ignore[attr-defined]

    def delete(self, sha256: str) -> None:
        try:
            self.client.remove_object(self.bucket, object_key(sha256))
        except Exception as e:
            raise self._error(f"delete {sha256}", e) from e

    def check(self) -> None:
        try:
            self.client.bucket_exists(self.bucket)
        except Exception as e:
            raise self._error("reach the server", e) from e


def open_store(url: str) -> LocalDirectoryStore | S3Store:
    """Pick the backend from ``file:///dir`` or ``s3[s]://ACCESS:SECRET@HOST:PORT/BUCKET``."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SettingsError(
                f"LIENTHONG_STORAGE_URL {url!r} names a host; use file:///absolute/dir"
            )
        return LocalDirectoryStore(Path(unquote(parts.path)))
    if parts.scheme in ("s3", "s3s", "s3+https"):
        bucket = parts.path.strip("/")
        if not (parts.username and parts.password and parts.hostname and bucket):
            raise SettingsError(
                "LIENTHONG_STORAGE_URL must look like s3://ACCESS:SECRET@HOST:PORT/BUCKET"
            )
        endpoint = parts.hostname + (f":{parts.port}" if parts.port else "")
        store = S3Store(
            endpoint,
            unquote(parts.username),
            unquote(parts.password),
            bucket,
            secure=parts.scheme != "s3",
        )
        try:
            store.ensure_bucket()
        except StorageError as e:
            # Start anyway: /healthz reports the store, and the bucket is made on the
            # next start. A connector that never touches S3 must not die with it.
            log.warning("object storage is not reachable at start: %s", e.detail)
        return store
    raise SettingsError(f"LIENTHONG_STORAGE_URL has an unsupported scheme: {parts.scheme!r}")
