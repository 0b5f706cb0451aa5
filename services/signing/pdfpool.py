"""A pool of worker processes for all work on untrusted PDFs.

Each task runs on a free worker; at most ``size`` run at once, so one slow document
holds one worker and the others carry on. Every worker has an address-space limit
(``RLIMIT_AS``); a task that overruns its time is stopped by killing its worker, which
is replaced at the next task. A request that finds every worker busy waits up to
``queue_seconds``, then gets :class:`~.errors.PdfWorkersBusy` (503).

A task is a function named ``"module:function"``, imported in the worker; it returns
a picklable value or raises. Errors of the platform (``NotAPdf``, ``PdfOverBudget``)
are raised again in the caller; a worker that runs out of memory or dies answers
``PdfOverBudget("memory")``; a task that runs too long ``PdfOverBudget("time")``.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any

from services.common.errors import LienThongError
from services.signing.errors import PdfOverBudget, PdfWorkersBusy
from services.signing.settings import PdfLimits

STARTUP_TIMEOUT = 120.0


class WorkerStartError(RuntimeError):
    """A worker process could not be started."""


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _worker_main(conn: Connection, memory_mb: int, preload: tuple[str, ...]) -> None:
    import logging

    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.ERROR)
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    for module in preload:  # imported before the limit: start-up is not a document's cost
        importlib.import_module(module)
    _limit_memory(memory_mb)
    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        task, args = request
        fatal = False
        try:
            module, _, name = task.partition(":")
            answer: tuple[Any, ...] = ("ok", getattr(importlib.import_module(module), name)(*args))
        except MemoryError:
            fatal = True  # the heap may be in any state: answer, then make way for a fresh one
            answer = ("over", "memory", f"the work needed more than {memory_mb} MB")
        except PdfOverBudget as e:
            answer = ("over", e.budget, e.detail)
        except LienThongError as e:
            answer = ("error", e)
        except RecursionError:
            answer = ("over", "nesting", "the PDF is nested too deeply to read")
        except Exception as e:
            answer = ("failed", f"{type(e).__name__}: {e}")
        try:
            conn.send(answer)
        except Exception:
            return
        if fatal:
            return


@dataclass
class _Worker:
    process: SpawnProcess
    conn: Connection

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class PdfPool:
    """``size`` worker processes with the limits of :class:`PdfLimits`. Thread-safe."""

    PRELOAD = (
        "services.signing.pdfwork",
        "services.signing.verification.engine",
        "pdfminer.high_level",
    )

    def __init__(self, limits: PdfLimits, *, preload: tuple[str, ...] | None = None) -> None:
        self.limits = limits
        self.size = limits.workers
        self._preload = self.PRELOAD if preload is None else preload
        self._ctx = multiprocessing.get_context("spawn")
        self._cond = threading.Condition()
        self._free: list[_Worker] = []
        self._busy: set[int] = set()  # pids of workers running a task
        self._started = 0
        self._closed = False
        self.restarts = 0  # workers killed (overrun, crash) and to be replaced

    def __enter__(self) -> PdfPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def busy_pids(self) -> set[int]:
        with self._cond:
            return set(self._busy)

    @property
    def pids(self) -> set[int]:
        with self._cond:
            return {w.process.pid for w in self._free if w.process.pid} | set(self._busy)

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, self.limits.memory_mb, self._preload),
            name="pdf-worker",
            daemon=True,
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        try:
            ready = parent.poll(STARTUP_TIMEOUT) and parent.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            worker.kill()
            raise WorkerStartError(
                "a PDF worker did not start (with the 'spawn' start method the main "
                "module must be import-safe: guard it with if __name__ == '__main__')"
            )
        return worker

    def prestart(self, stop: threading.Event | None = None) -> None:
        """Start every worker now, one after the other: run in the background of a
        starting service, so that no document waits for a worker's Python to start
        (a second worker would otherwise start under the first two at a time)."""
        while stop is None or not stop.is_set():
            with self._cond:
                if self._closed or self._started >= self.size:
                    return
                self._started += 1
            worker = self._start_claimed()
            with self._cond:
                if not self._closed:
                    self._free.append(worker)
                    self._cond.notify()
                    continue
            worker.kill()
            return

    def _acquire(self, wait: float) -> _Worker:
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                if self._closed:
                    raise PdfWorkersBusy("the PDF workers are shutting down")
                while self._free:
                    worker = self._free.pop()
                    if worker.alive():
                        self._busy.add(worker.process.pid or 0)
                        return worker
                    worker.kill()
                    self._started -= 1
                if self._started < self.size:
                    self._started += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PdfWorkersBusy(
                        f"all {self.size} PDF workers stayed busy for {wait:g} s; try again"
                    )
                self._cond.wait(left)
        worker = self._start_claimed()
        with self._cond:
            self._busy.add(worker.process.pid or 0)
        return worker

    def _start_claimed(self) -> _Worker:
        """Start a worker for a slot already counted in ``_started``; give the slot back
        if it does not start."""
        try:
            return self._start()
        except BaseException:
            with self._cond:
                self._started -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(worker.process.pid or 0)
            if healthy and worker.alive() and not self._closed:
                self._free.append(worker)
                self._cond.notify()
                return
        worker.kill()
        with self._cond:
            self._started -= 1
            self.restarts += 1
            self._cond.notify()

    def run(self, task: str, *args: Any, timeout: float | None = None) -> Any:
        """Run ``task(*args)`` on a free worker within ``timeout`` seconds (the limits'
        by default) and return its value; see the module docstring for errors."""
        limit = self.limits.timeout_seconds if timeout is None else timeout
        try:
            worker = self._acquire(self.limits.queue_seconds)
        except WorkerStartError as e:
            raise PdfWorkersBusy(str(e)) from e
        healthy = False
        try:
            worker.conn.send((task, args))
            if not worker.conn.poll(limit):
                raise PdfOverBudget(
                    "time",
                    f"the work on the PDF did not finish within {limit:g} s and was stopped "
                    "(LIENTHONG_PDF_TIMEOUT_SECONDS)",
                )
            answer = worker.conn.recv()
            # a worker that ran out of memory exits after answering: it is not reused
            healthy = tuple(answer[:2]) != ("over", "memory")
        except (EOFError, OSError) as e:
            raise PdfOverBudget(
                "memory",
                f"the PDF worker died while reading the file ({type(e).__name__}; it may "
                f"have needed more than {self.limits.memory_mb} MB, LIENTHONG_PDF_MEMORY_MB)",
            ) from e
        finally:
            self._release(worker, healthy)
        tag = answer[0]
        if tag == "ok":
            return answer[1]
        if tag == "over":
            raise PdfOverBudget(answer[1], answer[2])
        if tag == "error":
            raise answer[1]
        raise PdfTaskFailed(answer[1])

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers, self._free = self._free, []
            self._cond.notify_all()
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
            worker.process.join(2)
            if worker.process.is_alive():
                worker.kill()
            worker.conn.close()


class PdfTaskFailed(RuntimeError):
    """A task raised an unexpected exception in its worker (its type and message)."""
