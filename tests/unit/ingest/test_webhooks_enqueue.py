"""Pushes are queued in the transaction that changes the projection, and only then:
new deliveries, status changes (recipient and sender), deadline notices."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.common.bus.envelope import wrap
from services.common.bus.messages import DeliveryDispatched, DeliveryDueSoon, DeliveryOverdue
from services.common.contract import Status
from services.ingest.models import Delivery, WebhookJob
from services.ingest.projections import (
    on_delivery_dispatched,
    on_delivery_due_soon,
    on_delivery_overdue,
    record_reported_status,
)
from services.ingest.webhooks.rules import (
    EVENT_DUE_SOON,
    EVENT_OVERDUE,
    EVENT_RECEIVED,
    EVENT_STATUS,
)
from services.ingest.webhooks.worker import WebhookWorker
from tests.unit.ingest.test_webhooks_kit import (
    RECIPIENT,
    SENDER,
    THIRD,
    Ingest,
    dispatched,
    ingest_app,
    land,
    report,
    status,
)


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    yield from ingest_app(tmp_path)


# --- pushes are queued with the projection change, and only then --------------------------


def test_a_delivery_landing_in_the_inbox_queues_a_push_to_the_recipient(ingest: Ingest) -> None:
    # delivery.received only: status 01's pushes are the next test's.
    ingest.register(RECIPIENT, events=[EVENT_RECEIVED])
    ingest.register(SENDER, events=[EVENT_RECEIVED])
    msg = dispatched(ingest.document())
    worker: WebhookWorker = ingest.ctx.webhooks
    worker._wake.clear()

    land(ingest, msg)

    [job] = ingest.jobs()
    assert worker._wake.is_set()  # woken after commit
    assert (job.agency_code, job.event, job.attempts) == (RECIPIENT, EVENT_RECEIVED, 0)
    assert job.delivered_at is None and job.dead_at is None
    body = job.body
    assert body["id"] == job.id and body["type"] == EVENT_RECEIVED
    assert (body["agency"], body["role"]) == (RECIPIENT, "recipient")
    assert body["occurred_at"]
    data = body["data"]
    assert data["delivery_id"] == msg.delivery_id and data["id"] == msg.document
    assert (data["from"], data["status"], data["subject"]) == (SENDER, "01", "Về việc thử")
    assert data["received_at"] and data["content"] == f"/v1/documents/{msg.document}/content"
    # The same delivery dispatched again is no new push.
    land(ingest, msg)
    assert len(ingest.jobs()) == 1


def test_a_rolled_back_projection_change_queues_nothing(ingest: Ingest) -> None:
    ingest.register(RECIPIENT, events=[EVENT_RECEIVED])
    msg = dispatched(ingest.document())
    worker: WebhookWorker = ingest.ctx.webhooks
    worker._wake.clear()

    with pytest.raises(RuntimeError), ingest.ctx.db.unit_of_work() as session:
        on_delivery_dispatched(session, msg, wrap(msg))
        assert session.scalar(sa.select(sa.func.count()).select_from(WebhookJob)) == 1
        raise RuntimeError("the consumer failed after the handler")

    assert ingest.jobs() == []
    assert not worker._wake.is_set()
    with ingest.ctx.db.reading() as session:
        assert session.get(Delivery, msg.delivery_id) is None
    # Redelivered, it commits: now the push is queued, once.
    land(ingest, msg)
    assert len(ingest.jobs()) == 1


def test_no_webhook_no_push(ingest: Ingest) -> None:
    msg = dispatched(ingest.document())
    land(ingest, msg)
    report(ingest, status(msg, "03", 2))
    assert ingest.jobs() == []


def test_a_status_change_is_pushed_to_the_recipient_and_the_sender(ingest: Ingest) -> None:
    for agency in (SENDER, RECIPIENT, THIRD):
        ingest.register(agency, events=[EVENT_STATUS])
    msg = dispatched(ingest.document())
    land(ingest, msg)  # the filter drops delivery.received; status 01 is pushed to both
    arrivals = {
        (j.agency_code, j.body["data"]["code"], j.body["data"]["seq"]) for j in ingest.jobs()
    }
    assert arrivals == {(SENDER, "01", 1), (RECIPIENT, "01", 1)}

    report(ingest, status(msg, "03", 2))

    jobs = {job.agency_code: job for job in ingest.jobs() if job.body["data"]["seq"] == 2}
    assert set(jobs) == {SENDER, RECIPIENT}  # not THIRD, another recipient of the document
    assert jobs[SENDER].body["role"] == "sender"
    assert jobs[RECIPIENT].body["role"] == "recipient"
    for job in jobs.values():
        assert job.event == EVENT_STATUS
        data = job.body["data"]
        assert (data["delivery_id"], data["code"], data["status"], data["seq"]) == (
            msg.delivery_id,
            "03",
            "03",
            2,
        )
        assert (data["from"], data["recipient"]) == (SENDER, RECIPIENT)
        assert data["staff"] == {"Staff": "Trần Thị B"} and data["at"]


def test_a_status_applied_at_once_and_again_from_its_event_is_pushed_once(
    ingest: Ingest,
) -> None:
    ingest.register(SENDER)
    msg = dispatched(ingest.document())
    land(ingest, msg)
    changed = status(msg, "03", 2)

    record_reported_status(ingest.ctx.db, changed)
    report(ingest, changed)  # routing's event, after the HTTP answer

    assert [j.body["data"]["seq"] for j in ingest.jobs(SENDER)] == [1, 2]  # 01, then 03 once


def test_a_late_status_is_still_pushed_with_its_seq(ingest: Ingest) -> None:
    ingest.register(SENDER)
    msg = dispatched(ingest.document())
    land(ingest, msg)
    report(ingest, status(msg, "05", 4))
    report(ingest, status(msg, "04", 3))  # arrives after 05: the projection keeps 05

    with ingest.ctx.db.reading() as session:
        delivery = session.get(Delivery, msg.delivery_id)
        assert delivery is not None and delivery.status == "05"
    assert sorted(j.body["data"]["seq"] for j in ingest.jobs(SENDER)) == [1, 3, 4]  # 1: 01


def _deadline(
    kind: type[DeliveryDueSoon] | type[DeliveryOverdue], msg: DeliveryDispatched
) -> DeliveryDueSoon | DeliveryOverdue:
    return kind(
        delivery_id=msg.delivery_id,
        document=msg.document,
        document_id=msg.document_id,
        sender=SENDER,
        recipient=msg.recipient,
        subject=msg.subject,
        status=Status.REGISTERED,
        due_at="2026-12-01T10:00:00+07:00",
        noticed_at=datetime.now(UTC).isoformat(),
    )


def test_deadlines_are_marked_in_the_inbox_and_pushed(ingest: Ingest) -> None:
    ingest.register(SENDER, events=[EVENT_DUE_SOON, EVENT_OVERDUE])
    ingest.register(RECIPIENT, events=[EVENT_DUE_SOON, EVENT_OVERDUE])
    msg = dispatched(ingest.document())
    land(ingest, msg)

    for kind, handler in (
        (DeliveryDueSoon, on_delivery_due_soon),
        (DeliveryOverdue, on_delivery_overdue),
    ):
        notice = _deadline(kind, msg)
        for _ in range(2):  # the scheduler's event, and a redelivered copy with a new id
            with ingest.ctx.db.unit_of_work() as session:
                handler(session, notice, wrap(notice))  # type: ignore[arg-type]

    [item] = ingest.client.get("/v1/inbox", headers=ingest.auth(RECIPIENT)).get_json()["items"]
    assert item["due_at"] == "2026-12-01T03:00:00+00:00"  # kept in UTC
    assert item["due_soon_at"] and item["overdue_at"]
    pushed = sorted((j.agency_code, j.event, j.body["role"]) for j in ingest.jobs())
    assert pushed == [
        (SENDER, EVENT_OVERDUE, "sender"),  # the escalation; due-soon is the recipient's
        (RECIPIENT, EVENT_DUE_SOON, "recipient"),
        (RECIPIENT, EVENT_OVERDUE, "recipient"),
    ]
    [overdue] = ingest.jobs(SENDER)
    assert overdue.body["data"]["due_at"] == "2026-12-01T10:00:00+07:00"
    assert overdue.body["data"]["recipient"] == RECIPIENT


def test_status_01_is_recorded_and_pushed_by_the_connector_alone(ingest: Ingest) -> None:
    """Routing no longer announces 01 back: landing in the inbox is the whole of it."""
    ingest.register(SENDER, events=[EVENT_STATUS])
    msg = dispatched(ingest.document())

    land(ingest, msg)  # and no delivery.status_changed follows

    with ingest.ctx.db.reading() as session:
        delivery = session.get(Delivery, msg.delivery_id)
        assert delivery is not None
        assert (delivery.status, delivery.status_seq) == ("01", 1)
        assert delivery.status_at == delivery.arrived_at
    [job] = ingest.jobs(SENDER)
    assert (job.event, job.body["role"]) == (EVENT_STATUS, "sender")
    data = job.body["data"]
    assert (data["delivery_id"], data["code"], data["status"], data["seq"]) == (
        msg.delivery_id,
        "01",
        "01",
        1,
    )
    assert (data["from"], data["recipient"], data["reported_by"]) == (SENDER, RECIPIENT, RECIPIENT)

    # A 01 announced by routing as it was before changes nothing and pushes nothing more.
    report(ingest, status(msg, "01", 1))
    with ingest.ctx.db.reading() as session:
        delivery = session.get(Delivery, msg.delivery_id)
        assert delivery is not None and (delivery.status, delivery.status_seq) == ("01", 1)
    assert [j.id for j in ingest.jobs(SENDER)] == [job.id]
