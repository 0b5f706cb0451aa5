"""The PKI directory on disk: where each file lives (the layout is described in
:mod:`.ca`), private files written atomically with mode 0600, PEM encodings, and the
lock that serialises init and renewal between processes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from services.signing.pki.certificates import PkiKey


@dataclass(frozen=True)
class PkiPaths:
    root_dir: Path

    def cert(self, role: str) -> Path:
        return self.root_dir / f"{role}.pem"

    def key(self, role: str) -> Path:
        return self.root_dir / f"{role}-key.pem"

    @property
    def chain(self) -> Path:
        return self.root_dir / "chain.pem"

    @property
    def keys_dir(self) -> Path:
        return self.root_dir / "keys"

    @property
    def lock(self) -> Path:
        return self.root_dir / ".lock"

    def all_files(self) -> list[Path]:
        return [p for role in ROLES for p in (self.cert(role), self.key(role))]


ROLES = ("root", "issuing", "tsa", "ocsp")


def _private_file(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_private_file(path: Path, data: bytes) -> None:
    _private_file(path, data)


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: PkiKey, passphrase: bytes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


@contextlib.contextmanager
def _locked(paths: PkiPaths) -> Iterator[None]:
    """Serialize init and renewal between processes sharing one PKI directory."""
    paths.root_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths.root_dir.chmod(0o700)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
