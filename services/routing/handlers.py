"""Routing's use cases: exchanges and deliveries, and every status through the lifecycle."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.bus.messages import (
    AgencyRegistered,
    DeliveriesArrived,
    DeliveriesCreated,
    DeliveriesDispatched,
    DeliveryArrived,
    DeliveryDispatched,
    DeliveryStatusChanged,
    DeliveryStatusesChanged,
    DocumentReceived,
    DocumentsRouted,
    DocumentsVerified,
    DocumentVerified,
    Envelope,
    Message,
    unfold,
)
from services.common.bus.outbox import add_folded_to_outbox
from services.common.bus.topology import AGENCY, EVENTS
from services.common.db import Database, add_row, get_locked, get_row, load_rows, lock_rows
from services.common.errors import Forbidden, NotFound, TransitionRejected
from services.routing import audit
from services.routing.deadlines import due_at, due_soon_at
from services.routing.lifecycle import DeliveryState, Role, next_state
from services.routing.models import (
    BUS,
    Agency,
    Delivery,
    Exchange,
    SignatureVerdict,
    StatusEvent,
)


def _now() -> datetime:
    return datetime.now(UTC)


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


def _locked_delivery(session: Session, delivery_id: str) -> Delivery:
    delivery: Delivery | None = get_locked(session, Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    return delivery


def _record(
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
    session.add(
        StatusEvent(
            delivery_id=delivery.id,
            seq=delivery.seq,
            code=code,
            status_after=state.status,
            at=at,
            reported_by=reported_by,
            description=description,
            staff=staff or {},
            recorded_at=_now(),
        )
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


def _record_arrival(session: Session, delivery: Delivery, at: datetime) -> None:
    """Status 01, once, whichever path tells us first (the connector's event or a report)."""
    if delivery.arrived_at is None and delivery.status is None:
        _record(session, delivery, "01", Role.RECIPIENT, at, delivery.recipient_code)


def on_delivery_arrived(session: Session, msg: DeliveryArrived, _env: Envelope) -> None:
    audit.lock_head(session)  # before the delivery: the one lock order (see audit.lock_head)
    delivery = _locked_delivery(session, msg.delivery_id)
    _record_arrival(session, delivery, datetime.fromisoformat(msg.arrived_at))


def on_deliveries_arrived(session: Session, msg: DeliveriesArrived, env: Envelope) -> None:
    for arrival in msg.messages():
        on_delivery_arrived(session, arrival, env)


def report_status(db: Database, delivery_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """A status reported through ingest by the recipient (or, for 13, by the sender)."""
    with db.unit_of_work() as session:
        audit.lock_head(session)  # before the delivery: the one lock order
        delivery = _locked_delivery(session, delivery_id)
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
            _record_arrival(session, delivery, datetime.fromisoformat(report["arrived_at"]))
        changed = _record(
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


def on_documents_verified(session: Session, msg: DocumentsVerified, env: Envelope) -> None:
    for verified in msg.messages():
        on_document_verified(session, verified, env)


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


TAKE_BACK_KINDS = {"recall": 1, "update": 2, "replace": 3}


def _take_back(
    session: Session,
    exchange: Exchange,
    kind: str,
    requested_by: str,
    reason: str,
    staff: dict[str, Any],
    replaced_by: str | None,
) -> list[dict[str, Any]]:
    """Ask every recipient to give the document back (13); each answers 15 or 16."""
    results = []
    deliveries = session.scalars(
        sa.select(Delivery)
        .where(Delivery.document == exchange.document)
        .order_by(Delivery.recipient_code)
        .with_for_update()
    ).all()
    for delivery in deliveries:
        try:
            _record(
                session,
                delivery,
                "13",
                Role.SENDER,
                _now(),
                requested_by,
                reason,
                {**staff, "take_back": kind, "replaced_by": replaced_by},
            )
        except TransitionRejected as e:
            results.append(
                {
                    "OrganId": delivery.recipient_code,
                    "delivery_id": delivery.id,
                    "requested": False,
                    "reason": e.detail,
                    "status": delivery.status,
                }
            )
            continue
        delivery.take_back_kind = kind
        delivery.take_back_reason = reason
        delivery.replaced_by = replaced_by
        results.append(
            {
                "OrganId": delivery.recipient_code,
                "delivery_id": delivery.id,
                "requested": True,
                "status": delivery.status,
            }
        )
    return results


def request_take_back(db: Database, document: str, body: dict[str, Any]) -> dict[str, Any]:
    """The sender asks for a recall (edXML BussinessDocType 1) of a document it sent."""
    kind = str(body.get("kind") or "recall")
    if kind not in TAKE_BACK_KINDS:
        raise TransitionRejected(f"unknown take-back {kind!r}: recall, update or replace")
    with db.unit_of_work() as session:
        audit.lock_head(session)  # before the deliveries: the one lock order
        exchange = session.get(Exchange, document)
        if exchange is None:
            raise NotFound(f"no exchange for document {document}")
        requested_by = str(body.get("requested_by") or "")
        if requested_by != exchange.sender_code:
            raise Forbidden(
                f"only the sender {exchange.sender_code} may take document {document} back"
            )
        results = _take_back(
            session,
            exchange,
            kind,
            requested_by,
            str(body.get("reason") or ""),
            dict(body.get("staff") or {}),
            body.get("replaced_by"),
        )
    return {"document": document, "kind": kind, "deliveries": results}


def supersede(session: Session, exchange: Exchange, metadata: dict[str, Any]) -> None:
    """An update (2) or replacement (3) names the document it supersedes by its edXML
    DocumentId; the old document's recipients are asked to take it back (13)."""
    raw = metadata.get("Bussiness")
    business: dict[str, Any] = raw if isinstance(raw, dict) else {}
    try:
        doc_type = int(business.get("BussinessDocType") or 0)
    except (TypeError, ValueError):
        doc_type = 0
    reference = business.get("DocumentId")
    if doc_type not in (2, 3) or not reference:
        return
    old = session.scalars(
        sa.select(Exchange)
        .where(
            Exchange.document_id == str(reference),
            Exchange.sender_code == exchange.sender_code,
            Exchange.document != exchange.document,
        )
        .order_by(Exchange.received_at.desc())
    ).first()
    exchange.business_doc_type = doc_type
    if old is None:
        audit.append(
            session,
            "exchange.reference_unknown",
            document=exchange.document,
            agency=exchange.sender_code,
            payload={"DocumentId": str(reference)},
        )
        return
    exchange.supersedes = old.document
    kind = "update" if doc_type == 2 else "replace"
    _take_back(
        session,
        old,
        kind,
        exchange.sender_code,
        str(business.get("BussinessDocReason") or ""),
        {},
        exchange.document,
    )
