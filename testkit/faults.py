"""Helpers for the fault test: small distinct PDFs, clients that retry through faults,
a chaos schedule, poison messages and direct looks into the services' databases.

Nothing here knows the services' code: it talks to them the way an agency system
(HTTP), an operator (signals, ``rabbitmqctl``) or an auditor (SQL) would.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
import sqlalchemy as sa
from kombu import Connection, Exchange, Producer

from testkit.pdfs import one_page_pdf
from testkit.stack import metadata_to

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})


# --- documents ----------------------------------------------------------------


def tiny_pdf(number: int) -> bytes:
    """A valid one-page PDF (about 600 bytes) whose page shows ``number``: every one is
    distinct, so every upload has its own SHA-256."""
    return one_page_pdf(f"Cong van so {number}")


# --- clients that ride out faults ----------------------------------------------


@dataclass
class ClientStats:
    """What the agency-side clients saw; every counter is updated under ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[int, str] = field(default_factory=dict)  # document number -> our id
    post_attempts: int = 0
    post_retries: int = 0
    replayed: int = 0  # 201 with Idempotent-Replayed: a retried POST that had gone through
    post_failures: list[str] = field(default_factory=list)
    reported: dict[str, str] = field(default_factory=dict)  # delivery id -> recipient
    report_attempts: int = 0
    report_retries: int = 0
    report_conflicts_after_retry: int = 0  # 409 on a retry whose first try had gone through
    report_failures: list[str] = field(default_factory=list)
    inbox_polls: int = 0

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)


class FailoverHttp:
    """One agency's HTTP session against whichever ingest API answers.

    A connection error, a timeout or a 5xx is retried (on another base URL when
    there are several) until ``deadline``; the caller decides what else to retry.
    """

    def __init__(self, base_urls: list[str], key: str, *, timeout: float = 30.0) -> None:
        self.base_urls = base_urls
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"
        self._turn = random.randrange(len(base_urls))

    def request(
        self,
        method: str,
        path: str,
        deadline: float,
        on_retry: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        delay = 0.1
        while True:
            base = self.base_urls[self._turn % len(self.base_urls)]
            try:
                response = self.http.request(method, base + path, timeout=self.timeout, **kwargs)
                if response.status_code not in RETRYABLE_STATUS:
                    return response
                why = f"{response.status_code} {response.text[:200]}"
            except requests.RequestException as e:
                why = f"{type(e).__name__}: {e}"
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"{method} {path} kept failing until the deadline: {why}")
            if on_retry:
                on_retry(why)
            self._turn += 1
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def send_documents(
    urls: list[str],
    key: str,
    recipients: tuple[str, ...],
    numbers: Iterator[int],
    numbers_lock: threading.Lock,
    stats: ClientStats,
    run_tag: str,
    deadline: float,
) -> None:
    """A sender thread: takes document numbers until none are left, POSTs each with its
    own Idempotency-Key, and retries the same request through any fault."""
    client = FailoverHttp(urls, key)
    while True:
        with numbers_lock:
            number = next(numbers, None)
        if number is None:
            return
        metadata = metadata_to(*recipients, number=str(number), subject=f"Fault test {number}")
        pdf = tiny_pdf(number)
        attempts = 0

        def retried(_why: str) -> None:
            nonlocal attempts
            attempts += 1
            stats.add("post_retries")

        try:
            response = client.request(
                "POST",
                "/v1/documents",
                deadline,
                on_retry=retried,
                headers={"Idempotency-Key": f"{run_tag}-{number}"},
                files={"file": (f"{number}.pdf", pdf, "application/pdf")},
                data={"metadata": json.dumps(metadata, ensure_ascii=False)},
            )
        except TimeoutError as e:
            with stats.lock:
                stats.post_failures.append(f"document {number}: {e}")
            continue
        finally:
            stats.add("post_attempts", attempts + 1)
        if response.status_code != 201:
            with stats.lock:
                stats.post_failures.append(
                    f"document {number}: {response.status_code} {response.text[:300]}"
                )
            continue
        with stats.lock:
            stats.accepted[number] = response.json()["id"]
            if response.headers.get("Idempotent-Replayed") == "true":
                stats.replayed += 1


