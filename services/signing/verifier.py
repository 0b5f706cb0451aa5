"""The verifier the signing service serves: trusting our root (and the configured
ones), rebuilt when the trust anchors change; and what a B-LT signature embeds."""

from __future__ import annotations

import time
from typing import Protocol

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import ValidationContext

from services.signing.pdfpool import PdfPool
from services.signing.pki.service import PkiService
from services.signing.pki.trust import trust_stamp
from services.signing.settings import SigningSettings
from services.signing.verification.engine import Verifier
from services.signing.verification.guard import ProcessVerifier
from services.signing.verification.model import VerificationReport
from services.signing.verification.sources import PdfSource


class PdfVerifier(Protocol):
    """What the API and verify-on-arrival need of a verifier."""

    def verify(self, source: PdfSource, *, file_name: str | None = None) -> VerificationReport: ...


def long_term_validation(pki: PkiService) -> ValidationContext:
    """What a B-LT signature embeds: our chain and fresh CRLs, made in-process."""
    material = pki.material
    return ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(material.root_der)],
        other_certs=[asn1_x509.Certificate.load(material.issuing_der)],
        crls=[
            asn1_crl.CertificateList.load(pki.crl_der()),
            asn1_crl.CertificateList.load(pki.root_crl_der()),
        ],
        allow_fetching=False,
        revocation_mode="hard-fail",
    )


class LazyVerifier:
    """The verifier trusts our root, which exists only once `lienthong pki init` has run:
    it is built at the first verification, and again when the trust anchors change (our
    root, the files of ``LIENTHONG_TRUST_DIR``, those of ``LIENTHONG_TRUST_ROOTS``).

    Whether they changed is checked at most every ``recheck_seconds``, cheaply: the
    files' names, sizes and modification times; only when those moved are the anchors
    read again, and the verifier is rebuilt only if the set of anchors differs.

    ``pool``: verify on these PDF workers (untrusted files); without one, in this process
    (with the revision and object budgets only)."""

    #: How often (seconds) the anchor files are looked at for changes.
    recheck_seconds: float = 2.0

    def __init__(
        self, settings: SigningSettings, pki: PkiService, *, pool: PdfPool | None = None
    ) -> None:
        self.settings = settings
        self.pki = pki
        self.pool = pool
        self._verifier: Verifier | ProcessVerifier | None = None
        self._anchors: tuple[bytes, ...] = ()
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._checked = 0.0

    def _current(self) -> Verifier | ProcessVerifier:
        now = time.monotonic()
        if self._verifier is not None and now - self._checked < self.recheck_seconds:
            return self._verifier
        self._checked = now
        stamp = trust_stamp(self.settings)
        if self._verifier is not None and stamp == self._stamp:
            return self._verifier
        roots = self.pki.trust_roots()
        self._stamp = stamp
        anchors = tuple(sorted(r.public_bytes(serialization.Encoding.DER) for r in roots))
        if self._verifier is None or anchors != self._anchors:
            fetch = self.settings.verify_allow_fetching
            limits = self.settings.pdf
            self._verifier = (
                ProcessVerifier(
                    roots,
                    pool=self.pool,
                    allow_fetching=fetch,
                    algorithm_policy=self.settings.algorithm_policy,
                )
                if self.pool is not None
                else Verifier(
                    roots,
                    allow_fetching=fetch,
                    max_revisions=limits.max_revisions,
                    max_objects=limits.max_objects,
                    algorithm_policy=self.settings.algorithm_policy,
                )
            )
            self._anchors = anchors
        return self._verifier

    def verify(self, source: PdfSource, *, file_name: str | None = None) -> VerificationReport:
        return self._current().verify(source, file_name=file_name)

    def close(self) -> None:
        """The pool is closed by whoever made it (``create_app``)."""
