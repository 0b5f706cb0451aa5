"""Nothing lost, nothing doubled, under faults (issue 4, "Proven under faults").

2,000 documents (``LT_FAULT_DOCS`` for a quicker run), each to 3 recipients, go
through real RabbitMQ, PostgreSQL and SeaweedFS and the services as separate
processes, while a chaos thread SIGKILLs routing three times and an ingest
connector (``serve ingest --workers-only``) twice, restarts RabbitMQ once
(``rabbitmqctl stop_app``/``start_app``: every vhost on the node) and the S3
server once. Recipients register (03) every delivery they see. At the end every
delivery exists once, every inbox holds exactly its documents, every status is
recorded once with no gap, ``lt.dead`` holds only the messages poisoned here,
and ``lienthong audit verify`` passes, both while the system is busy and at the end.

A supervisor restarts a service process that exits on its own, as
``restart: unless-stopped`` does in docker-compose.yml; such exits are reported.
Run with ``-s`` to see the counts; ``LT_FAULT_SEED`` replays a chaos schedule.
"""

from __future__ import annotations

import itertools
import os
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from services.common.bus.deadletters import list_dead
from testkit.faults import (
    ClientStats,
    Databases,
    FaultRecord,
    Registrar,
    Supervisor,
    chaos_thread,
    publish_poison,
    queue_depths,
    rabbitmq_restart,
    schedule,
    send_documents,
    sigkill_group,
)
from testkit.infra import RabbitVhost
from testkit.seaweed import SeaweedS3
from testkit.stack import AgencyClient, Stack

pytestmark = pytest.mark.e2e

DOCS = int(os.environ.get("LT_FAULT_DOCS", "2000"))
SENDER_THREADS = int(os.environ.get("LT_FAULT_SENDERS", "6"))
SEED = int(os.environ.get("LT_FAULT_SEED", str(secrets.randbelow(2**31))))
SEND_BUDGET = float(os.environ.get("LT_FAULT_SEND_SECONDS", "720"))
SETTLE_BUDGET = float(os.environ.get("LT_FAULT_SETTLE_SECONDS", "180"))
LIVE_AUDITS, LIVE_AUDIT_GAP = 3, 20.0

SENDER = "000.00.00.H41"
RECIPIENTS = ("000.00.01.H41", "000.00.02.H41", "000.00.03.H41")
TOKEN = "fault-service-token-0123456789"
FAULTS = {
    "kill routing": 3,
    "kill ingest connector": 2,
    "restart rabbitmq": 1,
    "restart s3": 1,
}


def _provision(stack: Stack) -> dict[str, str]:
    stack.cli("migrate")
    stack.cli("agencies", "add", SENDER, "UBND tỉnh Nghệ An")
    for i, code in enumerate(RECIPIENTS, 1):
        stack.cli("agencies", "add", code, f"Sở {i}", "--parent", SENDER)
    return {
        code: stack.cli("keys", "create", code, "--label", "faults").stdout.strip()
        for code in (SENDER, *RECIPIENTS)
    }


COMMANDS = {
    "ingest": ("serve", "ingest"),
    "ingest-connector": ("serve", "ingest", "--workers-only"),
    "signing": ("serve", "signing"),
    "routing": ("serve", "routing"),
}


def _start(stack: Stack) -> None:
    for name, command in COMMANDS.items():
        stack.start(*command, name=name)
    stack.wait_healthy()


def _supervisor(stack: Stack) -> Supervisor:
    def start(name: str, command: tuple[str, ...]) -> None:
        stack.start(*command, name=name)

    return Supervisor(stack.processes, COMMANDS, start, lambda n: stack.log_tail(n, 1500))


