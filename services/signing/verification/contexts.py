"""The verifier's configuration and what it builds per document from it: pyHanko
validation contexts, proofs of existence, the revocation summary of a chain.

The first layer of :class:`~.engine.Verifier`, whose ``__init__`` sets the attributes
declared here. The layers above: :mod:`.fields`, :mod:`.timestamps`,
:mod:`.signatures`, :mod:`.document`.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import datetime
from typing import Any

from asn1crypto import x509
from pyhanko.sign.diff_analysis import DiffPolicy
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import CertificateRegistry, SimpleTrustManager

from services.signing.verification import revocation
from services.signing.verification.model import RevocationInfo
from services.signing.verification.state import _Doc


class VerifierContexts:
    """Configuration (set by :meth:`.engine.Verifier.__init__`) and validation contexts."""

    trust_roots: tuple[x509.Certificate, ...]
    other_certs: tuple[x509.Certificate, ...]
    allow_fetching: bool
    revocation_mode: str
    trust_claimed_signing_time: bool
    timeout: float | None
    _trust_manager: SimpleTrustManager
    _diff_policy: DiffPolicy
    _key_usage: KeyUsageConstraints
    _fetcher_backend: Any
    _anchor_names: tuple[str, ...]

    def _context(
        self, doc: _Doc, moment: datetime | None, *, revinfo: bool = True
    ) -> ValidationContext:
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
        )

    def _now_moment(self, doc: _Doc) -> datetime | None:
        return doc.now if doc.explicit_now else None

    def _absorb(self, doc: _Doc, vc: ValidationContext) -> None:
        if not self.allow_fetching:
            return
        with contextlib.suppress(Exception):
            doc.pool.absorb_fetched(list(vc.crls), list(vc.ocsps))

    def _covering_poe(self, doc: _Doc, revision: int) -> datetime | None:
        times = [t for rev, t in doc.poe if rev > revision]
        return min(times) if times else None

    def _revocation(self, doc: _Doc, chain: list[x509.Certificate]) -> tuple[RevocationInfo, ...]:
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
