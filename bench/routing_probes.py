"""Looking into the stack while the routing figures are measured: ingest's and
routing's databases, the queues and outboxes, the senders, CPU and row locks."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psutil
import requests
import sqlalchemy as sa

from bench.environment import BenchStack
from bench.routing_results import CpuShare
from testkit.faults import queue_depths, tiny_pdf
from testkit.stack import metadata_to

# --- the stack's side ----------------------------------------------------------------


class Ingest:
    """SQL on ingest's database: when documents were accepted and deliveries arrived."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, pool_size=2)

    def arrivals(self, ids: list[str]) -> list[tuple[str, datetime, datetime | None]]:
        """(document, received_at, arrived_at) for every delivery of these documents."""
        query = sa.text(
            "SELECT d.document, doc.received_at, d.arrived_at FROM deliveries d "
            "JOIN documents doc ON doc.id = d.document WHERE d.document IN :ids"
        ).bindparams(sa.bindparam("ids", expanding=True))
        out: list[tuple[str, datetime, datetime | None]] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(ids, 1000):
                out.extend((r[0], r[1], r[2]) for r in conn.execute(query, {"ids": chunk}))
        return out

    def arrived(self, ids: list[str]) -> int:
        return sum(1 for _d, _r, at in self.arrivals(ids) if at is not None)

    def verified(self, ids: list[str]) -> int:
        query = sa.text(
            "SELECT count(*) FROM documents WHERE verdict IS NOT NULL AND id IN :ids"
        ).bindparams(sa.bindparam("ids", expanding=True))
        with self.engine.connect() as conn:
            return sum(int(conn.execute(query, {"ids": c}).scalar() or 0) for c in _chunks(ids))

    def dispose(self) -> None:
        self.engine.dispose()


def first_routed(routing_url: str, ids: list[str]) -> datetime | None:
    """When routing made the first exchange of these documents (routing's clock, the
    same machine's as ingest's)."""
    engine = sa.create_engine(routing_url, pool_size=1)
    query = sa.text("SELECT min(created_at) FROM exchanges WHERE document IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)
    )
    try:
        with engine.connect() as conn:
            firsts = [conn.execute(query, {"ids": c}).scalar() for c in _chunks(ids)]
    finally:
        engine.dispose()
    return min((f for f in firsts if f is not None), default=None)