class Registrar:
    """A recipient's document system: polls the inbox for deliveries at 01 and registers
    (03) each one, once: it remembers what it reported, as a real one would. Reports go
    out on ``reporters`` threads, each with its own HTTP session."""

    def __init__(
        self,
        urls: list[str],
        key: str,
        recipient: str,
        stats: ClientStats,
        *,
        reporters: int = 3,
        poll_interval: float = 0.3,
    ) -> None:
        self.recipient = recipient
        self.stats = stats
        self.reporters = reporters
        self.poll_interval = poll_interval
        self.poller = FailoverHttp(urls, key)
        self.sessions: queue.SimpleQueue[FailoverHttp] = queue.SimpleQueue()
        for _ in range(reporters):
            self.sessions.put(FailoverHttp(urls, key))
        self.seen: set[str] = set()

    def run(self, done: Callable[[set[str]], bool], deadline: float) -> None:
        with ThreadPoolExecutor(self.reporters, f"report-{self.recipient}") as pool:
            while time.monotonic() < deadline:
                fresh = self._poll(deadline)
                if fresh is None:
                    return
                list(pool.map(lambda d: self._report(d, deadline), fresh))
                self.seen.update(fresh)
                if not fresh:
                    if done(self.seen):
                        return
                    time.sleep(self.poll_interval)

    def _poll(self, deadline: float) -> list[str] | None:
        stats = self.stats
        try:
            inbox = self.poller.request(
                "GET", "/v1/inbox", deadline, params={"limit": 500, "status": "01"}
            )
        except TimeoutError as e:
            with stats.lock:
                stats.report_failures.append(f"{self.recipient} inbox: {e}")
            return None
        stats.add("inbox_polls")
        if inbox.status_code != 200:
            with stats.lock:
                stats.report_failures.append(f"{self.recipient} inbox: {inbox.status_code}")
            return []
        return [
            i["delivery_id"] for i in inbox.json()["items"] if i["delivery_id"] not in self.seen
        ]

    def _report(self, delivery_id: str, deadline: float) -> None:
        client = self.sessions.get()
        try:
            self._report_with(client, delivery_id, deadline)
        finally:
            self.sessions.put(client)

    def _report_with(self, client: FailoverHttp, delivery_id: str, deadline: float) -> None:
        stats = self.stats
        retries = 0

        def retried(_why: str) -> None:
            nonlocal retries
            retries += 1
            stats.add("report_retries")

        try:
            response = client.request(
                "POST",
                f"/v1/deliveries/{delivery_id}/status",
                deadline,
                on_retry=retried,
                json={"code": "03", "description": "Đã vào sổ", "staff": {"Staff": "Văn thư"}},
            )
        except TimeoutError as e:
            with stats.lock:
                stats.report_failures.append(f"{delivery_id}: {e}")
            return
        finally:
            stats.add("report_attempts", retries + 1)
        if response.status_code == 200 or (response.status_code == 409 and retries):
            # A 409 after a retry: the first attempt went through; the final check decides.
            with stats.lock:
                stats.reported[delivery_id] = self.recipient
                if response.status_code == 409:
                    stats.report_conflicts_after_retry += 1
            return
        with stats.lock:
            stats.report_failures.append(
                f"{delivery_id}: {response.status_code} {response.text[:300]}"
            )


# --- chaos ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    name: str  # "kill routing", "kill ingest connector", "restart rabbitmq", "restart s3"
    at_fraction: float  # of the documents accepted


@dataclass
class FaultRecord:
    name: str
    accepted_before: int
    started: float
    seconds: float
    detail: str = ""


def schedule(rng: random.Random, plan: dict[str, int], low: float, high: float) -> list[Fault]:
    """Each fault ``count`` times at random moments, measured as the share of documents
    accepted so far, no two closer than a fair share of the window."""
    names = [name for name, count in plan.items() for _ in range(count)]
    rng.shuffle(names)
    slot = (high - low) / len(names)
    return [
        Fault(name, low + i * slot + rng.uniform(0.15, 0.85) * slot) for i, name in enumerate(names)
    ]


def sigkill_group(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the process group; False when it had already gone."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        proc.wait(timeout=30)
        return False
    proc.wait(timeout=30)
    return True


@dataclass
class Exit:
    name: str
    code: int
    at: float
    log_tail: str


class Supervisor:
    """What ``restart: unless-stopped`` does in docker-compose.yml: a service process
    that exits on its own is started again (after ``delay``), and the exit is noted.
    The chaos thread holds ``lock`` while it kills and restarts a process itself."""

    def __init__(
        self,
        processes: dict[str, subprocess.Popen[bytes]],
        commands: dict[str, tuple[str, ...]],
        start: Callable[[str, tuple[str, ...]], None],
        log_tail: Callable[[str], str],
        delay: float = 1.0,
    ) -> None:
        self.processes = processes
        self.commands = commands
        self.start = start
        self.log_tail = log_tail
        self.delay = delay
        self.lock = threading.Lock()
        self.exits: list[Exit] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            with self.lock:
                for name, command in self.commands.items():
                    proc = self.processes.get(name)
                    if proc is None or proc.poll() is None:
                        continue
                    self.exits.append(
                        Exit(name, int(proc.returncode), time.monotonic(), self.log_tail(name))
                    )
                    log.warning("supervisor: %s exited with %s; restarting", name, proc.returncode)
                    time.sleep(self.delay)
                    self.start(name, command)

    def __enter__(self) -> Supervisor:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def rabbitmq_restart(down_seconds: float) -> str:
    """``rabbitmqctl stop_app``, a pause, ``start_app``: every vhost on the node goes down."""
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
    time.sleep(down_seconds)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=180)
    subprocess.run(["rabbitmqctl", "await_startup"], check=False, capture_output=True, timeout=180)
    return f"down {down_seconds:.1f} s"


