"""The verifier the signing service serves: trusting our root (and the configured
ones), rebuilt when the trust anchors change; and what a B-LT signature embeds."""

from __future__ import annotations

import threading
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


class LongTermValidation:
    """The B-LT validation context, kept while nothing it holds changes.

    A context remembers the chains it validated and the CRLs it checked: a new one per
    signature would build and check them all again. It is kept per thread (pyHanko
    runs each signature in an event loop of its own) and replaced as soon as the CRLs
    or the CA change (a revocation publishes a new CRL), and after ``max_age_seconds``
    in any case, since a context validates at the moment it was made."""

    def __init__(self, pki: PkiService, max_age_seconds: float = 30.0) -> None:
        self.pki = pki
        self.max_age_seconds = max_age_seconds
        self._local = threading.local()

    def __call__(self) -> ValidationContext:
        material = self.pki.material
        key = (material.root_der, material.issuing_der, self.pki.crl_der(), self.pki.root_crl_der())
        held: tuple[tuple[bytes, ...], float, ValidationContext] | None = getattr(
            self._local, "held", None
        )
        now = time.monotonic()
        if held is not None and held[0] == key and now - held[1] < self.max_age_seconds:
            return held[2]
        context = long_term_validation(self.pki)
        self._local.held = (key, now, context)
        return context


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