def _chunks(items: list[str], size: int = 1000) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def wait_until(predicate: Any, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def _unpublished(bench: BenchStack) -> int:
    total = 0
    for service in ("ingest", "routing", "signing"):
        engine = sa.create_engine(bench.env[f"LIENTHONG_{service.upper()}_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                total += int(
                    conn.execute(
                        sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    ).scalar()
                    or 0
                )
        finally:
            engine.dispose()
    return total


def idle(bench: BenchStack, waiting: tuple[str, ...] = ()) -> bool:
    """No message in any queue (but lt.dead and ``waiting``) and no unpublished outbox row:
    everything the last scenario caused (statuses, verdicts) is done."""
    vhost = bench.env["LIENTHONG_BROKER_URL"].rsplit("/", 1)[1]
    skip = {"lt.dead", *waiting}
    busy = any(n for q, n in queue_depths(vhost).items() if q not in skip)
    return not busy and _unpublished(bench) == 0


def quiesce(bench: BenchStack, timeout: float = 300.0) -> float:
    """Wait until the stack is idle; the seconds it took."""
    began = time.monotonic()
    wait_until(lambda: idle(bench), timeout, 1.0)
    return time.monotonic() - began


class Sender:
    """Distinct small PDFs from one sender, each POST on the calling thread's session."""

    def __init__(self, bench: BenchStack) -> None:
        self.url = bench.stack.url("ingest") + "/v1/documents"
        self.key = bench.keys[bench.sender]
        self.numbers = itertools.count(1_000_000)
        self.lock = threading.Lock()
        self.local = threading.local()

    def session(self) -> requests.Session:
        http: requests.Session | None = getattr(self.local, "http", None)
        if http is None:
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {self.key}"
            self.local.http = http
        return http

    def post(self, recipients: tuple[str, ...]) -> tuple[str | None, str]:
        with self.lock:
            number = next(self.numbers)
        try:
            response = self.session().post(
                self.url,
                files={"file": (f"{number}.pdf", tiny_pdf(number), "application/pdf")},
                data={"metadata": _metadata(recipients, number)},
                timeout=120,
            )
        except requests.RequestException as e:
            return None, f"{type(e).__name__}: {e}"
        if response.status_code != 201:
            return None, f"{response.status_code}: {response.text[:200]}"
        return str(response.json()["id"]), ""


def _metadata(recipients: tuple[str, ...], number: int) -> str:
    return json.dumps(
        metadata_to(*recipients, number=str(number), subject=f"Bench {number}"),
        ensure_ascii=False,
    )


def closed_loop(
    sender: Sender, recipients: tuple[str, ...], docs: int, threads: int
) -> tuple[list[str], list[str], float, float]:
    """POST ``docs`` documents as fast as ``threads`` clients can: ids, errors, the wall
    time of the first POST and of the last 201 (time.time())."""
    ids: list[str] = []
    errors: list[str] = []
    left = iter(range(docs))
    lock = threading.Lock()
    ends: list[float] = []

    def client() -> None:
        while True:
            with lock:
                if next(left, None) is None:
                    return
            doc, error = sender.post(recipients)
            with lock:
                if doc:
                    ids.append(doc)
                    ends.append(time.time())
                else:
                    errors.append(error)

    began = time.time()
    workers = [threading.Thread(target=client, name=f"bench-post-{i}") for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return ids, errors, began, max(ends, default=began)


# --- where the time goes ----------------------------------------------------------------


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot."""
    t = psutil.cpu_times()
    return sum(getattr(t, f, 0.0) for f in ("user", "system", "nice", "irq", "softirq", "steal"))


def cpu_seconds(process: psutil.Process, *, children: bool) -> float:
    """User + system CPU seconds of a process (and of its children, such as signing's
    PDF workers, when ``children``), including its reaped children's."""
    total = 0.0
    tree = [process]
    with contextlib.suppress(psutil.Error):
        tree += process.children(recursive=True) if children else []
    for q in tree:
        with contextlib.suppress(psutil.Error):
            t = q.cpu_times()
            total += t.user + t.system + (t.children_user + t.children_system)
    return total


class CpuMeter:
    """CPU seconds used by each part of the system between ``start`` and ``stop``."""

    def __init__(self, bench: BenchStack) -> None:
        self.parts: dict[str, list[psutil.Process]] = {}
        for name, proc in bench.stack.processes.items():
            with contextlib.suppress(psutil.Error):
                self.parts[f"{name} (lienthong serve)"] = [psutil.Process(proc.pid)]
        brokers, databases = [], []
        for p in psutil.process_iter(["name", "cmdline"]):
            name = (p.info["name"] or "").lower()
            if name.startswith("beam"):
                brokers.append(p)
            elif name.startswith("postgres"):
                databases.append(p)
        self.parts["RabbitMQ (whole node)"] = brokers
        self.parts["PostgreSQL (all backends)"] = databases
        if bench.seaweed_pid:
            with contextlib.suppress(psutil.Error):
                self.parts["SeaweedFS"] = [psutil.Process(bench.seaweed_pid)]
        self.parts["benchmark client"] = [psutil.Process()]
        self.before: dict[str, float] = {}
        self.machine_before = psutil.cpu_times()
        self.began = 0.0

    def _used(self, procs: list[psutil.Process], children: bool) -> float:
        return sum(cpu_seconds(p, children=children) for p in procs)

    def _sample(self) -> dict[str, float]:
        return {
            name: self._used(procs, children="lienthong" in name)
            for name, procs in self.parts.items()
        }

    def start(self) -> None:
        self.before = self._sample()
        self.machine_before = psutil.cpu_times()
        self.began = time.monotonic()

    def stop(self) -> tuple[list[CpuShare], float, float]:
        after = self._sample()
        window = time.monotonic() - self.began
        machine = psutil.cpu_times()
        busy = sum(
            getattr(machine, f) - getattr(self.machine_before, f) for f in ("user", "system")
        )
        busy += sum(
            getattr(machine, f, 0.0) - getattr(self.machine_before, f, 0.0)
            for f in ("nice", "irq", "softirq", "steal")
        )
        cores = psutil.cpu_count() or 1
        shares = [CpuShare(n, after[n] - self.before.get(n, 0.0)) for n in after]
        return shares, window, busy / (window * cores) if window else 0.0


class LockSampler:
    """How many sessions of each database wait on a lock, sampled every 100 ms."""

    def __init__(self, admin_url: str, databases: dict[str, str]) -> None:
        self.engine = sa.create_engine(admin_url, pool_size=1)
        self.databases = databases
        self.samples: dict[str, list[int]] = {name: [] for name in databases}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-sampler", daemon=True)

    def _run(self) -> None:
        query = sa.text(
            "SELECT datname, count(*) FILTER (WHERE wait_event_type = 'Lock') "
            "FROM pg_stat_activity WHERE datname IN :names GROUP BY datname"
        ).bindparams(sa.bindparam("names", expanding=True))
        names = {db: name for name, db in self.databases.items()}
        with self.engine.connect() as conn:
            while not self._stop.wait(0.1):
                counts = {
                    names[r[0]]: int(r[1])
                    for r in conn.execute(query, {"names": list(names)})
                    if r[0] in names
                }
                conn.rollback()
                for name in self.databases:
                    self.samples[name].append(counts.get(name, 0))

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.engine.dispose()

    def means(self) -> dict[str, float]:
        return {n: (sum(s) / len(s) if s else 0.0) for n, s in self.samples.items()}


def outbox_rows(bench: BenchStack, since: datetime) -> dict[str, int]:
    counts = {}
    for service in ("ingest", "routing", "signing"):
        engine = sa.create_engine(bench.env[f"LIENTHONG_{service.upper()}_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                counts[service] = int(
                    conn.execute(
                        sa.text("SELECT count(*) FROM outbox WHERE created_at >= :t"), {"t": since}
                    ).scalar()
                    or 0
                )
        finally:
            engine.dispose()
    return counts
