"""Routing's figures (issue 4, "Speed"), side by side on one broker in one run.

(a) plain kombu: confirmed publish + consume on a quorum queue (bench.routing_raw);
(b) our deliveries per second at saturation, the uploads included (POST → in the
    recipient's inbox), and where the CPU goes meanwhile;
(c) latency at a steady offered load of 20, 50 and 200 documents/s;
(d) accepted → in the inbox: 1, 2 and 4 routing processes draining a backlog of
    accepted documents (the target's figure).

Times of arrival come from ingest's database (``deliveries.arrived_at``: when the
connector put the delivery in the inbox) and acceptance from ``documents.received_at``,
both stamped by ingest on this host's clock, so nothing is polled.
"""

from __future__ import annotations

import threading
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.environment import RECIPIENTS, BenchStack, bench_stack
from bench.routing_probes import (
    CpuMeter,
    Ingest,
    LockSampler,
    Sender,
    closed_loop,
    first_routed,
    idle,
    machine_busy_seconds,
    outbox_rows,
    quiesce,
    wait_until,
)
from bench.routing_raw import envelope_body, raw_confirmed
from bench.routing_results import (
    FANOUT,
    Drain,
    Paced,
    RoutingOptions,
    RoutingResults,
    Saturation,
)
from testkit.faults import tiny_pdf
from testkit.infra import PG_ADMIN_URL

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
        ids, errors, began, last_201 = closed_loop(
            sender, FANOUT, opts.saturation_docs, opts.client_threads
        )
        wanted = len(ids) * len(FANOUT)
        wait_until(lambda: ingest.arrived(ids) >= wanted, opts.drain_timeout)
        result.cpu, result.cpu_window, result.machine_busy = meter.stop()
        cores = psutil.cpu_count() or 1
        result.busy_core_seconds = result.machine_busy * result.cpu_window * cores
        wait_until(lambda: idle(bench), opts.drain_timeout, 0.5)
        result.settled_seconds = time.time() - began
    result.lock_waits = locks.means()
    result.messages = outbox_rows(bench, since)
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
    wait_until(lambda: ingest.arrived(ids) >= len(ids), timeout)
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
    ids, errors, _began, _end = closed_loop(
        Sender(bench), FANOUT, opts.scale_docs, opts.client_threads
    )
    result.errors = errors
    result.deliveries = len(ids) * len(FANOUT)
    wait_until(
        lambda: ingest.verified(ids) >= len(ids) and idle(bench, ("lt.routing.events",)),
        opts.drain_timeout,
        0.5,
    )
    routing_db = bench.env["LIENTHONG_ROUTING_DATABASE_URL"].rsplit("/", 1)[1]
    busy_before = machine_busy_seconds()
    started = time.time()
    with LockSampler(PG_ADMIN_URL, {"routing": routing_db}) as locks:
        _start_routing(bench, processes)
        wait_until(lambda: ingest.arrived(ids) >= result.deliveries, opts.drain_timeout)
        times = sorted(at.timestamp() for _d, _r, at in ingest.arrivals(ids) if at is not None)
        result.delivered = len(times)
        routed = first_routed(bench.env["LIENTHONG_ROUTING_DATABASE_URL"], ids)
        if times:
            result.start_to_last = times[-1] - started
            result.first_to_last = times[-1] - times[0]
            if routed is not None:
                result.routed_to_last = times[-1] - routed.timestamp()
        wait_until(lambda: idle(bench), opts.drain_timeout, 0.5)
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
            closed_loop(Sender(bench), FANOUT, 20, 2)
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
