"""Trust anchors: our own root plus the roots an operator configured (national CAs)."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from services.common.errors import SettingsError
from services.signing.pki.storage import PkiPaths
from services.signing.settings import SigningSettings


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


def trust_roots(settings: SigningSettings) -> list[x509.Certificate]:
    """Our root (when the PKI exists) first, then ``settings.trust_roots``, without duplicates."""
    found: list[x509.Certificate] = []
    own = PkiPaths(settings.pki_dir).cert("root")
    sources = ([own] if own.exists() else []) + list(settings.trust_roots)
    seen: set[bytes] = set()
    for path in sources:
        for cert in load_certificates(path):
            digest = cert.fingerprint(hashes.SHA256())
            if digest not in seen:
                seen.add(digest)
                found.append(cert)
    return found
