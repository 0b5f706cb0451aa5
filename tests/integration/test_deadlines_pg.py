"""Several routing processes on one PostgreSQL database: parallel deadline scanners
give each notice once, and scanning alongside status reports and updates neither
deadlocks nor repeats a notice."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from services.common.bus.envelope import wrap
from services.common.bus.messages import DocumentReceived
from services.common.contract import Status
from services.common.db import Database
from services.common.internal_api import StatusReport
from services.common.wiring import migrate
from services.routing.audit import verify_chain
from services.routing.consumers import on_document_received
from services.routing.deadlines.scanner import ScanResult, scan_once
from services.routing.models import Delivery
from services.routing.statuses import report_status
from tests.unit.routing.test_deadlines_scan import (
    DUE,
    RECIPIENT,
    SENDER,
    add_agencies,
    add_delivery,
    notifications,
    outbox_events,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_dbs(pg_urls: dict[str, str]) -> Iterator[list[Database]]:
    """One migrated routing database; four engines on it, as four processes would have."""
    migrate("routing", pg_urls["routing"])
    dbs = [Database(pg_urls["routing"]) for _ in range(4)]
    add_agencies(dbs[0])
    yield dbs
    for db in dbs:
        db.dispose()


def _in_parallel(work: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work[i]()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_parallel_scanners_give_each_notice_once(pg_dbs: list[Database]) -> None:
    now = DUE + timedelta(minutes=1)
    soon = [
        add_delivery(pg_dbs[0], due_at=now + timedelta(hours=1), due_soon_at=DUE, number=i)
        for i in range(25)
    ]
    late = [add_delivery(pg_dbs[0], number=100 + i) for i in range(25)]

    def scan_repeatedly(db: Database) -> ScanResult:
        total = ScanResult()
        for _ in range(3):
            total += scan_once(db, now, batch=4)
        return total

    results = _in_parallel([lambda db=db: scan_repeatedly(db) for db in pg_dbs])  # type: ignore[misc]
    total = sum(results, ScanResult())
    assert total == ScanResult(due_soon=25, overdue=25, emails=25 + 50)
    events = Counter((e["type"], e["payload"]["delivery_id"]) for e in outbox_events(pg_dbs[0]))
    assert events == Counter(
        [("delivery.due_soon", d) for d in soon] + [("delivery.overdue", d) for d in late]
    )
    mails = Counter((n.kind, n.delivery_id) for n in notifications(pg_dbs[0]))
    assert set(mails.values()) == {1} and len(mails) == 75
    check = verify_chain(pg_dbs[0])
    assert check.ok and check.records == 50


def _document_of(db: Database, delivery_id: str) -> str:
    with db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery.document


def test_scanning_while_statuses_and_updates_arrive_neither_deadlocks_nor_repeats(
    pg_dbs: list[Database],
) -> None:
    """Two scanners while the recipient reports statuses (delivery locked, then the audit
    head) and the sender sends updates (audit head, then the old deliveries locked)."""
    late = [add_delivery(pg_dbs[0], number=i) for i in range(40)]
    reported, superseded = late[:20], range(20, 40)
    now = DUE + timedelta(hours=2)

    def report_all(db: Database) -> None:
        for delivery_id in reported:
            report_status(
                db,
                delivery_id,
                StatusReport(Status.REGISTERED, RECIPIENT, arrived_at=now.isoformat()),
            )

    def update_all(db: Database) -> None:
        for number in superseded:
            old = _document_of(db, late[number])
            update = DocumentReceived(
                document=str(uuid.uuid4()),
                document_id=f"{SENDER},2026/11/22,{number}/UBND-VP",
                sender=SENDER,
                recipients=(RECIPIENT,),
                sha256="ef" * 32,
                size=3,
                received_at=now.isoformat(),
                subject="Cập nhật",
                priority=0,
                due_date=None,
                paper=0,
                business_doc_type=2,
                supersedes=old,
                business_reason="",
                metadata={
                    "Subject": "Cập nhật",
                    "Bussiness": {
                        "BussinessDocType": 2,
                        "DocumentId": f"{SENDER},2026/11/21,{number}/UBND-VP",
                    },
                },
            )
            with db.unit_of_work() as session:
                on_document_received(session, update, wrap(update))

    def scan(db: Database) -> ScanResult:
        total = ScanResult()
        for _ in range(10):
            total += scan_once(db, now, batch=2)
        return total

    results = _in_parallel(
        [
            lambda: report_all(pg_dbs[0]),
            lambda: update_all(pg_dbs[1]),
            lambda: scan(pg_dbs[2]),
            lambda: scan(pg_dbs[3]),
        ]
    )
    assert results[2].overdue + results[3].overdue == 40
    assert Counter(
        e["payload"]["delivery_id"] for e in outbox_events(pg_dbs[0], "delivery.overdue")
    ) == Counter(late)
    with pg_dbs[0].reading() as session:
        assert {session.get(Delivery, d).status for d in reported} == {"03"}  # type: ignore[union-attr]
    assert verify_chain(pg_dbs[0]).ok
