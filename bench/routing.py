"""Routing's figures (issue 4, "Speed"), side by side on one broker in one run.

(a) plain kombu: confirmed publish + consume on a quorum queue (bench.routing_raw);
(b) our end-to-end deliveries per second at saturation (document accepted → in the
    recipient's inbox), and where the CPU goes meanwhile;
(c) latency at a steady offered load of 50 and 200 documents/s;
(d) how fast 1, 2 and 4 routing processes drain a backlog.

Times of arrival come from ingest's database (``deliveries.arrived_at``: when the
connector put the delivery in the inbox) and acceptance from ``documents.received_at``,
both stamped by ingest on this host's clock, so nothing is polled.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests
import sqlalchemy as sa

from bench.environment import RECIPIENTS, BenchStack, bench_stack
from bench.routing_raw import RawRun, envelope_body, raw_confirmed
from tests.support.faults import queue_depths, tiny_pdf
from tests.support.infra import PG_ADMIN_URL
from tests.support.stack import metadata_to

FANOUT = RECIPIENTS[:3]  # every document of (b) and (d) goes to three agencies


@dataclass(frozen=True)
class RoutingOptions:
    raw_messages: int = 3000
    raw_publishers: tuple[int, ...] = (1, 4)
    saturation_docs: int = 600
    client_threads: int = 8
    rates: tuple[float, ...] = (20.0, 50.0, 200.0)
    rate_seconds: float = 15.0
    scale_docs: int = 1500
    routing_processes: tuple[int, ...] = (1, 2, 4)
    drain_timeout: float = 300.0


# --- results -------------------------------------------------------------------


@dataclass
class CpuShare:
    name: str
    seconds: float


@dataclass
class Saturation:
    docs: int
    recipients: int
    threads: int
    accepted: int = 0
    errors: list[str] = field(default_factory=list)
    send_seconds: float = 0.0  # first POST → last 201
    delivered: int = 0
    end_to_end_seconds: float = 0.0  # first POST → last arrival in an inbox
    settled_seconds: float = 0.0  # first POST → every queue and outbox empty again
    latencies: list[float] = field(default_factory=list)  # accepted → in the inbox
    cpu: list[CpuShare] = field(default_factory=list)
    cpu_window: float = 0.0
    machine_busy: float = 0.0  # share of all cores busy during the window
    busy_core_seconds: float = 0.0
    messages: dict[str, int] = field(default_factory=dict)  # outbox rows per service
    lock_waits: dict[str, float] = field(default_factory=dict)  # mean sessions waiting, per db

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.send_seconds if self.send_seconds else 0.0

    @property
    def deliveries_per_second(self) -> float:
        return self.delivered / self.end_to_end_seconds if self.end_to_end_seconds else 0.0

    @property
    def settled_per_second(self) -> float:
        return self.delivered / self.settled_seconds if self.settled_seconds else 0.0


@dataclass
class Paced:
    rate: float
    seconds: float
    scheduled: int = 0
    accepted: int = 0
    errors: list[str] = field(default_factory=list)
    send_seconds: float = 0.0
    late_starts: int = 0  # POSTs that began more than 100 ms after their slot
    delivered: int = 0
    accepted_to_inbox: list[float] = field(default_factory=list)
    intended_to_inbox: list[float] = field(default_factory=list)
    post_latencies: list[float] = field(default_factory=list)

    @property
    def achieved_rate(self) -> float:
        return self.accepted / self.send_seconds if self.send_seconds else 0.0


@dataclass
class Drain:
    processes: int
    docs: int
    deliveries: int = 0
    delivered: int = 0
    start_to_last: float = 0.0  # routing processes started → last arrival
    routed_to_last: float = 0.0  # routing made its first exchange → last arrival
    first_to_last: float = 0.0  # first arrival → last arrival
    start_to_idle: float = 0.0  # routing processes started → every status 01 recorded, idle
    machine_busy: float = 0.0  # share of all cores busy from the start to idle
    routing_lock_waits: float = 0.0  # mean routing sessions waiting on a row lock meanwhile
    errors: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.delivered / self.first_to_last if self.first_to_last else 0.0

    @property
    def per_second_routed(self) -> float:
        """Accepted → in the inbox, from a backlog: the pipeline's own rate."""
        return self.delivered / self.routed_to_last if self.routed_to_last else 0.0

    @property
    def per_second_with_start(self) -> float:
        return self.delivered / self.start_to_last if self.start_to_last else 0.0

    @property
    def per_second_to_idle(self) -> float:
        return self.delivered / self.start_to_idle if self.start_to_idle else 0.0


