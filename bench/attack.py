"""Load beside an attack (issue 10): while attackers send decompression bombs, revision
bombs to verify, stalled uploads and oversize bodies without a key, one client sends
ordinary documents at a steady rate; we measure their accepted → inbox latency, the
errors and every service process's peak RSS. Runs on the production shape (RabbitMQ,
PostgreSQL, SeaweedFS on this machine) or, with ``--attack-shape embedded``, with no
servers at all."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.measure import Summary
from testkit.hostile import (
    ABUSE_ENV,
    RSS_LIMIT_MIB,
    MiB,
    RssWatch,
    content_bomb_pdf,
    empty_updates,
    raw_exchange,
    request_head,
    stalled_connection,
)
from testkit.official_doc import official_letter
from testkit.pdfs import one_page_pdf
from testkit.stack import AgencyClient, Stack, metadata_to

TITLE = "Load beside an attack (issue 10)"
SENDER, RECIPIENT, ATTACKER = "000.00.00.H41", "000.00.01.H41", "000.00.02.H41"
TOKEN = "attack-bench-service-token-0123456789"
TARGET_P99 = 1.0  # seconds, accepted → inbox of the ordinary documents
SHAPES = {
    "servers": "The production shape: RabbitMQ, PostgreSQL and SeaweedFS (S3) on this machine",
    "embedded": "The embedded shape: SQLite, the filesystem bus and a local object directory",
}


@dataclass
class AttackResults:
    rate: float
    seconds: float
    shape: str = "servers"  # servers (RabbitMQ, PostgreSQL, SeaweedFS) | embedded
    latencies: list[float] = field(default_factory=list)  # accepted → listed in inbox
    sent: int = 0
    errors: list[str] = field(default_factory=list)  # ordinary documents only
    missing: int = 0  # accepted but never listed
    attacks: dict[str, int] = field(default_factory=dict)  # attack → requests made
    attack_5xx: int = 0
    peaks_mib: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _stack(work: Path) -> tuple[Stack, dict[str, AgencyClient]]:
    stack = Stack(work, {**ABUSE_ENV, "LIENTHONG_SERVICE_TOKEN": TOKEN})
    stack.cli("migrate")
    stack.cli("agencies", "add", SENDER, "UBND tỉnh Nghệ An")
    stack.cli("agencies", "add", RECIPIENT, "Sở Nội vụ", "--parent", SENDER)
    stack.cli("agencies", "add", ATTACKER, "Sở Tài chính", "--parent", SENDER)
    clients = {
        code: AgencyClient(
            stack.url("ingest"), code, stack.cli("keys", "create", code).stdout.strip()
        )
        for code in (SENDER, RECIPIENT, ATTACKER)
    }
    for service in ("ingest", "signing", "routing"):
        stack.serve(service)
    stack.wait_healthy()
    return stack, clients


@dataclass(frozen=True)
class Target:
    """Where the attackers aim: plain values, so that they can run in a process of
    their own (a thread beside the measuring client would take its interpreter lock
    and add the attackers' own work to the ordinary documents' measured latency)."""

    ingest_url: str
    signing_url: str
    ingest_port: int
    attacker_key: str
    service_token: str


class _Attackers:
    """Threads that attack until stopped, counting their requests and any 5xx."""

    def __init__(self, target: Target, res: AttackResults) -> None:
        self.target, self.res = target, res
        self.attacker = AgencyClient(target.ingest_url, ATTACKER, target.attacker_key)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.bomb = content_bomb_pdf(256 * MiB)
        self.revised = empty_updates(one_page_pdf(), 2_500)
        self.threads = [
            threading.Thread(target=self._guarded, args=(f,), daemon=True)
            for f in (self._bombs, self._verify, self._stall, self._oversize)
        ]

    def _count(self, name: str, status: int | None) -> None:
        with self.lock:
            self.res.attacks[name] = self.res.attacks.get(name, 0) + 1
            if status is not None and status >= 500:
                self.res.attack_5xx += 1

    def _guarded(self, work: object) -> None:
        while not self.stop.is_set():
            try:
                work()  # type: ignore[operator]
            except (requests.RequestException, OSError):
                self._count("attack requests that timed out or failed", None)

    def _bombs(self) -> None:
        meta = metadata_to(SENDER, number="9")  # not into the measured inbox
        response = self.attacker.http.post(
            f"{self.attacker.base_url}/v1/documents",
            files={"file": ("bomb.pdf", self.bomb, "application/pdf")},
            data={"metadata": json.dumps(meta)},
            timeout=30,
        )
        self._count("content bomb (256 MiB inflated) to ingest", response.status_code)

    def _verify(self) -> None:
        response = requests.post(
            f"{self.target.signing_url}/v1/verify",
            data=self.revised,
            headers={
                "Authorization": f"Bearer {self.target.service_token}",
                "Content-Type": "application/pdf",
            },
            timeout=30,
        )
        self._count("2,500 revisions to /v1/verify", response.status_code)

    def _stall(self) -> None:
        head = request_head(
            "POST",
            "/v1/documents",
            "127.0.0.1",
            {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(MiB)},
        )
        conns = [stalled_connection(self.target.ingest_port, head, b"--x\r\n") for _ in range(16)]
        self._count("stalled uploads (16 held 2 s)", None)
        self.stop.wait(2.0)
        for conn in conns:
            conn.close()

    def _oversize(self) -> None:
        head = request_head(
            "POST",
            "/v1/documents",
            "127.0.0.1",
            {"Content-Type": "application/pdf", "Content-Length": str(150 * MiB)},
        )
        got = raw_exchange(self.target.ingest_port, head, body_size=150 * MiB, budget=5)
        self._count("150 MiB without a key", got.status)

    def __enter__(self) -> _Attackers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=40)


def _attack_until(target: Target, stop: Any, out: Any) -> None:
    """The attackers' process: attack until ``stop`` is set, then report the counts."""
    res = AttackResults(rate=0.0, seconds=0.0)
    with _Attackers(target, res):
        stop.wait()
    out.put((res.attacks, res.attack_5xx))


