"""Recording a status on a delivery: the state machine's next state, the event, its
audit record and its announcement, in the caller's transaction; and the status reports
agencies make through ingest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.bus.envelope import payload_of
from services.common.bus.messages import DeliveryStatusChanged, DeliveryStatusesChanged
from services.common.bus.outbox import add_folded_to_outbox
from services.common.bus.topology import EVENTS
from services.common.contract import Status
from services.common.db import Database, get_locked, insert_at_commit
from services.common.errors import Forbidden, NotFound
from services.common.internal_api import StaffInfo, StatusReport
from services.routing import audit
from services.routing.ledger import feed as ledger
from services.routing.lifecycle import DeliveryState, Role, next_state
from services.routing.models import BUS, Delivery, Exchange, StatusEvent


def now() -> datetime:
    """The time routing stamps on what it records (UTC)."""
    return datetime.now(UTC)


# Written at commit, not through the ORM: the ORM fetches each event's generated id
# back (a multi-row INSERT ... RETURNING whose long text the driver cannot cache).
_STATUS_EVENTS = cast(sa.Table, StatusEvent.__table__)


def locked_delivery(session: Session, delivery_id: str) -> Delivery:
    delivery: Delivery | None = get_locked(session, Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    return delivery


def record(
    session: Session,
    delivery: Delivery,
    code: Status,
    role: Role,
    *,
    at: datetime,
    reported_by: str,
    description: str = "",
    staff: StaffInfo | None = None,
) -> DeliveryStatusChanged:
    """Record ``code`` on the delivery. Every status but 01 is announced on lt.events:
    01 is where the recipient's connector (ingest) put the copy in its inbox, so ingest
    has it already and routing only records it."""
    state = next_state(DeliveryState.of(delivery.status, delivery.before_take_back), code, role)
    delivery.status = state.status
    delivery.before_take_back = state.before_take_back
    delivery.seq += 1
    delivery.status_at = at
    if code is Status.ARRIVED:
        delivery.arrived_at = at
    insert_at_commit(
        session,
        _STATUS_EVENTS,
        {
            "delivery_id": delivery.id,
            "seq": delivery.seq,
            "code": code,
            "status_after": state.status,
            "at": at,
            "reported_by": reported_by,
            "description": description,
            "staff": staff or {},
            "recorded_at": now(),
        },
    )
    audit.append(
        session,
        "delivery.status",
        document=delivery.document,
        delivery=delivery.id,
        agency=reported_by,
        payload={
            "seq": delivery.seq,
            "code": code,
            "status_after": state.status,
            "at": at.isoformat(),
            "description": description,
            "staff": staff or {},
        },
    )
    ledger.status_recorded(session, delivery, code, at)
    changed = DeliveryStatusChanged(
        delivery_id=delivery.id,
        document=delivery.document,
        recipient=delivery.recipient_code,
        code=code,
        status=state.status,
        seq=delivery.seq,
        at=at.isoformat(),
        reported_by=reported_by,
        description=description,
        staff=staff or {},
    )
    if code is not Status.ARRIVED:
        add_folded_to_outbox(
            session, BUS, changed, fold=DeliveryStatusesChanged.of, exchange=EVENTS.name
        )
    return changed


def record_arrival(session: Session, delivery: Delivery, at: datetime) -> None:
    """Status 01, once, whichever path tells us first (the connector's event or a report)."""
    if delivery.arrived_at is None and delivery.status is None:
        record(
            session,
            delivery,
            Status.ARRIVED,
            Role.RECIPIENT,
            at=at,
            reported_by=delivery.recipient_code,
        )


def report_status(db: Database, delivery_id: str, report: StatusReport) -> DeliveryStatusChanged:
    """A status reported through ingest by the recipient (or, for 13, by the sender)."""
    with db.unit_of_work() as session:
        return _report(session, delivery_id, report)


def report_status_answer(db: Database, delivery_id: str, report: StatusReport) -> bytes:
    """``report_status``, with its JSON answer encoded before the commit: once the status
    has committed nothing is left that can fail, so the caller is told the truth (an
    answer that could not be built rolls the status back instead)."""
    with db.unit_of_work() as session:
        changed = _report(session, delivery_id, report)
        return status_answer(changed)


def status_answer(changed: DeliveryStatusChanged) -> bytes:
    """The answer to a status report: the change as JSON, from its plain fields."""
    return json.dumps(payload_of(changed), ensure_ascii=False).encode()


def _report(session: Session, delivery_id: str, report: StatusReport) -> DeliveryStatusChanged:
    audit.lock_head(session)  # before the delivery: the one lock order
    delivery = locked_delivery(session, delivery_id)
    exchange = session.get(Exchange, delivery.document)
    assert exchange is not None
    reporter = report.reported_by
    if reporter == delivery.recipient_code:
        role = Role.RECIPIENT
    elif reporter == exchange.sender_code:
        role = Role.SENDER
    else:
        raise Forbidden(f"{reporter} is neither sender nor recipient of delivery {delivery_id}")
    if report.arrived_at:
        record_arrival(session, delivery, datetime.fromisoformat(report.arrived_at))
    return record(
        session,
        delivery,
        report.code,
        role,
        at=now(),
        reported_by=reporter,
        description=report.description,
        staff=dict(report.staff),
    )