@dataclass
class RoutingResults:
    options: RoutingOptions
    envelope_bytes: int = 0
    pdf_bytes: int = 0
    raw: list[RawRun] = field(default_factory=list)
    raw_cpu_ms: dict[int, float] = field(default_factory=dict)  # publishers → machine CPU/msg
    saturation: Saturation | None = None
    paced: list[Paced] = field(default_factory=list)
    drains: list[Drain] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def raw_rate(self) -> float:
        base = next((r for r in self.raw if r.publishers == 1), None)
        return base.messages_per_second if base else float("nan")

    @property
    def ratio(self) -> float:
        """Accepted → in the inbox (one routing process draining a backlog) ÷ raw."""
        one = next((d for d in self.drains if d.processes == 1), None)
        if one is None or not one.per_second_routed:
            return float("nan")
        return one.per_second_routed / self.raw_rate

    @property
    def saturation_ratio(self) -> float:
        """Upload → in the inbox, the uploads on the same cores (b) ÷ raw."""
        if self.saturation is None:
            return float("nan")
        return self.saturation.deliveries_per_second / self.raw_rate


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


def _wait(predicate: Any, timeout: float, interval: float = 0.25) -> bool:
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
    _wait(lambda: idle(bench), timeout, 1.0)
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


def _closed_loop(
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
        total = 0.0
        for p in procs:
            tree = [p, *(p.children(recursive=True) if children else [])]
            for q in tree:
                with contextlib.suppress(psutil.Error):
                    t = q.cpu_times()
                    total += t.user + t.system + (t.children_user + t.children_system)
        return total

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


def _outbox_rows(bench: BenchStack, since: datetime) -> dict[str, int]:
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


# --- (b) saturation -----------------------------------------------------------------


def saturation(bench: BenchStack, ingest: Ingest, opts: RoutingOptions) -> Saturation:
    result = Saturation(opts.saturation_docs, len(FANOUT), opts.client_threads)
    sender = Sender(bench)
    meter = CpuMeter(bench)
    databases = {
        s: bench.env[f"LIENTHONG_{s.upper()}_DATABASE_URL"].rsplit("/", 1)[1]
        for s in ("ingest", "routing", "signing")
    }
    since = datetime.now(UTC)
    meter.start()
    with LockSampler(PG_ADMIN_URL, databases) as locks:
        ids, errors, began, last_201 = _closed_loop(
            sender, FANOUT, opts.saturation_docs, opts.client_threads
        )
        wanted = len(ids) * len(FANOUT)
        _wait(lambda: ingest.arrived(ids) >= wanted, opts.drain_timeout)
        result.cpu, result.cpu_window, result.machine_busy = meter.stop()
        cores = psutil.cpu_count() or 1
        result.busy_core_seconds = result.machine_busy * result.cpu_window * cores
        _wait(lambda: idle(bench), opts.drain_timeout, 0.5)
        result.settled_seconds = time.time() - began
    result.lock_waits = locks.means()
    result.messages = _outbox_rows(bench, since)
    result.accepted, result.errors = len(ids), errors
    result.send_seconds = last_201 - began
    rows = ingest.arrivals(ids)
    arrived = [(received, at) for _doc, received, at in rows if at is not None]
    result.delivered = len(arrived)
    if arrived:
        result.end_to_end_seconds = max(at for _r, at in arrived).timestamp() - began
        result.latencies = [(at - received).total_seconds() for received, at in arrived]
    return result


# --- (c) steady offered load ------------------------------------------------------------


def paced(bench: BenchStack, ingest: Ingest, rate: float, seconds: float, timeout: float) -> Paced:
    """Open loop: document i is due at start + i/rate, whatever happened to the others."""
    result = Paced(rate, seconds, scheduled=int(rate * seconds))
    sender = Sender(bench)
    recipient = (RECIPIENTS[3],)
    slots = iter(range(result.scheduled))
    lock = threading.Lock()
    sent: list[tuple[str, float, float]] = []  # id, intended wall time, POST latency
    workers_count = max(8, min(64, int(rate * 0.25)))
    start_wall = time.time() + 0.5
    start_perf = time.perf_counter() + 0.5

    def worker() -> None:
        while True:
            with lock:
                slot = next(slots, None)
            if slot is None:
                return
            due = start_perf + slot / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:
                with lock:
                    result.late_starts += 1
            began = time.perf_counter()
            doc, error = sender.post(recipient)
            took = time.perf_counter() - began
            with lock:
                if doc:
                    sent.append((doc, start_wall + slot / rate, took))
                else:
                    result.errors.append(error)

    workers = [threading.Thread(target=worker, name=f"paced-{i}") for i in range(workers_count)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    result.send_seconds = time.perf_counter() - start_perf
    ids = [doc for doc, _i, _t in sent]
    result.accepted = len(ids)
    _wait(lambda: ingest.arrived(ids) >= len(ids), timeout)
    intended = {doc: at for doc, at, _t in sent}
    result.post_latencies = [t for _d, _i, t in sent]
    for doc, received, at in ingest.arrivals(ids):
        if at is None:
            continue
        result.delivered += 1
        result.accepted_to_inbox.append((at - received).total_seconds())
        result.intended_to_inbox.append(at.timestamp() - intended[doc])
    return result


# --- (d) routing processes draining a backlog --------------------------------------------


def _routing_processes(bench: BenchStack) -> list[str]:
    return [n for n in bench.stack.processes if n == "routing" or n.startswith("routing-")]


def _stop_routing(bench: BenchStack) -> None:
    for name in _routing_processes(bench):
        bench.stack.stop(name)


def _start_routing(bench: BenchStack, count: int) -> None:
    bench.stack.serve("routing")
    for i in range(2, count + 1):
        bench.stack.start("serve", "routing", "--workers-only", name=f"routing-{i}")


def drain(bench: BenchStack, ingest: Ingest, processes: int, opts: RoutingOptions) -> Drain:
    """With routing stopped, accept a backlog (3 recipients each) and let signing verify
    it; then start ``processes`` routing processes and time the deliveries into inboxes."""
    result = Drain(processes, opts.scale_docs)
    quiesce(bench, opts.drain_timeout)  # the last scenario's statuses and verdicts first
    _stop_routing(bench)
    ids, errors, _began, _end = _closed_loop(
        Sender(bench), FANOUT, opts.scale_docs, opts.client_threads
    )
    result.errors = errors
    result.deliveries = len(ids) * len(FANOUT)
    _wait(
        lambda: ingest.verified(ids) >= len(ids) and idle(bench, ("lt.routing.events",)),
        opts.drain_timeout,
        0.5,
    )
    routing_db = bench.env["LIENTHONG_ROUTING_DATABASE_URL"].rsplit("/", 1)[1]
    busy_before = machine_busy_seconds()
    started = time.time()
    with LockSampler(PG_ADMIN_URL, {"routing": routing_db}) as locks:
        _start_routing(bench, processes)
        _wait(lambda: ingest.arrived(ids) >= result.deliveries, opts.drain_timeout)
        times = sorted(at.timestamp() for _d, _r, at in ingest.arrivals(ids) if at is not None)
        result.delivered = len(times)
        routed = first_routed(bench.env["LIENTHONG_ROUTING_DATABASE_URL"], ids)
        if times:
            result.start_to_last = times[-1] - started
            result.first_to_last = times[-1] - times[0]
            if routed is not None:
                result.routed_to_last = times[-1] - routed.timestamp()
        _wait(lambda: idle(bench), opts.drain_timeout, 0.5)
        result.start_to_idle = time.time() - started
    busy = machine_busy_seconds() - busy_before
    result.machine_busy = busy / (result.start_to_idle * (psutil.cpu_count() or 1))
    result.routing_lock_waits = locks.means()["routing"]
    bench.stack.wait_healthy(("routing",))
    return result


# --- the whole part ---------------------------------------------------------------------


def _attempt(res: RoutingResults, name: str, action: Any, bench: BenchStack) -> None:
    print(f"… routing: {name}", flush=True)
    try:
        action()
    except Exception as e:
        traceback.print_exc()
        res.failures.append(f"routing {name}: {type(e).__name__}: {e}")
        for service in [*_routing_processes(bench), "ingest"]:
            print(f"--- {service} ---\n{bench.stack.log_tail(service, 1500)}", flush=True)


def run_routing(work: Path, opts: RoutingOptions) -> RoutingResults:
    res = RoutingResults(opts)
    body = envelope_body(FANOUT)
    res.envelope_bytes = len(body)
    res.pdf_bytes = len(tiny_pdf(1_000_000))
    with bench_stack(work / "routing", 100 * 1024 * 1024) as bench:
        res.env = bench.env
        broker = bench.env["LIENTHONG_BROKER_URL"]
        ingest = Ingest(bench.env["LIENTHONG_INGEST_DATABASE_URL"])
        try:
            for publishers in opts.raw_publishers:

                def raw(publishers: int = publishers) -> None:
                    before = machine_busy_seconds()
                    run = raw_confirmed(broker, opts.raw_messages, body, publishers)
                    used = machine_busy_seconds() - before
                    res.raw.append(run)
                    res.raw_cpu_ms[publishers] = used * 1000 / max(run.consumed, 1)

                _attempt(res, f"raw kombu, {publishers} publisher(s)", raw, bench)
            # Warm the stack up (connections, caches, the first queue declarations).
            _closed_loop(Sender(bench), FANOUT, 20, 2)
            quiesce(bench, opts.drain_timeout)

            def sat() -> None:
                res.saturation = saturation(bench, ingest, opts)

            _attempt(res, "saturation", sat, bench)
            for rate in opts.rates:

                def pace(rate: float = rate) -> None:
                    quiesce(bench, opts.drain_timeout)
                    res.paced.append(
                        paced(bench, ingest, rate, opts.rate_seconds, opts.drain_timeout)
                    )

                _attempt(res, f"{rate:g} documents/s", pace, bench)
            for processes in opts.routing_processes:

                def scale(processes: int = processes) -> None:
                    res.drains.append(drain(bench, ingest, processes, opts))

                _attempt(res, f"{processes} routing process(es)", scale, bench)
        finally:
            ingest.dispose()
    return res