class _AttackProcess:
    def __init__(self, target: Target, res: AttackResults) -> None:
        self.res = res
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self.out: Any = ctx.Queue()
        self.process = ctx.Process(
            target=_attack_until, args=(target, self.stop, self.out), daemon=True
        )

    def __enter__(self) -> _AttackProcess:
        self.process.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        attacks, attack_5xx = self.out.get(timeout=60)
        self.process.join(timeout=30)
        self.res.attacks.update(attacks)
        self.res.attack_5xx += attack_5xx


def _ordinary(clients: dict[str, AgencyClient], res: AttackResults) -> None:
    sender, recipient = clients[SENDER], clients[RECIPIENT]
    accepted: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def poll() -> None:
        while not done.is_set() or len(seen) < len(accepted):
            try:
                items = recipient.http.get(
                    f"{recipient.base_url}/v1/inbox", params={"limit": 500}, timeout=10
                ).json()["items"]
            except (requests.RequestException, ValueError):
                continue
            now = time.monotonic()
            for item in items:
                seen.setdefault(item["id"], now)
            if done.is_set() and time.monotonic() > deadline:
                return
            time.sleep(0.015)

    deadline = float("inf")
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    pdf, interval = official_letter(), 1.0 / res.rate
    start = time.monotonic()
    for i in range(int(res.rate * res.seconds)):
        time.sleep(max(0.0, start + i * interval - time.monotonic()))
        res.sent += 1
        try:
            sent = sender.send(pdf, metadata_to(RECIPIENT, number=str(10_000 + i)))
        except requests.RequestException as e:
            res.errors.append(type(e).__name__)
            continue
        if sent.status_code != 201:
            res.errors.append(str(sent.status_code))
            continue
        accepted[sent.json()["id"]] = time.monotonic()
    deadline = time.monotonic() + 30
    done.set()
    poller.join(timeout=40)
    res.latencies = [seen[d] - t for d, t in accepted.items() if d in seen]
    res.missing = sum(1 for d in accepted if d not in seen)


