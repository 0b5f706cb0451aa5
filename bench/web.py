"""The web app (issue 12): the inbox page with 10,000 deliveries in it, and the batch
flow (personal signature + seal) through HTTP against the same work done by direct
calls to signing's API.

    .venv/bin/python -m bench.run --only web [--web-deliveries 10000] [--web-docs 40]

Runs the four services as separate processes on the embedded shape (SQLite, the
filesystem bus, a local object directory); section 8 of bench/RESULTS.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import requests

from bench.measure import Summary
from bench.routing_probes import cpu_seconds
from services.common.db import Database
from services.ingest.models import Delivery, Document
from testkit.official_doc import official_letter
from testkit.stack import Stack
from testkit.webclient import PIN, Person

SENDER, RECIPIENT = "000.00.00.H41", "000.00.01.H41"
TITLE = "The web app: inbox with 10,000 deliveries, batch signing (issue 12)"


@dataclass(frozen=True)
class WebResults:
    deliveries: int
    inbox: dict[str, Summary]  # by the query shown
    docs: int
    batch_sign_s: float
    batch_seal_s: float
    direct_s: float
    workers: int
    failures: tuple[str, ...] = ()
    singles: tuple[tuple[str, float], ...] = ()  # ms per signing call, one at a time
    # CPU ms per document by phase ("batch sign", "batch seal", "direct") and process
    cpu: tuple[tuple[str, dict[str, float]], ...] = ()
    load: tuple[tuple[float, float, float], tuple[float, float, float]] = ((0, 0, 0), (0, 0, 0))
    rounds: tuple[tuple[float, float, float], ...] = ()  # (sign s, seal s, direct s) each

    @property
    def batch_rate(self) -> float:
        return self.docs / (self.batch_sign_s + self.batch_seal_s)

    @property
    def direct_rate(self) -> float:
        return self.docs / self.direct_s


def _otp(text: str) -> str:
    found = re.search(r"one-time password: (\S+)", text)
    assert found, text
    return found.group(1)


def seed_inbox(stack: Stack, count: int) -> None:
    """``count`` documents from SENDER in RECIPIENT's inbox, written to ingest's database
    as its projections leave them (the bus would take minutes to carry them all)."""
    db = Database(f"sqlite:///{stack.data_dir / 'ingest.sqlite3'}")
    now = datetime.now(UTC)
    try:
        with db.unit_of_work() as session:
            for n in range(count):
                doc_id = str(uuid.uuid4())
                moment = now - timedelta(minutes=n)
                number = n + 1
                session.add(
                    Document(
                        id=doc_id,
                        document_id=f"{SENDER},{moment:%Y/%m/%d},{number}/UBND-VP",
                        sender_code=SENDER,
                        recipients=[RECIPIENT],
                        subject=f"Về việc số {number} trong kế hoạch chuyển đổi số",
                        sha256=f"{n:064x}",
                        size=1000,
                        page_count=1,
                        doc_metadata={
                            "Code": {"CodeNumber": str(number), "CodeNotation": "UBND-VP"}
                        },
                        received_at=moment,
                    )
                )
                session.flush()  # the document row first (foreign key)
                session.add(
                    Delivery(
                        delivery_id=str(uuid.uuid4()),
                        document=doc_id,
                        recipient_code=RECIPIENT,
                        status="01" if n % 3 else "03",
                        status_at=moment,
                        arrived_at=moment,
                        created_at=moment,
                        due_at=moment + timedelta(days=7),
                        overdue_at=moment + timedelta(days=7) if n % 5 == 0 else None,
                    )
                )
    finally:
        db.dispose()


def _timed_gets(person: Person, path: str, n: int) -> Summary:
    for _ in range(10):
        person.get(path)
    times = []
    for _ in range(n):
        began = time.perf_counter()
        answer = person.http.get(person.base + path, timeout=60)
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, answer.status_code
    return Summary.of(times)


def _wait_batch(person: Person, batch_path: str) -> list[str]:
    """The batch's failures, once every document has its outcome."""
    while True:
        progress = person.http.get(person.base + batch_path + "/progress", timeout=60).json()
        if progress["done"]:
            return [i["message"] for i in progress["items"] if i["state"] == "failed"]
        time.sleep(0.1)


