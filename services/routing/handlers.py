"""Routing's bus handlers and status reports: exchanges and deliveries, arrivals and
verdicts (recording a status is in `statuses`, take-backs in `take_back`)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from services.common.bus.messages import (
    AgencyRegistered,
    DeliveriesCreated,
    DeliveriesDispatched,
    DeliveryArrived,
    DeliveryDispatched,
    DocumentReceived,
    DocumentsRouted,
    DocumentVerified,
    Envelope,
    Message,
    unfold,
)
from services.common.bus.outbox import add_folded_to_outbox
from services.common.bus.topology import AGENCY, EVENTS
from services.common.db import Database, add_row, get_row, load_rows, lock_rows
from services.common.errors import Forbidden
from services.routing import audit
from services.routing.deadlines import due_at, due_soon_at
from services.routing.lifecycle import Role
from services.routing.models import (
    BUS,
    Agency,
    Delivery,
    Exchange,
    SignatureVerdict,
)
from services.routing.statuses import locked_delivery, record, record_arrival
from services.routing.statuses import now as _now
from services.routing.take_back import supersede


def _edxml_date(value: Any) -> date | None:
    if not value:
        return None
    return datetime.strptime(str(value), "%Y/%m/%d").date()


def on_agency_registered(session: Session, msg: AgencyRegistered, _env: Envelope) -> None:
    agency = session.get(Agency, msg.code) or Agency(code=msg.code)
    agency.name = msg.name
    agency.parent_code = msg.parent_code
    agency.nonstandard_code = msg.nonstandard_code
    session.add(agency)


def on_document_received(session: Session, msg: DocumentReceived, _env: Envelope) -> None:
    """One exchange per document, one delivery per recipient, each dispatched to its queue."""
    audit.lock_head(session)  # first: an update may lock the superseded deliveries below
    if get_row(session, Exchange, msg.document) is not None:
        return
    now = _now()
    meta = msg.metadata
    priority = int((meta.get("OtherInfo") or {}).get("Priority") or 0)
    due_date = _edxml_date(meta.get("DueDate"))
    exchange = Exchange(
        document=msg.document,
        document_id=msg.document_id,
        sender_code=msg.sender,
        sha256=msg.sha256,
        size=msg.size,
        subject=str(meta.get("Subject", "")),
        paper=int(meta.get("Paper") or 0),
        priority=priority,
        due_date=due_date,
        doc_metadata=meta,
        received_at=datetime.fromisoformat(msg.received_at),
        created_at=now,
    )
    add_row(session, exchange)
    audit.append(
        session,
        "exchange.created",
        document=msg.document,
        agency=msg.sender,
        payload={
            "document_id": msg.document_id,
            "sha256": msg.sha256,
            "recipients": list(msg.recipients),
            "paper": int(meta.get("Paper") or 0),
        },
        at=now,
    )
    due = due_at(due_date, priority, now)
    created: list[str] = []
    for recipient in msg.recipients:
        delivery_id = str(uuid.uuid4())
        session.add(
            Delivery(
                id=delivery_id,
                document=msg.document,
                recipient_code=recipient,
                seq=0,
                dispatched_at=now,
                due_at=due,
                due_soon_at=due_soon_at(due, now) if due else None,
            )
        )
        audit.append(
            session,
            "delivery.dispatched",
            document=msg.document,
            delivery=delivery_id,
            agency=recipient,
            payload={"due_at": due.isoformat() if due else None},
            at=now,
        )
        created.append(delivery_id)
        add_folded_to_outbox(
            session,
            BUS,
            DeliveryDispatched(
                delivery_id=delivery_id,
                document=msg.document,
                document_id=msg.document_id,
                sender=msg.sender,
                recipient=recipient,
                sha256=msg.sha256,
                size=msg.size,
                subject=str(meta.get("Subject", "")),
                dispatched_at=now.isoformat(),
            ),
            fold=DeliveriesDispatched.of,
            exchange=AGENCY.name,
            routing_key=recipient,
        )
    add_folded_to_outbox(
        session,
        BUS,
        DeliveriesCreated(
            document=msg.document,
            sender=msg.sender,
            delivery_ids=tuple(created),
            recipients=tuple(msg.recipients),
            created_at=now.isoformat(),
        ),
        fold=DocumentsRouted.of,
        exchange=EVENTS.name,
    )
    supersede(session, exchange, meta)


def lock_for_batch(session: Session, messages: list[Message]) -> None:
    """Before a batch of bus messages: the audit head, then every delivery the batch's
    arrivals name, in one query and in id order (the one lock order: head first);
    which of the batch's new documents already have their exchange, and the verdicts
    the batch replaces, in one query each."""
    messages = unfold(messages)
    arrivals = {m.delivery_id for m in messages if isinstance(m, DeliveryArrived)}
    documents = {m.document for m in messages if isinstance(m, DocumentReceived)}
    verdicts = {m.document for m in messages if isinstance(m, DocumentVerified)}
    if arrivals or documents or verdicts:
        audit.lock_head(session)
    if verdicts:
        load_rows(session, SignatureVerdict, verdicts)
    if arrivals:
        lock_rows(session, Delivery, arrivals)
    if documents:
        # Safe to decide on now: the head lock serializes every exchange's creation.
        load_rows(session, Exchange, documents)


def on_delivery_arrived(session: Session, msg: DeliveryArrived, _env: Envelope) -> None:
    audit.lock_head(session)  # before the delivery: the one lock order (see audit.lock_head)
    delivery = locked_delivery(session, msg.delivery_id)
    record_arrival(session, delivery, datetime.fromisoformat(msg.arrived_at))


def report_status(db: Database, delivery_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """A status reported through ingest by the recipient (or, for 13, by the sender)."""
    with db.unit_of_work() as session:
        audit.lock_head(session)  # before the delivery: the one lock order
        delivery = locked_delivery(session, delivery_id)
        exchange = session.get(Exchange, delivery.document)
        assert exchange is not None
        reporter = str(report.get("reported_by", ""))
        if reporter == delivery.recipient_code:
            role = Role.RECIPIENT
        elif reporter == exchange.sender_code:
            role = Role.SENDER
        else:
            raise Forbidden(f"{reporter} is neither sender nor recipient of delivery {delivery_id}")
        if report.get("arrived_at"):
            record_arrival(session, delivery, datetime.fromisoformat(report["arrived_at"]))
        changed = record(
            session,
            delivery,
            str(report.get("code")),
            role,
            _now(),
            reporter,
            str(report.get("description") or ""),
            dict(report.get("staff") or {}),
        )
    return asdict(changed)


def on_document_verified(session: Session, msg: DocumentVerified, _env: Envelope) -> None:
    verdict = get_row(session, SignatureVerdict, msg.document)
    if verdict is None:
        verdict = SignatureVerdict(document=msg.document)
        add_row(session, verdict)
    verdict.sha256 = msg.sha256
    verdict.verdict = msg.verdict
    verdict.organization_signed = msg.organization_signed
    verdict.signers = list(msg.signers)
    verdict.verified_at = datetime.fromisoformat(msg.verified_at)
    audit.append(
        session,
        "document.verified",
        document=msg.document,
        payload={
            "sha256": msg.sha256,
            "verdict": msg.verdict,
            "organization_signed": msg.organization_signed,
        },
    )
