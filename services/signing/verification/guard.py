"""Verification of untrusted files on the PDF worker pool, under every budget.

:class:`~.engine.Verifier` already stops *waiting* after its timeout, but a Python
thread cannot be killed, so a pathological file could keep one CPU busy. For documents
from outside (uploads, inter-agency exchange) use :class:`ProcessVerifier`: each
verification runs on a free worker of a :class:`~services.signing.pdfpool.PdfPool`
(started once and reused); a worker that overruns its time is killed and replaced,
and each has an address-space limit. A verification over a budget (time, memory,
revisions, objects) is ``indeterminate``, its reason naming the budget.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from services.common.contract import Verdict
from services.signing.errors import PdfOverBudget
from services.signing.pdfpool import PdfPool, PdfTaskFailed, WorkerStartError
from services.signing.pdfwork import config_key
from services.signing.settings import PdfLimits
from services.signing.verification.model import VerificationReport
from services.signing.verification.sources import PdfSource
from services.signing.verification.trust import CertSource, load_all

__all__ = ["ProcessVerifier", "WorkerStartError"]


class ProcessVerifier:
    """Same interface as :class:`~.engine.Verifier` ``.verify()``, run on a worker pool.

    Thread-safe: up to the pool's size verifications run at once. Give ``pool`` to
    share one (it is then not closed here); otherwise one of ``workers`` processes is
    made with ``memory_limit_mb`` each. Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        trust_roots: Iterable[CertSource] = (),
        *,
        other_certs: Iterable[CertSource] = (),
        timeout: float | None = None,
        memory_limit_mb: int | None = None,
        workers: int = 1,
        pool: PdfPool | None = None,
        max_revisions: int | None = None,
        max_objects: int | None = None,
        **verifier_options: Any,
    ) -> None:
        if pool is None:
            defaults = PdfLimits()
            pool = PdfPool(
                PdfLimits(
                    workers=workers,
                    timeout_seconds=timeout or 60.0,
                    memory_mb=memory_limit_mb or defaults.memory_mb,
                    queue_seconds=max(defaults.queue_seconds, timeout or 60.0),
                )
            )
            self._owns_pool = True
        else:
            self._owns_pool = False
        self.pool = pool
        limits = pool.limits
        self.timeout = timeout if timeout is not None else limits.timeout_seconds
        roots = load_all(trust_roots)
        self._config: dict[str, Any] = {
            "trust_roots": [c.dump() for c in roots],
            "other_certs": [c.dump() for c in load_all(other_certs)],
            "timeout": None,
            "max_revisions": limits.max_revisions if max_revisions is None else max_revisions,
            "max_objects": limits.max_objects if max_objects is None else max_objects,
            **verifier_options,
        }
        self._key = config_key(self._config)
        self._anchors = tuple(c.subject.human_friendly for c in roots)

    def __enter__(self) -> ProcessVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def restarts(self) -> int:
        """Workers killed (overrun or crashed) and replaced, over the pool's life."""
        return self.pool.restarts

    def verify(
        self,
        source: PdfSource,
        *,
        now: datetime | None = None,
        file_name: str | None = None,
        timeout: float | None = None,
    ) -> VerificationReport:
        limit = self.timeout if timeout is None else timeout
        if isinstance(source, os.PathLike):
            payload: str | bytes = os.fspath(source)
        elif isinstance(source, str):
            payload = source
        elif isinstance(source, (bytes, bytearray, memoryview)):
            payload = bytes(source)
        else:
            file_name = file_name or _name(source)
            payload = source.read()
        name = file_name or (Path(payload).name if isinstance(payload, str) else None)
        started = time.perf_counter()
        task = "services.signing.pdfwork:verify"
        try:
            report: VerificationReport = self.pool.run(
                task, self._key, self._config, payload, now, name, timeout=limit
            )
            return report
        except PdfOverBudget as e:
            reason = f"not verified: {e.detail}"
        except PdfTaskFailed as e:
            reason = f"internal error during verification: {e}"
        return VerificationReport(
            verdict=Verdict.INDETERMINATE,
            reasons=(reason,),
            file_name=name,
            verified_at=(now or datetime.now(UTC)).isoformat(),
            trust_anchors=self._anchors,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    def close(self) -> None:
        if self._owns_pool:
            self.pool.close()


def _name(source: IO[bytes]) -> str | None:
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else None