def _actions(
    stack: Stack, s3: SeaweedS3, rng: random.Random, supervisor: Supervisor
) -> dict[str, Callable[[], str]]:
    def kill_and_restart(name: str) -> Callable[[], str]:
        def act() -> str:
            with supervisor.lock:
                proc = stack.processes.pop(name)
                killed = sigkill_group(proc)
                pause = rng.uniform(0.2, 2.0)
                time.sleep(pause)
                stack.start(*COMMANDS[name], name=name)
            state = "killed" if killed else f"HAD EXITED with {proc.returncode}"
            return f"pid {proc.pid} {state}, back after {pause:.1f} s"

        return act

    def restart_s3() -> str:
        s3.restart()
        return f"stop {s3.last_stop_seconds or 0:.1f} s, start {s3.last_start_seconds or 0:.1f} s"

    return {
        "kill routing": kill_and_restart("routing"),
        "kill ingest connector": kill_and_restart("ingest-connector"),
        "restart rabbitmq": lambda: rabbitmq_restart(rng.uniform(2.0, 5.0)),
        "restart s3": restart_s3,
    }


def _settled(dbs: Databases, vhost: str, expected: int) -> dict[str, Any]:
    busy = {name: n for name, n in queue_depths(vhost).items() if n and name != "lt.dead"}
    return {
        "messages in queues": busy,
        "routing deliveries": dbs.scalar("routing", "SELECT count(*) FROM deliveries"),
        "routing at 03": dbs.scalar(
            "routing", "SELECT count(*) FROM deliveries WHERE status = '03'"
        ),
        "ingest inbox at 03": dbs.scalar(
            "ingest",
            "SELECT count(*) FROM deliveries WHERE status = '03' AND arrived_at IS NOT NULL",
        ),
        "unpublished outbox rows": sum(dbs.unpublished().values()),
        "expected": expected,
    }


def _wait_settled(
    dbs: Databases, vhost: str, expected: int, budget: float
) -> tuple[dict[str, Any], float]:
    """Until every delivery is at 03 on both sides, every outbox row is published and
    every queue but lt.dead is empty (signing's verdicts and their audit records too)."""
    began = time.monotonic()
    while True:
        state = _settled(dbs, vhost, expected)
        done = (
            not state["messages in queues"]
            and state["routing at 03"] == expected
            and state["ingest inbox at 03"] == expected
            and state["unpublished outbox rows"] == 0
        )
        if done or time.monotonic() - began > budget:
            return state, time.monotonic() - began
        time.sleep(2.0)


def _check_documents(dbs: Databases, stats: ClientStats, problems: list[str]) -> set[str]:
    accepted = set(stats.accepted.values())
    if len(accepted) != len(stats.accepted):
        problems.append("two document numbers were answered with the same id")
    rows = dbs.rows("ingest", "SELECT id, idempotency_key FROM documents")
    ids = {r.id for r in rows}
    keys = Counter(r.idempotency_key for r in rows)
    if len(rows) != DOCS or ids != accepted:
        problems.append(
            f"ingest holds {len(rows)} documents, {len(ids - accepted)} not answered to the "
            f"client, {len(accepted - ids)} answered but missing"
        )
    doubled = [k for k, n in keys.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} Idempotency-Keys stored twice, e.g. {doubled[:3]}")
    exchanges = {r.document for r in dbs.rows("routing", "SELECT document FROM exchanges")}
    if exchanges != accepted:
        problems.append(
            f"routing has {len(exchanges)} exchanges: {len(accepted - exchanges)} missing, "
            f"{len(exchanges - accepted)} unknown"
        )
    return accepted


def _check_deliveries(
    dbs: Databases, accepted: set[str], problems: list[str]
) -> dict[str, tuple[str, str]]:
    routing = dbs.rows("routing", "SELECT id, document, recipient_code FROM deliveries")
    pairs = Counter((r.document, r.recipient_code) for r in routing)
    doubled = [p for p, n in pairs.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} document×recipient pairs delivered twice: {doubled[:3]}")
    wanted = {(doc, r) for doc in accepted for r in RECIPIENTS}
    if set(pairs) != wanted or len(routing) != len(wanted):
        problems.append(
            f"routing has {len(routing)} deliveries for {len(wanted)} wanted: "
            f"{len(wanted - set(pairs))} missing, {len(set(pairs) - wanted)} unexpected"
        )
    return {r.id: (r.document, r.recipient_code) for r in routing}


