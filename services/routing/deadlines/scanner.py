"""The deadline scanner: due-soon and overdue notices, each exactly once per delivery.

Every ``LIENTHONG_DEADLINE_SCAN_SECONDS`` the scanner looks for open deliveries
(status not in ``rules.DONE``) whose due-soon time or due time has passed and
whose notice has not been given. For each, in one transaction: the notice is
marked on the delivery (``due_soon_sent_at`` / ``overdue_sent_at``), the event
(``delivery.due_soon`` / ``delivery.overdue``) goes into the outbox for lt.events,
an audit record is appended, and the emails are queued (the recipient's official
mailbox; for overdue also the sender's, as escalation).

Rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so any
number of routing processes can scan at once: a row one scanner holds is skipped
by the others, and once it commits its mark takes the row out of every later
scan. (SQLite has one writer at a time anyway.) The audit head is locked before
the claim, and the claim never waits, so no lock order with other writers can
deadlock. A delivery found already late gets the overdue notice only: a due-soon
notice after the deadline says nothing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.bus.messages import DeliveryDueSoon, DeliveryOverdue
from services.common.bus.outbox import add_to_outbox
from services.common.bus.topology import EVENTS
from services.common.contract import Status
from services.common.db import Database
from services.routing import audit
from services.routing.deadlines import notices
from services.routing.deadlines.rules import DONE
from services.routing.models import BUS, OPEN_STATUS_SQL, Agency, Delivery, Exchange

log = logging.getLogger(__name__)

Kind = Literal["due_soon", "overdue"]
BATCH = 200


@dataclass(frozen=True)
class ScanResult:
    due_soon: int = 0
    overdue: int = 0
    emails: int = 0

    def __add__(self, other: ScanResult) -> ScanResult:
        return ScanResult(
            self.due_soon + other.due_soon, self.overdue + other.overdue, self.emails + other.emails
        )


def open_delivery() -> sa.ColumnElement[bool]:
    # NULL NOT IN (...) is NULL, not true: a delivery not yet arrived is open too.
    return sa.or_(Delivery.status.is_(None), Delivery.status.not_in(sorted(DONE)))


def _claim(session: Session, kind: Kind, now: datetime, batch: int, lock: bool) -> list[Delivery]:
    if kind == "due_soon":
        conditions = [
            Delivery.due_soon_sent_at.is_(None),
            Delivery.due_soon_at <= now,
            Delivery.due_at > now,
        ]
        order = [Delivery.due_soon_at, Delivery.id]
    else:
        conditions = [Delivery.overdue_sent_at.is_(None), Delivery.due_at <= now]
        order = [Delivery.due_at, Delivery.id]
    # The literal text of the partial indexes' predicate (models.py), so they are used.
    query = (
        sa.select(Delivery)
        .where(*conditions, sa.text(OPEN_STATUS_SQL))
        .order_by(*order)
        .limit(batch)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query).all())


def _notice(
    session: Session,
    kind: Kind,
    delivery: Delivery,
    exchange: Exchange,
    agencies: dict[str, Agency],
    now: datetime,
    email: bool,
) -> int:
    due = delivery.due_at or now
    recipient = agencies.get(delivery.recipient_code)
    sender = agencies.get(exchange.sender_code)
    facts = notices.NoticeFacts(
        delivery_id=delivery.id,
        document_id=exchange.document_id,
        subject=exchange.subject,
        sender_code=exchange.sender_code,
        sender_name=sender.name if sender else exchange.sender_code,
        recipient_code=delivery.recipient_code,
        recipient_name=recipient.name if recipient else delivery.recipient_code,
        status=Status.of(delivery.status),
        due_at=due,
        now=now,
    )
    notice = DeliveryDueSoon if kind == "due_soon" else DeliveryOverdue
    event = notice(
        delivery_id=delivery.id,
        document=delivery.document,
        document_id=exchange.document_id,
        sender=exchange.sender_code,
        recipient=delivery.recipient_code,
        subject=exchange.subject,
        status=Status.of(delivery.status),
        due_at=due.isoformat(),
        noticed_at=now.isoformat(),
    )
    add_to_outbox(session, BUS, event, exchange=EVENTS.name)
    emailed: list[str] = []
    if kind == "due_soon":
        delivery.due_soon_sent_at = now
        if (
            email
            and recipient
            and notices.enqueue(
                session,
                notices.DUE_SOON_RECIPIENT,
                recipient.email,
                notices.due_soon_mail(facts),
                delivery_id=delivery.id,
            )
        ):
            emailed.append(notices.DUE_SOON_RECIPIENT)
    else:
        delivery.overdue_sent_at = now
        if (
            email
            and recipient
            and notices.enqueue(
                session,
                notices.OVERDUE_RECIPIENT,
                recipient.email,
                notices.overdue_mail(facts),
                delivery_id=delivery.id,
            )
        ):
            emailed.append(notices.OVERDUE_RECIPIENT)
        if (
            email
            and sender
            and notices.enqueue(
                session,
                notices.OVERDUE_SENDER,
                sender.email,
                notices.escalation_mail(facts),
                delivery_id=delivery.id,
            )
        ):
            emailed.append(notices.OVERDUE_SENDER)
    audit.append(
        session,
        f"delivery.{kind}",
        document=delivery.document,
        delivery=delivery.id,
        agency=delivery.recipient_code,
        payload={
            "due_at": due.isoformat(),
            "status": delivery.status,
            "sender": exchange.sender_code,
            "emails": emailed,
        },
        at=now,
    )
    return len(emailed)


def scan_batch(db: Database, kind: Kind, now: datetime, *, email: bool, batch: int) -> ScanResult:
    """Claim up to ``batch`` deliveries owing this notice and give it, in one transaction."""
    with db.reading() as session:
        if not _claim(session, kind, now, 1, lock=False):
            return ScanResult()  # the usual case: nothing due, and no lock taken
    with db.unit_of_work() as session:
        audit.lock_head(session)
        deliveries = _claim(session, kind, now, batch, lock=not db.is_sqlite)
        if not deliveries:
            return ScanResult()
        documents = {d.document for d in deliveries}
        exchanges = {
            e.document: e
            for e in session.scalars(sa.select(Exchange).where(Exchange.document.in_(documents)))
        }
        codes = {d.recipient_code for d in deliveries} | {e.sender_code for e in exchanges.values()}
        agencies = {
            a.code: a for a in session.scalars(sa.select(Agency).where(Agency.code.in_(codes)))
        }
        emails = sum(
            _notice(session, kind, d, exchanges[d.document], agencies, now, email)
            for d in deliveries
        )
    count = len(deliveries)
    if kind == "due_soon":
        return ScanResult(due_soon=count, emails=emails)
    return ScanResult(overdue=count, emails=emails)


def scan_once(
    db: Database, now: datetime | None = None, *, email: bool = True, batch: int = BATCH
) -> ScanResult:
    """Give every notice owed at ``now``: overdue first (so a delivery found already late
    gets only that one), then due soon. Batches until nothing is left."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    total = ScanResult()
    kinds: tuple[Kind, ...] = ("overdue", "due_soon")
    for kind in kinds:
        while True:
            result = scan_batch(db, kind, moment, email=email, batch=batch)
            total += result
            if result.due_soon + result.overdue < batch:
                break
    return total


class DeadlineScanner:
    """The worker: ``scan_once`` now, then every ``interval`` seconds until stopped."""

    def __init__(self, db: Database, *, interval: float, email: bool, batch: int = BATCH) -> None:
        self.db = db
        self.interval = interval
        self.email = email
        self.batch = batch

    def scan_once(self, now: datetime | None = None) -> ScanResult:
        return scan_once(self.db, now, email=self.email, batch=self.batch)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                result = self.scan_once()
                if result.due_soon or result.overdue:
                    log.info(
                        "deadline notices: %d due soon, %d overdue, %d emails queued",
                        result.due_soon,
                        result.overdue,
                        result.emails,
                    )
            except Exception:
                log.exception("deadline scan failed; next try in %ss", self.interval)
            stop.wait(self.interval)