@contextmanager
def chaos_thread(
    faults: list[Fault],
    actions: dict[str, Callable[[], str]],
    accepted: Callable[[], int],
    total: int,
    records: list[FaultRecord],
    errors: list[str],
) -> Iterator[threading.Thread]:
    """Runs ``faults`` in order, each once ``accepted()`` reaches its share of ``total``."""
    stop = threading.Event()

    def run() -> None:
        for fault in faults:
            while accepted() < fault.at_fraction * total:
                if stop.wait(0.05):
                    return
            began = time.monotonic()
            count = accepted()
            log.warning("chaos: %s at %d accepted", fault.name, count)
            try:
                detail = actions[fault.name]()
            except Exception as e:
                errors.append(f"{fault.name}: {type(e).__name__}: {e}")
                detail = f"FAILED {e}"
            records.append(FaultRecord(fault.name, count, began, time.monotonic() - began, detail))

    thread = threading.Thread(target=run, name="chaos", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=300)


def queue_depths(vhost: str) -> dict[str, int]:
    """Messages (ready + unacknowledged) in every queue of ``vhost``."""
    command = ["rabbitmqctl", "list_queues", "--quiet", "--no-table-headers", "-p", vhost]
    done = subprocess.run(
        [*command, "name", "messages"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    depths = {}
    for line in done.stdout.splitlines():
        name, _, count = line.rpartition("\t")
        if name and count.strip().isdigit():
            depths[name.strip()] = int(count)
    return depths


# --- poison ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Poison:
    message_id: str
    routing_key: str
    consumers: tuple[str, ...]  # the consumers that should each dead-letter their copy
    why: str
    body: bytes


def _envelope(message_id: str, type_: str, version: Any, payload: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": message_id,
            "type": type_,
            "version": version,
            "occurred_at": "2026-11-21T00:00:00+00:00",
            "payload": payload,
        }
    ).encode()


def poison_messages() -> list[Poison]:
    """Malformed messages for lt.events, each bound for known consumers."""
    ids = [str(uuid.uuid4()) for _ in range(4)]
    return [
        Poison(ids[0], "delivery.arrived", ("routing-events",), "not JSON", b"{this is not json"),
        Poison(
            ids[1],
            "delivery.arrived",
            ("routing-events",),
            "version is not a number",
            _envelope(ids[1], "delivery.arrived", "one", {}),
        ),
        Poison(
            ids[2],
            "delivery.created",
            ("ingest-events",),
            "unknown version",
            _envelope(ids[2], "delivery.created", 99, {"document": "poison"}),
        ),
        Poison(
            ids[3],
            "document.received",
            ("routing-events", "signing-events"),
            "payload missing fields",
            _envelope(ids[3], "document.received", 1, {"document": "poison"}),
        ),
    ]


def publish_poison(broker_url: str) -> list[Poison]:
    """Publish the poison messages to lt.events with publisher confirms."""
    events = Exchange("lt.events", type="topic", durable=True)
    poisons = poison_messages()
    with Connection(broker_url, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.channel())
        for poison in poisons:
            producer.publish(
                poison.body,
                exchange=events,
                routing_key=poison.routing_key,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=poison.message_id,
            )
    return poisons


# --- looking into the databases -----------------------------------------------------


class Databases:
    """Read-only SQL against the services' databases (an auditor's view)."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.engines = {name: sa.create_engine(url, pool_size=2) for name, url in urls.items()}

    def rows(self, service: str, sql: str, **params: Any) -> list[Any]:
        with self.engines[service].connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())

    def scalar(self, service: str, sql: str, **params: Any) -> Any:
        with self.engines[service].connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def unpublished(self) -> dict[str, int]:
        return {
            name: int(self.scalar(name, "SELECT count(*) FROM outbox WHERE published_at IS NULL"))
            for name in self.engines
        }

    def dispose(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