def _check_inboxes(
    dbs: Databases,
    clients: dict[str, AgencyClient],
    accepted: set[str],
    by_id: dict[str, tuple[str, str]],
    problems: list[str],
) -> dict[str, int]:
    rows = dbs.rows(
        "ingest",
        "SELECT delivery_id, document, recipient_code, status, status_seq FROM deliveries "
        "WHERE arrived_at IS NOT NULL",
    )
    counts: dict[str, int] = {}
    for code in RECIPIENTS:
        mine = [r for r in rows if r.recipient_code == code]
        counts[code] = len(mine)
        documents = Counter(r.document for r in mine)
        if len(mine) != len(accepted) or set(documents) != accepted:
            problems.append(
                f"inbox of {code} holds {len(mine)} deliveries of {len(documents)} documents "
                f"for {len(accepted)} sent to it"
            )
        twice = [d for d, n in documents.items() if n > 1]
        if twice:
            problems.append(f"inbox of {code} lists {len(twice)} documents twice")
        listed = clients[code].http.get(
            f"{clients[code].base_url}/v1/inbox", params={"limit": 500}, timeout=60
        )
        items = listed.json()["items"] if listed.status_code == 200 else []
        if len(items) != min(500, len(accepted)) or len({i["delivery_id"] for i in items}) != len(
            items
        ):
            problems.append(f"GET /v1/inbox of {code} answered {listed.status_code}, {len(items)}")
        if any(i["id"] not in accepted or i["status"] != "03" for i in items):
            problems.append(f"GET /v1/inbox of {code} lists a document not sent or not at 03")
    ingest_ids = {r.delivery_id for r in rows}
    if ingest_ids != set(by_id):
        problems.append(
            f"ingest knows {len(ingest_ids)} arrived deliveries, routing {len(by_id)}: "
            f"{len(set(by_id) - ingest_ids)} never arrived, {len(ingest_ids - set(by_id))} unknown"
        )
    wrong = [r.delivery_id for r in rows if (r.status, r.status_seq) != ("03", 2)]
    if wrong:
        problems.append(f"{len(wrong)} inbox rows not at 03 with seq 2, e.g. {wrong[:3]}")
    return counts


def _check_statuses(
    dbs: Databases, by_id: dict[str, tuple[str, str]], problems: list[str]
) -> dict[str, int]:
    events = dbs.rows(
        "routing", "SELECT delivery_id, seq, code FROM status_events ORDER BY delivery_id, seq"
    )
    history: dict[str, list[tuple[int, str]]] = {}
    for e in events:
        history.setdefault(e.delivery_id, []).append((e.seq, e.code))
    bad = {d: h for d, h in history.items() if h != [(1, "01"), (2, "03")]}
    if bad:
        sample = dict(itertools.islice(bad.items(), 3))
        problems.append(f"{len(bad)} deliveries without exactly 01 then 03 (seq 1, 2): {sample}")
    silent = set(by_id) - set(history)
    if silent:
        problems.append(f"{len(silent)} deliveries have no status event")
    heads = dbs.rows("routing", "SELECT id, status, seq FROM deliveries")
    off = [h.id for h in heads if (h.status, h.seq) != ("03", 2)]
    if off:
        problems.append(f"{len(off)} routing deliveries not at 03 with seq 2")
    return dict(Counter(e.code for e in events))


def _check_dead(
    broker_url: str, expected: set[tuple[str, str]], problems: list[str], notes: list[str]
) -> int:
    with Connection(broker_url) as conn:
        letters = list_dead(conn)
    seen = Counter((d.message_id, d.consumer) for d in letters)
    for d in letters:
        notes.append(
            f"dead letter {d.type} {d.message_id} by {d.consumer}, attempts {d.attempts}, "
            f"at {d.dead_at}: {d.reason[:120]}"
        )
    twice = {pair: n for pair, n in seen.items() if n > 1}
    if twice:
        notes.append(f"poisoned messages dead-lettered more than once: {twice}")
    unexpected = [d for d in letters if (d.message_id, d.consumer) not in expected]
    if unexpected:
        lines = [f"{d.type} {d.message_id} by {d.consumer}: {d.reason[:200]}" for d in unexpected]
        problems.append(f"{len(unexpected)} unexpected dead letters:\n  " + "\n  ".join(lines[:20]))
    missing = expected - set(seen)
    if missing:
        problems.append(f"poisoned messages not dead-lettered: {sorted(missing)}")
    return len(letters)


