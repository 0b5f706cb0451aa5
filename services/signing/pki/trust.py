"""Trust anchors: our own root, the operator's trust store (``LIENTHONG_TRUST_DIR``) and
the roots named by ``LIENTHONG_TRUST_ROOTS`` (national CAs, foreign partners)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from services.common.errors import SettingsError
from services.signing.pki.storage import PkiPaths
from services.signing.settings import SigningSettings

log = logging.getLogger(__name__)

#: The files of the trust directory that are read as trust anchors.
TRUST_SUFFIXES = (".pem", ".crt", ".cer", ".der")

OWN_PKI = "own PKI"
TRUST_DIR = "trust dir"
TRUST_ROOTS = "LIENTHONG_TRUST_ROOTS"


@dataclass(frozen=True)
class Anchor:
    """One trust anchor and where it comes from."""

    source: str  # OWN_PKI | TRUST_DIR | TRUST_ROOTS
    path: Path
    cert: x509.Certificate

    @property
    def fingerprint(self) -> str:
        return self.cert.fingerprint(hashes.SHA256()).hex()


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, or the one certificate of a DER file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SettingsError(f"trust root {path} cannot be read: {e}") from e
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise SettingsError(f"trust root {path} holds no readable certificate: {e}") from e


def trust_dir_files(trust_dir: Path) -> list[Path]:
    """The anchor files of the trust directory, sorted by name (none if it does not exist)."""
    try:
        entries = list(os.scandir(trust_dir))
    except FileNotFoundError:
        return []
    except OSError as e:
        log.warning("trust directory %s cannot be listed: %s", trust_dir, e)
        return []
    return sorted(
        Path(e.path)
        for e in entries
        if e.name.lower().endswith(TRUST_SUFFIXES) and not e.name.startswith(".") and e.is_file()
    )


def trust_stamp(settings: SigningSettings) -> tuple[tuple[str, int, int], ...]:
    """A cheap summary of every anchor file (name, size, mtime): when it is unchanged, the
    anchors are too. Costs one directory listing and a few ``stat`` calls."""
    paths = [PkiPaths(settings.pki_dir).cert("root"), *settings.trust_roots]
    paths += trust_dir_files(settings.trust_dir)
    stamp: list[tuple[str, int, int]] = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            stamp.append((str(path), -1, -1))
            continue
        stamp.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(stamp)


def anchors(settings: SigningSettings) -> list[Anchor]:
    """Our root (when the PKI exists) first, then the trust directory, then
    ``settings.trust_roots``; a certificate found twice is listed once, under its first
    source. A file of the trust directory that cannot be read is skipped with a warning
    (one bad file must not stop every verification); a bad ``LIENTHONG_TRUST_ROOTS`` file
    is an error, as it is at start."""
    sources: list[tuple[str, Path]] = []
    own = PkiPaths(settings.pki_dir).cert("root")
    if own.exists():
        sources.append((OWN_PKI, own))
    sources += [(TRUST_DIR, p) for p in trust_dir_files(settings.trust_dir)]
    sources += [(TRUST_ROOTS, p) for p in settings.trust_roots]
    found: list[Anchor] = []
    seen: set[bytes] = set()
    for source, path in sources:
        try:
            certs = load_certificates(path)
        except SettingsError as e:
            if source != TRUST_DIR:
                raise
            log.warning("trust directory file skipped: %s", e)
            continue
        for cert in certs:
            digest = cert.fingerprint(hashes.SHA256())
            if digest not in seen:
                seen.add(digest)
                found.append(Anchor(source, path, cert))
    return found


def trust_roots(settings: SigningSettings) -> list[x509.Certificate]:
    """Every trust anchor (see :func:`anchors`), our root first."""
    return [a.cert for a in anchors(settings)]
