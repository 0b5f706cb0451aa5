"""Recording a status on a delivery: the state machine's next state, the event, its
audit record and its announcement, in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.bus.messages import DeliveryStatusChanged, DeliveryStatusesChanged
from services.common.bus.outbox import add_folded_to_outbox
from services.common.bus.topology import EVENTS
from services.common.db import get_locked, insert_at_commit
from services.common.errors import NotFound
from services.routing import audit
from services.routing.lifecycle import DeliveryState, Role, next_state
from services.routing.models import BUS, Delivery, StatusEvent


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
    code: str,
    role: Role,
    at: datetime,
    reported_by: str,
    description: str = "",
    staff: dict[str, Any] | None = None,
) -> DeliveryStatusChanged:
    state = next_state(DeliveryState(delivery.status, delivery.before_take_back), code, role)
    delivery.status = state.status
    delivery.before_take_back = state.before_take_back
    delivery.seq += 1
    delivery.status_at = at
    if code == "01":
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
    add_folded_to_outbox(
        session, BUS, changed, fold=DeliveryStatusesChanged.of, exchange=EVENTS.name
    )
    return changed


def record_arrival(session: Session, delivery: Delivery, at: datetime) -> None:
    """Status 01, once, whichever path tells us first (the connector's event or a report)."""
    if delivery.arrived_at is None and delivery.status is None:
        record(session, delivery, "01", Role.RECIPIENT, at, delivery.recipient_code)
