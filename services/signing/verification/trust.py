"""Trust anchors and extra certificates, normalised once to ``asn1crypto`` certificates.

The verifier works with :class:`asn1crypto.x509.Certificate` (pyHanko's native type).
For convenience every public entry point also accepts ``cryptography`` certificates,
DER or PEM bytes (a PEM bundle may hold several certificates) and paths to such files;
they are converted here, once, when a :class:`~.engine.Verifier` is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from asn1crypto import pem, x509
from cryptography import x509 as pyca_x509

if TYPE_CHECKING:
    from services.signing.settings import SigningSettings

#: A certificate as asn1crypto, cryptography, DER/PEM bytes or a path to such a file.
CertSource: TypeAlias = x509.Certificate | pyca_x509.Certificate | bytes | str | Path


class CertificateLoadError(ValueError):
    """A trust anchor or extra certificate could not be read."""


def load_certificates(source: CertSource) -> list[x509.Certificate]:
    """Read one source (see module docstring) into a list of certificates."""
    if isinstance(source, x509.Certificate):
        return [source]
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CertificateLoadError(f"cannot read certificate file {path}: {e}") from e
        try:
            return _from_bytes(data)
        except CertificateLoadError as e:
            raise CertificateLoadError(f"{path}: {e}") from e
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(source))
    public_bytes = getattr(source, "public_bytes", None)
    if callable(public_bytes):  # a cryptography.x509.Certificate
        from cryptography.hazmat.primitives.serialization import Encoding

        return [x509.Certificate.load(public_bytes(Encoding.DER))]
    raise CertificateLoadError(f"unsupported certificate type {type(source).__name__}")


def load_all(sources: Iterable[CertSource] | None) -> list[x509.Certificate]:
    """Every certificate of every source, duplicates (same SHA-256) removed."""
    seen: set[bytes] = set()
    out: list[x509.Certificate] = []
    for source in sources or ():
        for cert in load_certificates(source):
            if cert.sha256 not in seen:
                seen.add(cert.sha256)
                out.append(cert)
    return out


def _from_bytes(data: bytes) -> list[x509.Certificate]:
    try:
        if pem.detect(data):
            certs = [
                x509.Certificate.load(der)
                for kind, _headers, der in pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"
            ]
            if not certs:
                raise CertificateLoadError("no CERTIFICATE block in PEM data")
            for cert in certs:
                _ = cert.native  # force a full parse now, not during a verification
            return certs
        cert = x509.Certificate.load(data)
        _ = cert.native
        return [cert]
    except CertificateLoadError:
        raise
    except Exception as e:  # asn1crypto raises ValueError/TypeError on garbage
        raise CertificateLoadError(f"not a DER or PEM certificate ({e})") from e


def configured_trust_roots(settings: SigningSettings) -> list[x509.Certificate]:
    """The trust anchors of a running signing service: our internal root plus the
    operator's national roots (``services.signing.pki.trust.trust_roots``)."""
    from services.signing.pki.trust import trust_roots  # the PKI needs the settings loaded

    return load_all(trust_roots(settings))