FAILURES: list[str] = []


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (signing's PDF workers)."""
    try:
        return cpu_seconds(psutil.Process(pid), children=True)
    except psutil.Error:
        return 0.0


class CpuMeter:
    """CPU per document of each service process over a phase."""

    def __init__(self, stack: Stack) -> None:
        self.pids = {name: proc.pid for name, proc in stack.processes.items()}
        self.phases: list[tuple[str, dict[str, float]]] = []
        self._seen: dict[str, int] = {}

    @contextlib.contextmanager
    def phase(self, name: str, docs: int) -> Iterator[None]:
        """CPU ms per document; a phase measured in several rounds gets their mean."""
        before = {n: _cpu_seconds(p) for n, p in self.pids.items()}
        yield
        used = {n: (_cpu_seconds(p) - before[n]) * 1000 / docs for n, p in self.pids.items()}
        self._seen[name] = self._seen.get(name, 0) + 1
        for i, (known, by) in enumerate(self.phases):
            if known == name:
                k = self._seen[name]
                self.phases[i] = (name, {n: (by[n] * (k - 1) + used[n]) / k for n in by})
                return
        self.phases.append((name, used))


def _batch(person: Person, kind: str, drafts: list[str]) -> float:
    person.get("/waiting" if kind == "sign" else "/to-seal")
    began = time.perf_counter()
    answer = person.post("/batches", {"kind": kind, "draft": drafts, "pin": PIN})
    found = re.search(r"/batches/[0-9a-f-]{36}", answer.url)
    assert found, answer.text[-1000:]
    FAILURES.extend(f"batch {kind}: {m}" for m in _wait_batch(person, found.group(0)))
    return time.perf_counter() - began


def letters(count: int, first: int) -> list[bytes]:
    """``count`` different letters (number and subject): signing keeps a page's text
    under a fingerprint of its content, so the same bytes again would be a cache hit
    no real batch of different documents gets."""
    return [
        official_letter(number=n, subject=f"V/v triển khai văn bản điện tử, đợt {n}")
        for n in range(first, first + count)
    ]


def _direct(signing_url: str, token: str, docs: int, workers: int, first: int) -> float:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"

    def sign(options: dict[str, Any], data: bytes) -> bytes:
        answer = http.post(
            signing_url + "/internal/v1/sign",
            files={"file": ("d.pdf", data, "application/pdf")},
            data={"options": json.dumps(options, ensure_ascii=False)},
            timeout=120,
        )
        if answer.status_code != 200:
            FAILURES.append(f"direct {options['profile']}: {answer.text[:200]}")
            return data
        return answer.content

    personal = {
        "profile": "personal", "level": "B-T", "agency": SENDER,
        "person": "Nguyễn Văn An", "signer_full_name": "Nguyễn Văn An",
    }  # fmt: skip
    seal = {"profile": "organization", "level": "B-LT", "agency": SENDER}
    pdfs = letters(docs + 21, first=first)

    def one(n: int) -> None:
        sign(seal, sign(personal, pdfs[n]))

    one(docs)  # warm-up: keys, certificates, fonts
    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(docs)))
    elapsed = time.perf_counter() - began
    singles = pdfs[docs + 1 :]
    began = time.perf_counter()
    signed = [sign(personal, pdf) for pdf in singles[:10]]
    SINGLE["personal B-T"] = (time.perf_counter() - began) / 10 * 1000
    # the seal's page was read by the personal signature just before, as in a batch
    began = time.perf_counter()
    for data in signed:
        sign(seal, data)
    SINGLE["seal B-LT"] = (time.perf_counter() - began) / 10 * 1000
    return elapsed


SINGLE: dict[str, float] = {}  # ms per signing call, one at a time


