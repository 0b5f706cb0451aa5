"""A hard time limit: verification in a worker process that is killed when it hangs.

:class:`~.engine.Verifier` already stops *waiting* after its timeout, but a Python
thread cannot be killed, so a pathological file could keep one CPU busy. For documents
from outside (uploads, inter-agency exchange) use :class:`ProcessVerifier`: the worker
process is started once and reused (no per-call start-up cost); on a timeout or a crash
it is killed and a fresh one is started for the next call. An optional address-space
limit (``memory_limit_mb``) caps what one document can allocate.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import IO, Any

from services.common.contract import Verdict
from services.signing.verification.model import VerificationReport
from services.signing.verification.sources import PdfSource
from services.signing.verification.trust import CertSource, load_all

STARTUP_TIMEOUT = 120.0


class WorkerStartError(RuntimeError):
    """The worker process could not be started."""


def _worker_main(conn: Connection, config: dict[str, Any], memory_limit_mb: int | None) -> None:
    if memory_limit_mb:
        try:
            import resource

            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    import logging

    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.ERROR)
    from services.signing.verification.engine import Verifier

    verifier = Verifier(**config)
    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        source, now, name = request
        try:
            report = verifier.verify(source, now=now, file_name=name, timeout=None)
        except BaseException as e:  # MemoryError included: answer, then die cleanly
            report = VerificationReport(
                verdict=Verdict.INDETERMINATE,
                reasons=(f"internal error during verification: {type(e).__name__}",),
                file_name=name,
            )
        try:
            conn.send(report)
        except (OSError, ValueError):
            return


class ProcessVerifier:
    """Same interface as :class:`~.engine.Verifier` ``.verify()``, run in a worker process.

    Thread-safe: calls are serialised on one worker. Use as a context manager or call
    :meth:`close`.
    """

    def __init__(
        self,
        trust_roots: Iterable[CertSource] = (),
        *,
        other_certs: Iterable[CertSource] = (),
        timeout: float = 60.0,
        memory_limit_mb: int | None = None,
        **verifier_options: Any,
    ) -> None:
        self.timeout = timeout
        self._config: dict[str, Any] = {
            "trust_roots": [c.dump() for c in load_all(trust_roots)],
            "other_certs": [c.dump() for c in load_all(other_certs)],
            "timeout": None,
            **verifier_options,
        }
        self._memory_limit_mb = memory_limit_mb
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process: SpawnProcess | None = None
        self._conn: Connection | None = None
        self._anchors = tuple(c.subject.human_friendly for c in load_all(trust_roots))
        self.restarts = 0

    def __enter__(self) -> ProcessVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, self._config, self._memory_limit_mb),
            name="pdf-verify-worker",
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        # start-up (importing pyHanko) is not charged to the first document's time limit
        try:
            ready = parent.poll(STARTUP_TIMEOUT) and parent.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._kill()
            raise WorkerStartError(
                "the verification worker did not start (with the 'spawn' start method the "
                "main module must be import-safe: guard it with if __name__ == '__main__')"
            )

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None
        self.restarts += 1

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
        with self._lock:
            if self._process is None or not self._process.is_alive():
                if self._process is not None:
                    self._kill()
                try:
                    self._start()
                except WorkerStartError as e:
                    return VerificationReport(
                        verdict=Verdict.INDETERMINATE,
                        reasons=(str(e),),
                        file_name=name,
                        verified_at=(now or datetime.now(UTC)).isoformat(),
                        trust_anchors=self._anchors,
                    )
            assert self._conn is not None
            try:
                self._conn.send((payload, now, name))
                if self._conn.poll(limit):
                    report: VerificationReport = self._conn.recv()
                    return report
                reason = f"the analysis did not finish within {limit:g} s and was stopped"
            except (EOFError, OSError, BrokenPipeError) as e:
                reason = f"the verification worker died ({type(e).__name__})"
            self._kill()
        return VerificationReport(
            verdict=Verdict.UNREADABLE,
            reasons=(reason,),
            file_name=name,
            verified_at=(now or datetime.now(UTC)).isoformat(),
            trust_anchors=self._anchors,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._conn.send(None)
            if self._process is not None:
                self._process.join(2)
                if self._process.is_alive():
                    self._process.kill()
                    self._process.join(2)
            if self._conn is not None:
                self._conn.close()
            self._process, self._conn = None, None


def _name(source: IO[bytes]) -> str | None:
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else None