@contextlib.contextmanager
def _shape(work: Path, shape: str) -> Iterator[tuple[Stack, dict[str, AgencyClient], str]]:
    """The stack under attack, its agencies' clients and its service token."""
    if shape == "embedded":
        stack, clients = _stack(work)
        try:
            yield stack, clients, TOKEN
        finally:
            for client in clients.values():
                client.http.close()
            stack.stop_all()
        return
    # The production shape, as the other benches run it; its agencies stand in for ours.
    from bench.environment import RECIPIENTS, SERVICE_TOKEN, bench_stack

    with bench_stack(work, 100 * MiB, dict(ABUSE_ENV)) as bench:
        named = {
            SENDER: bench.clients[bench.sender],
            RECIPIENT: bench.clients[RECIPIENTS[0]],
            ATTACKER: bench.clients[RECIPIENTS[1]],
        }
        yield bench.stack, named, SERVICE_TOKEN


def run_attack(
    work: Path, rate: float = 20.0, seconds: float = 20.0, shape: str = "servers"
) -> AttackResults:
    res = AttackResults(rate=rate, seconds=seconds, shape=shape)
    work.mkdir(parents=True, exist_ok=True)
    with _shape(work, shape) as (stack, clients, token):
        pids = {name: proc.pid for name, proc in stack.processes.items()}
        with RssWatch(pids) as watch:
            target = Target(
                stack.url("ingest"),
                stack.url("signing"),
                stack.ports["ingest"],
                str(clients[ATTACKER].http.headers["Authorization"]).removeprefix("Bearer "),
                token,
            )
            with _AttackProcess(target, res):
                time.sleep(1.0)  # the attack is under way before the first ordinary document
                _ordinary(clients, res)
            res.peaks_mib = {k: round(v / MiB, 1) for k, v in sorted(watch.peaks.items())}
    if res.missing or res.errors:
        res.failures.append(
            f"attack: {res.missing} ordinary documents never listed, {len(res.errors)} refused"
        )
    return res


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def section(res: AttackResults) -> list[str]:
    s = Summary.of(res.latencies)
    met = "met" if s.n and s.p99 < TARGET_P99 else "NOT met"
    over = {k: v for k, v in res.peaks_mib.items() if v > RSS_LIMIT_MIB}
    return [
        f"## 6. {TITLE}",
        "",
        f"One client sends ordinary documents at {res.rate:g}/s for {res.seconds:g} s "
        "(one recipient, inbox polled every 15 ms) while four attackers, in a process of "
        "their own, loop: a content "
        "stream bomb (256 MiB inflated) posted to ingest, a PDF with 2,500 empty incremental "
        "updates to signing's `/v1/verify`, 16 uploads that stall after their head for 2 s, "
        f"and 150 MiB bodies without a key. {SHAPES[res.shape]}, three `lienthong serve` "
        f"processes, settings {', '.join(f'`{k}={v}`' for k, v in ABUSE_ENV.items())}.",
        "",
        "| ordinary documents | n | p50 ms | p95 ms | p99 ms | max ms | errors | never listed |",
        "|---|---|---|---|---|---|---|---|",
        f"| accepted → inbox | {s.n} | {_ms(s.p50)} | {_ms(s.p95)} | {_ms(s.p99)} | "
        f"{_ms(s.max)} | {len(res.errors)} | {res.missing} |",
        "",
        f"Target p99 < {TARGET_P99:g} s: **{met}**.",
        "",
        "| attack | requests |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in sorted(res.attacks.items())),
        f"| answers ≥ 500 | {res.attack_5xx} |",
        "",
        f"Peak RSS per process (limit {RSS_LIMIT_MIB} MiB"
        + (f"; over: {', '.join(over)}" if over else "; none over")
        + "):",
        "",
        "| process | peak MiB |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in res.peaks_mib.items()),
        "",
    ]


def summary(res: AttackResults) -> list[str]:
    s = Summary.of(res.latencies)
    peak = max(res.peaks_mib.values(), default=0.0)
    return [
        f"  beside an attack: {res.rate:g}/s ordinary accepted→inbox (n={s.n}) p50 "
        f"{_ms(s.p50)} ms, p99 {_ms(s.p99)} ms (target < {TARGET_P99 * 1000:.0f} ms), "
        f"errors {len(res.errors)}, attack 5xx {res.attack_5xx}, peak RSS {peak} MiB"
    ]
