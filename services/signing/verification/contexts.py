"""The verifier's trust configuration and what it builds per document from it: pyHanko
validation contexts, and the revocation summary of a chain.

One :class:`Contexts` is built by :class:`~.engine.Verifier` and shared (read-only) by
the checkers of :mod:`.fields`, :mod:`.timestamps`, :mod:`.signatures` and
:mod:`.document`; the per-document state (:class:`~.state._Doc`) is passed to each call.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable
from datetime import datetime

from asn1crypto import x509
from pyhanko.sign.diff_analysis import DiffPolicy
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.registry import CertificateRegistry, SimpleTrustManager

from services.signing.algorithm_policy import AlgorithmPolicy
from services.signing.verification import revocation
from services.signing.verification.changes import benign_diff_policy
from services.signing.verification.model import RevocationInfo
from services.signing.verification.state import _Doc
from services.signing.verification.trust import CertSource, load_all

REVOCATION_MODES = ("soft-fail", "hard-fail", "require")


class Contexts:
    """Trust configuration, parsed once; validation contexts built per document.

    See :class:`~.engine.Verifier` for the meaning of the parameters.
    """

    def __init__(
        self,
        trust_roots: Iterable[CertSource] = (),
        *,
        other_certs: Iterable[CertSource] = (),
        allow_fetching: bool = False,
        revocation_mode: str = "soft-fail",
        trust_claimed_signing_time: bool = True,
        fetch_timeout: float = 10.0,
        diff_policy: DiffPolicy | None = None,
        algorithm_policy: AlgorithmPolicy | None = None,
    ) -> None:
        if revocation_mode not in REVOCATION_MODES:
            raise ValueError(f"unknown revocation mode {revocation_mode!r}")
        self.trust_roots: tuple[x509.Certificate, ...] = tuple(load_all(trust_roots))
        self.other_certs: tuple[x509.Certificate, ...] = tuple(load_all(other_certs))
        self.allow_fetching = allow_fetching
        self.revocation_mode = revocation_mode
        self.trust_claimed_signing_time = trust_claimed_signing_time
        self.diff_policy: DiffPolicy = diff_policy or benign_diff_policy()
        self.algorithm_policy = algorithm_policy or AlgorithmPolicy()
        self.key_usage = KeyUsageConstraints(
            key_usage={"non_repudiation", "digital_signature"}, match_all_key_usages=False
        )
        self.anchor_names = tuple(c.subject.human_friendly for c in self.trust_roots)
        self._trust_manager = SimpleTrustManager.build(trust_roots=list(self.trust_roots))
        self._fetcher_backend: FetcherBackend | None = None
        if allow_fetching:
            from pyhanko_certvalidator.fetchers.api import FetchLimits
            from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

            self._fetcher_backend = RequestsFetcherBackend(
                per_request_timeout=fetch_timeout,
                limits=FetchLimits(max_requests=50, max_cert_requests=10),
            )

    def validation_context(
        self,
        doc: _Doc,
        moment: datetime | None,
        *,
        revinfo: bool = True,
        proven: datetime | None = None,
    ) -> ValidationContext:
        """A validation context at ``moment`` (``None``: the live clock). Algorithms are
        judged at ``proven``, a time proven by a trusted time-stamp, or else at the
        verification time (see :mod:`.algorithms`)."""
        registry = CertificateRegistry.build(itertools.chain(self.other_certs, doc.pool.certs))
        return ValidationContext(
            trust_manager=self._trust_manager,
            certificate_registry=registry,
            crls=[c for c, _ in doc.pool.crls] if revinfo else [],
            ocsps=[o for o, _ in doc.pool.ocsps] if revinfo else [],
            moment=moment,
            best_signature_time=moment,
            allow_fetching=self.allow_fetching,
            fetcher_backend=self._fetcher_backend,
            revocation_mode=self.revocation_mode,
            retroactive_revinfo=True,
            algorithm_usage_policy=self.algorithm_policy.at(proven or doc.now),
        )

    def absorb(self, doc: _Doc, vc: ValidationContext) -> None:
        """Keep what a validation context fetched for the next checks of the document."""
        if not self.allow_fetching:
            return
        with contextlib.suppress(Exception):
            doc.pool.absorb_fetched(list(vc.crls), list(vc.ocsps))

    def revocation(self, doc: _Doc, chain: list[x509.Certificate]) -> tuple[RevocationInfo, ...]:
        out: list[RevocationInfo] = []
        for i, cert in enumerate(chain):
            if (i == len(chain) - 1 and len(chain) > 1) or (
                len(chain) == 1 and cert.self_signed != "no"
            ):
                out.append(
                    RevocationInfo(
                        subject=cert.subject.human_friendly,
                        serial=format(cert.serial_number, "x"),
                        status="not_checked",
                        reason="trust anchor",
                    )
                )
                continue
            try:
                out.append(revocation.status_for(cert, doc.pool))
            except Exception:
                out.append(
                    RevocationInfo(
                        subject=cert.subject.human_friendly,
                        serial=format(cert.serial_number, "x"),
                        status="unknown",
                    )
                )
        return tuple(out)