def _audit(stack: Stack, problems: list[str], when: str) -> str:
    """``lienthong audit verify``; a failure, the command missing included, is a
    problem. ``when`` names the moment."""
    result = stack.cli("audit", "verify", check=False)
    text = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        problems.append(f"lienthong audit verify {when} exited {result.returncode}: {text[-1000:]}")
    return text.splitlines()[-1] if text else f"exit {result.returncode}"


def _live_audits(
    stack: Stack, recipients: list[threading.Thread], problems: list[str]
) -> list[str]:
    """``lienthong audit verify`` up to LIVE_AUDITS times, every LIVE_AUDIT_GAP seconds,
    while the recipients are still registering (routing appends to the chain)."""
    results = []
    for i in range(LIVE_AUDITS):
        if not any(t.is_alive() for t in recipients):
            break
        results.append(_audit(stack, problems, f"while the system was busy (run {i + 1})"))
        time.sleep(LIVE_AUDIT_GAP)
    if not results:
        problems.append("the audit chain was never verified while the system was busy")
    return results


@pytest.mark.timeout(1500)
def test_nothing_lost_or_doubled_under_faults(
    tmp_path: Path, fresh_rabbit: RabbitVhost, pg_urls: dict[str, str]
) -> None:
    rng = random.Random(SEED)
    began = time.monotonic()
    s3 = SeaweedS3(tmp_path / "seaweedfs")
    s3.start()
    stack = Stack(
        tmp_path / "stack",
        {
            "LIENTHONG_BROKER_URL": fresh_rabbit.url,
            "LIENTHONG_STORAGE_URL": s3.url("lt-faults"),
            "LIENTHONG_INGEST_DATABASE_URL": pg_urls["ingest"],
            "LIENTHONG_SIGNING_DATABASE_URL": pg_urls["signing"],
            "LIENTHONG_ROUTING_DATABASE_URL": pg_urls["routing"],
            "LIENTHONG_SERVICE_TOKEN": TOKEN,
        },
    )
    stack.data_dir.mkdir()
    dbs = Databases(pg_urls)
    try:
        _run(stack, s3, dbs, fresh_rabbit, rng, began)
    finally:
        stack.stop_all()
        s3.stop()
        dbs.dispose()


