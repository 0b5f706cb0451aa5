"""Measurements 1 and 2: documents accepted per second, end-to-end delivery latency.

Each returns plain data; bench.report turns it into text."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from bench.environment import BenchStack
from bench.measure import Summary
from bench.pdfs import Variants
from testkit.stack import AgencyClient, metadata_to


def sender_client(bench: BenchStack) -> AgencyClient:
    """A new HTTP session for the sender (requests sessions are not shared across threads)."""
    sender = bench.clients[bench.sender]
    return AgencyClient(sender.base_url, sender.code, bench.keys[sender.code])


def _inbox_ids(client: AgencyClient, limit: int = 500) -> set[str]:
    response = client.http.get(f"{client.base_url}/v1/inbox", params={"limit": limit}, timeout=30)
    response.raise_for_status()
    return {item["id"] for item in response.json()["items"]}


def error_text(response: requests.Response) -> str:
    return f"{response.status_code}: {response.text[:200]}"


# --- 1. documents accepted per second ----------------------------------------


@dataclass
class Throughput:
    threads: int
    count: int
    warmup: int
    pdf_size: int
    wall_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    delivered: int = 0
    drain_seconds: float | None = None

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def docs_per_second(self) -> float:
        return self.ok / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def latency(self) -> Summary:
        return Summary.of(self.latencies)


def throughput(
    bench: BenchStack,
    variants: Variants,
    recipient: str,
    threads: int,
    count: int,
    warmup: int,
    drain_timeout: float = 120.0,
) -> Throughput:
    """POST ``count`` distinct PDFs from ``threads`` client threads, as fast as answered."""
    result = Throughput(threads, count, warmup, len(variants.template))
    warm = sender_client(bench)
    for i in range(warmup):
        response = warm.send(variants.next(), metadata_to(recipient, number=f"W{threads}-{i}"))
        if response.status_code != 201:
            raise RuntimeError(f"warm-up POST failed: {error_text(response)}")
    bodies = [variants.next() for _ in range(count)]  # made before the clock starts
    ids: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(count))
    start = threading.Barrier(threads + 1)
    finished: list[float] = []

    def client_thread() -> None:
        client = sender_client(bench)
        start.wait()
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            began = time.perf_counter()
            try:
                response = client.send(bodies[i], metadata_to(recipient, number=f"T{threads}-{i}"))
            except requests.RequestException as e:
                with lock:
                    result.errors.append(f"{type(e).__name__}: {e}")
                continue
            took = time.perf_counter() - began
            with lock:
                if response.status_code == 201:
                    result.latencies.append(took)
                    ids.append(response.json()["id"])
                else:
                    result.errors.append(error_text(response))
        with lock:
            finished.append(time.perf_counter())

    workers = [threading.Thread(target=client_thread, name=f"post-{n}") for n in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    last_answer = max(finished)
    result.wall_seconds = last_answer - began
    bodies.clear()

    # How long the rest of the pipeline needs to deliver what was accepted.
    inbox = AgencyClient(bench.stack.url("ingest"), recipient, bench.keys[recipient])
    wanted = set(ids)
    deadline = time.perf_counter() + drain_timeout
    while True:
        delivered = wanted & _inbox_ids(inbox)
        result.delivered = len(delivered)
        if delivered == wanted:
            result.drain_seconds = time.perf_counter() - last_answer
            break
        if time.perf_counter() > deadline:
            break
        time.sleep(0.1)
    return result


# --- 2. end-to-end delivery latency --------------------------------------------


@dataclass
class Latency:
    count: int
    rate: float
    poll_interval: float
    pdf_size: int
    send_seconds: float = 0.0
    client: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    poll_round_trips: list[float] = field(default_factory=list)
    post_latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing: int = 0


def _poller(
    client: AgencyClient,
    interval: float,
    stop: threading.Event,
    seen: dict[str, tuple[float, str]],
    round_trips: list[float],
) -> None:
    url = f"{client.base_url}/v1/inbox"
    while not stop.is_set():
        began = time.perf_counter()
        try:
            response = client.http.get(url, params={"limit": 100}, timeout=30)
            items: list[dict[str, Any]] = response.json()["items"]
        except (requests.RequestException, ValueError, KeyError):
            items = []
        answered = time.perf_counter()
        round_trips.append(answered - began)
        for item in items:
            seen.setdefault(item["id"], (answered, item["received_at"]))
        stop.wait(max(0.0, interval - (answered - began)))


def delivery_latency(
    bench: BenchStack,
    variants: Variants,
    recipient: str,
    count: int,
    rate: float,
    poll_interval: float,
    settle_timeout: float = 60.0,
) -> Latency:
    """Paced POSTs; a recipient thread polls its inbox and notes when each one appears."""
    result = Latency(count, rate, poll_interval, len(variants.template))
    inbox = AgencyClient(bench.stack.url("ingest"), recipient, bench.keys[recipient])
    sender = sender_client(bench)
    bodies = [variants.next() for _ in range(count)]
    seen: dict[str, tuple[float, str]] = {}
    sent: dict[str, tuple[float, str]] = {}
    stop = threading.Event()
    poller = threading.Thread(
        target=_poller,
        name="inbox-poller",
        args=(inbox, poll_interval, stop, seen, result.poll_round_trips),
    )
    poller.start()
    try:
        start = time.perf_counter()
        for i, body in enumerate(bodies):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            began = time.perf_counter()
            response = sender.send(body, metadata_to(recipient, number=f"L-{i}"))
            answered = time.perf_counter()
            if response.status_code != 201:
                result.errors.append(error_text(response))
                continue
            result.post_latencies.append(answered - began)
            accepted = response.json()
            sent[accepted["id"]] = (answered, accepted["received_at"])
        result.send_seconds = time.perf_counter() - start
        deadline = time.perf_counter() + settle_timeout
        while not sent.keys() <= seen.keys() and time.perf_counter() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join(timeout=30)
    for doc_id, (answered, received_at) in sent.items():
        if doc_id not in seen:
            result.missing += 1
            continue
        first_seen, arrived_at = seen[doc_id]
        result.client.append(first_seen - answered)
        arrived = datetime.fromisoformat(arrived_at) - datetime.fromisoformat(received_at)
        result.server.append(arrived.total_seconds())
    return result