def run_web(
    work: Path, deliveries: int, docs: int, n_requests: int, workers: int = 3, rounds: int = 3
) -> WebResults:
    """``workers``: documents a batch signs at a time (LIENTHONG_WEB_BATCH_WORKERS), and
    the direct calls' threads."""
    FAILURES.clear()
    SINGLE.clear()
    work.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        work,
        {"LIENTHONG_WEB_SECURE_COOKIES": "never", "LIENTHONG_WEB_BATCH_WORKERS": str(workers)},
    )
    stack.cli("migrate")
    stack.cli("demo", "seed")
    seed_inbox(stack, deliveries)
    logins = {
        "leader": _otp(stack.cli("users", "add", "ld@bench.vn", "--agency", SENDER, "--role",
                                 "leader", "--name", "Nguyễn Văn An").stdout),
        "clerk": _otp(stack.cli("users", "add", "vt@bench.vn", "--agency", SENDER, "--role",
                                "clerk", "--name", "Văn Thư").stdout),
        "inbox": _otp(stack.cli("users", "add", "vt@bench-01.vn", "--agency", RECIPIENT,
                                "--role", "clerk", "--name", "Văn Thư Sở").stdout),
    }  # fmt: skip
    for service in ("ingest", "signing", "routing", "web"):
        stack.serve(service)
    try:
        stack.wait_healthy(("ingest", "signing", "routing", "web"))
        base = stack.url("web")
        people = {name: Person(base) for name in logins}
        emails = {"leader": "ld@bench.vn", "clerk": "vt@bench.vn", "inbox": "vt@bench-01.vn"}
        for name, person in people.items():
            person.first_login(emails[name], logins[name], pin=name != "inbox")
        inbox = {
            "/inbox": _timed_gets(people["inbox"], "/inbox", n_requests),
            "/inbox?q=số 4321": _timed_gets(
                people["inbox"], "/inbox?q=s%E1%BB%91%204321", n_requests
            ),
            "/inbox?overdue=1": _timed_gets(people["inbox"], "/inbox?overdue=1", n_requests),
            "/inbox?status=03&from=000.00.00.H41": _timed_gets(
                people["inbox"], f"/inbox?status=03&from={SENDER}", n_requests
            ),
        }
        clerk, leader = people["clerk"], people["leader"]
        leader_id = re.search(r'<option value="(\d+)">Nguyễn Văn An', clerk.get("/drafts/new").text)
        assert leader_id

        def drafts_of(pdfs: list[bytes]) -> list[str]:
            made_ids = []
            for n, pdf in enumerate(pdfs):
                made = clerk.post(
                    "/drafts",
                    {"subject": f"Dự thảo {n}", "notation": "UBND-VP",
                     "leader_id": leader_id.group(1), "priority": "0", "type_name": "Công văn",
                     "place": "Nghệ An"},
                    files={"file": ("d.pdf", pdf, "application/pdf")},
                )  # fmt: skip
                found = re.search(r"/drafts/([0-9a-f-]{36})", made.url)
                assert found, made.text[-500:]
                made_ids.append(found.group(1))
            return made_ids

        # A running service is warm: one draft signed and sealed on its own first (keys
        # decrypted, fonts and the PDF workers loaded), not timed.
        (warm,) = drafts_of(letters(1, first=999_000))
        leader.get(f"/drafts/{warm}")
        assert leader.post(f"/drafts/{warm}/sign", {"pin": PIN}).status_code == 200
        clerk.get(f"/drafts/{warm}")
        assert clerk.post(f"/drafts/{warm}/seal", {"pin": PIN}).status_code == 200
        meter = CpuMeter(stack)
        load_before = os.getloadavg()
        token = (stack.data_dir / "service-token").read_text().strip()
        timed: list[tuple[float, float, float]] = []
        for round_no in range(rounds):
            drafts = drafts_of(letters(docs, first=1 + 1000 * round_no))
            with meter.phase("batch sign", docs):
                sign_s = _batch(leader, "sign", drafts)
            with meter.phase("batch seal", docs):
                seal_s = _batch(clerk, "seal", drafts)
            with meter.phase("direct calls", docs):
                direct_s = _direct(
                    stack.url("signing"), token, docs, workers, first=5000 + 1000 * round_no
                )
            timed.append((sign_s, seal_s, direct_s))
        load_after = os.getloadavg()
    finally:
        stack.stop_all()
    # the round whose batch rate is the median of the rounds'
    sign_s, seal_s, direct_s = sorted(timed, key=lambda t: t[0] + t[1])[len(timed) // 2]
    return WebResults(
        deliveries,
        inbox,
        docs,
        sign_s,
        seal_s,
        sorted(t[2] for t in timed)[len(timed) // 2],
        workers,
        tuple(FAILURES),
        tuple(SINGLE.items()),
        tuple(meter.phases),
        (load_before, load_after),
        tuple(timed),
    )


def section(r: WebResults) -> list[str]:
    return [*markdown(r).rstrip("\n").split("\n"), ""]


def markdown(r: WebResults) -> str:
    rows = "\n".join(
        f"| `{path}` | {s.n} | {s.p50:.1f} | {s.p95:.1f} | {s.max:.1f} |"
        for path, s in r.inbox.items()
    )
    target = max(s.p95 for s in r.inbox.values())
    singles = ", ".join(f"{name} {ms:.0f} ms" for name, ms in r.singles)
    ratio = r.batch_rate / r.direct_rate
    names = list(r.cpu[0][1]) if r.cpu else []
    every_round = ", ".join(
        f"{r.docs / (sign + seal):.1f} / {r.docs / direct:.1f}" for sign, seal, direct in r.rounds
    )
    cpu_rows = "\n".join(
        f"| {phase} | " + " | ".join(f"{by[n]:.1f}" for n in names) + f" | {sum(by.values()):.1f} |"
        for phase, by in r.cpu
    )
    return f"""## 8. {TITLE}

Four `lienthong serve` processes on the embedded shape (SQLite, filesystem bus, local
objects), measured by `python -m bench.run --only web` from a client on the same host.

### Inbox page with {r.deliveries:,} deliveries (target: p95 < 150 ms)

The recipient clerk's `GET /inbox` (50 newest, with the incoming register's numbers), the
web app asking ingest over HTTP with the service token. Times in ms, client side (they
include the server's).

| page | requests | p50 | p95 | max |
|---|---|---|---|---|
{rows}

Worst p95: **{target:.1f} ms** ({"meets" if target < 150 else "misses"} the 150 ms target).

### Batch: personal signature + seal, {r.docs} drafts (target: ≥ 10 documents/s)

The leader signs all {r.docs} drafts in one batch (one PIN entry, PAdES B-T), then the
clerk numbers and seals them in one batch (B-LT); {r.workers} documents at a time (the
web app's default, `LIENTHONG_WEB_BATCH_WORKERS`). Timed from the form's submission to the
progress saying done. The same work by direct calls to signing's
`POST /internal/v1/sign` (personal, then organization), {r.workers} at a time. {len(r.rounds)}
rounds, each with {r.docs} new drafts, in this order; the table gives the round with the
median batch rate, then every round:

| path | seconds | documents/s |
|---|---|---|
| web app: batch sign ({r.batch_sign_s:.2f} s) + batch seal ({r.batch_seal_s:.2f} s) \
| {r.batch_sign_s + r.batch_seal_s:.2f} | **{r.batch_rate:.1f}** |
| direct signing API calls (median round) | {r.direct_s:.2f} | {r.direct_rate:.1f} |

Every round, documents/s, web app / direct: {every_round}.

Ratio web / direct: **{ratio:.2f}** (the web app adds the drafts' storage, the register
and the batch bookkeeping). Target ≥ 10 documents/s: {"met" if r.batch_rate >= 10 else "missed"}.

One signing call at a time over HTTP (mean of 10, after the runs above): {singles}.
Each draft is a different letter (its number and subject), as in a real batch: signing
keeps the page text it read to place a signature for the seal over that very output,
never for another file.

CPU per document of each process (user + system, signing with its PDF workers), ms, the
mean of the rounds;
load average (1/5/15 min) before the batches {_load(r.load[0])}, after the direct calls
{_load(r.load[1])}:

| phase | {" | ".join(names)} | all |
|---|{"---:|" * (len(names) + 1)}
{cpu_rows}

Signatures that failed during the run: {len(r.failures)}{_failures(r.failures)}
"""


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def _failures(found: tuple[str, ...]) -> str:
    if not found:
        return "."
    shown = "\n".join(f"- {f}" for f in found[:5])
    return (
        ". Each failed document kept its own outcome and the rest went on; signing "
        "two documents at the same time in one signing process can fail inside "
        f"asn1crypto (a shared certificate parsed lazily by two threads):\n\n{shown}"
    )