def _run(
    stack: Stack,
    s3: SeaweedS3,
    dbs: Databases,
    vhost: RabbitVhost,
    rng: random.Random,
    began: float,
) -> None:
    keys = _provision(stack)
    _start(stack)
    clients = {code: AgencyClient(stack.url("ingest"), code, key) for code, key in keys.items()}
    poisons = publish_poison(vhost.url)
    # Every poison carries its id in the AMQP properties, so lt.dead names even the one
    # whose body cannot be read.
    expected_dead = {(p.message_id, c) for p in poisons for c in p.consumers}
    ready = time.monotonic()

    stats = ClientStats()
    urls = [stack.url("ingest")]
    deadline = ready + SEND_BUDGET
    numbers = iter(range(1, DOCS + 1))
    numbers_lock = threading.Lock()
    senders_done = threading.Event()

    def accepted() -> int:
        with stats.lock:
            return len(stats.accepted)

    def recipient_done(mine: set[str]) -> bool:
        return senders_done.is_set() and len(mine) >= accepted()

    faults = schedule(rng, FAULTS, 0.05, 0.9)
    records: list[FaultRecord] = []
    chaos_errors: list[str] = []
    run_tag = f"faults-{SEED}"
    senders = [
        threading.Thread(
            target=send_documents,
            args=(urls, keys[SENDER], RECIPIENTS, numbers, numbers_lock, stats, run_tag, deadline),
            name=f"sender-{i}",
        )
        for i in range(SENDER_THREADS)
    ]
    recipients = [
        threading.Thread(
            target=Registrar(urls, keys[code], code, stats).run,
            args=(recipient_done, deadline),
            name=f"recipient-{code}",
        )
        for code in RECIPIENTS
    ]
    supervisor = _supervisor(stack)
    with (
        supervisor,
        chaos_thread(
            faults, _actions(stack, s3, rng, supervisor), accepted, DOCS, records, chaos_errors
        ) as chaos,
    ):
        for t in (*senders, *recipients):
            t.start()
        for t in senders:
            t.join()
        sent = time.monotonic()
        senders_done.set()
        # An operator may verify the chain while exchanges go on: no false alarm then.
        live_problems: list[str] = []
        live_audits = _live_audits(stack, recipients, live_problems)
        chaos.join(timeout=max(1.0, deadline - time.monotonic()))
        for t in recipients:
            t.join(timeout=max(1.0, deadline - time.monotonic()))
    reported = time.monotonic()

    expected = len(stats.accepted) * len(RECIPIENTS)
    state, settle_seconds = _wait_settled(dbs, vhost.name, expected, SETTLE_BUDGET)
    settled = time.monotonic()

    problems: list[str] = [*live_problems]
    notes: list[str] = []
    if stats.post_failures:
        problems.append(f"{len(stats.post_failures)} POSTs failed: {stats.post_failures[:3]}")
    if stats.report_failures:
        problems.append(
            f"{len(stats.report_failures)} status reports failed: {stats.report_failures[:3]}"
        )
    done_faults = Counter(r.name for r in records if not r.detail.startswith("FAILED"))
    if dict(done_faults) != FAULTS or chaos_errors:
        problems.append(f"faults done {dict(done_faults)} of {FAULTS}; errors {chaos_errors}")
    accepted_ids = _check_documents(dbs, stats, problems)
    by_id = _check_deliveries(dbs, accepted_ids, problems)
    inbox_counts = _check_inboxes(dbs, clients, accepted_ids, by_id, problems)
    status_counts = _check_statuses(dbs, by_id, problems)
    dead = _check_dead(vhost.url, expected_dead, problems, notes)
    audit = _audit(stack, problems, "at the end")
    for name in COMMANDS:
        proc = stack.processes.get(name)
        if proc is None or proc.poll() is not None:
            problems.append(f"{name} is not running at the end:\n{stack.log_tail(name, 2000)}")
    for e in supervisor.exits:
        last = e.log_tail.strip().splitlines()[-1:] or ["(empty log)"]
        notes.append(
            f"{e.name} exited on its own with {e.code} {e.at - ready:.1f} s in and was "
            f"restarted by the supervisor; its last log line: {last[0][:300]}"
        )

    lines = [
        f"fault test: seed {SEED}, {DOCS} documents × {len(RECIPIENTS)} recipients, "
        f"{SENDER_THREADS} sender threads",
        f"  setup {ready - began:.1f} s; sending {sent - ready:.1f} s "
        f"({len(stats.accepted) / max(sent - ready, 1e-9):.1f} docs/s); reporting done "
        f"{reported - ready:.1f} s after start; settling {settle_seconds:.1f} s; "
        f"total {settled - began:.1f} s",
        f"  documents accepted {len(stats.accepted)} (POST attempts {stats.post_attempts}, "
        f"retries {stats.post_retries}, replayed by Idempotency-Key {stats.replayed})",
        f"  deliveries {len(by_id)} (routing), inbox items {sum(inbox_counts.values())} "
        f"{inbox_counts}",
        f"  status events {sum(status_counts.values())} {status_counts}; reports "
        f"{len(stats.reported)} (attempts {stats.report_attempts}, retries "
        f"{stats.report_retries}, 409 after a retry that had gone through "
        f"{stats.report_conflicts_after_retry}), inbox polls {stats.inbox_polls}",
        f"  dead letters {dead} (poisoned on purpose {len(expected_dead)} copies of "
        f"{len(poisons)} messages)",
        f"  audit at the end: {audit}; while busy: {'; '.join(live_audits)}",
        f"  settled state: {state}",
        f"  exits the supervisor restarted: {len(supervisor.exits)}",
        "  faults:",
        *(
            f"    {r.name:22} after {r.accepted_before:5} accepted, "
            f"{r.started - ready:6.1f} s in, took {r.seconds:5.1f} s: {r.detail}"
            for r in records
        ),
        *(f"  note: {n}" for n in notes),
    ]
    report = "\n".join(lines)
    print("\n" + report)
    (stack.data_dir / "fault-report.txt").write_text(report + "\n")
    assert not problems, report + "\n\nPROBLEMS:\n- " + "\n- ".join(problems)
