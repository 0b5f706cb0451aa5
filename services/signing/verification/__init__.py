"""PDF signature verification that fails closed.

``verify_pdf(path, trust_roots=[...], allow_fetching=False)`` for one document,
``Verifier(trust_roots, ...)`` reused for many, ``ProcessVerifier`` when a hostile file
must not be able to keep a CPU busy, ``render_html(report)`` for people. The verdict
enumeration is shared with the other services: ``services.common.contract.Verdict``.
"""

from services.signing.verification.engine import Verifier, verify_pdf
from services.signing.verification.guard import ProcessVerifier
from services.signing.verification.htmlreport import render_html
from services.signing.verification.model import (
    EXIT_CODES,
    CertificateInfo,
    Coverage,
    FieldKind,
    RevocationInfo,
    SignatureReport,
    TimeSource,
    TimestampInfo,
    VerificationReport,
)
from services.signing.verification.trust import (
    CertificateLoadError,
    configured_trust_roots,
    load_all,
    load_certificates,
)

__all__ = [
    "EXIT_CODES",
    "CertificateInfo",
    "CertificateLoadError",
    "Coverage",
    "FieldKind",
    "ProcessVerifier",
    "RevocationInfo",
    "SignatureReport",
    "TimeSource",
    "TimestampInfo",
    "VerificationReport",
    "Verifier",
    "configured_trust_roots",
    "load_all",
    "load_certificates",
    "render_html",
    "verify_pdf",
]
