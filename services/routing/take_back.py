"""Take-backs (edXML BussinessDocType 1, 2, 3): the sender asks every recipient to give
a document back (13), directly for a recall, or by sending an update or a replacement
that supersedes an earlier document."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.bus.messages import DocumentReceived
from services.common.contract import Status
from services.common.db import Database
from services.common.errors import Forbidden, NotFound
from services.common.internal_api import StaffInfo, TakeBackAnswer, TakeBackOutcome, TakeBackRequest
from services.routing import audit, statuses
from services.routing.errors import TransitionRejected
from services.routing.ledger import feed as ledger
from services.routing.lifecycle import Role
from services.routing.models import Delivery, Exchange
from services.routing.statuses import record

# edXML BussinessDocType of a document that supersedes an earlier one, and the
# take-back it asks for.
SUPERSEDING_KINDS = {2: "update", 3: "replace"}


def _take_back(
    session: Session,
    exchange: Exchange,
    *,
    kind: str,
    requested_by: str,
    reason: str,
    staff: StaffInfo,
    replaced_by: str | None,
) -> list[TakeBackOutcome]:
    """Ask every recipient to give the document back (13); each answers 15 or 16."""
    results: list[TakeBackOutcome] = []
    deliveries = session.scalars(
        sa.select(Delivery)
        .where(Delivery.document == exchange.document)
        .order_by(Delivery.recipient_code)
        .with_for_update()
    ).all()
    for delivery in deliveries:
        try:
            record(
                session,
                delivery,
                Status.TAKE_BACK_REQUESTED,
                Role.SENDER,
                at=statuses.now(),
                reported_by=requested_by,
                description=reason,
                staff={**staff, "take_back": kind, "replaced_by": replaced_by},
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


def request_take_back(db: Database, document: str, request: TakeBackRequest) -> TakeBackAnswer:
    """The sender asks for a recall (edXML BussinessDocType 1) of a document it sent."""
    with db.unit_of_work() as session:
        audit.lock_head(session)  # before the deliveries: the one lock order
        exchange = session.get(Exchange, document)
        if exchange is None:
            raise NotFound(f"no exchange for document {document}")
        if request.requested_by != exchange.sender_code:
            raise Forbidden(
                f"only the sender {exchange.sender_code} may take document {document} back"
            )
        results = _take_back(
            session,
            exchange,
            kind=request.kind,
            requested_by=request.requested_by,
            reason=request.reason,
            staff=dict(request.staff),
            replaced_by=request.replaced_by,
        )
    return {"document": document, "kind": request.kind, "deliveries": results}


def supersede(session: Session, exchange: Exchange, msg: DocumentReceived) -> None:
    """An update (2) or replacement (3) supersedes an earlier document of its sender
    (ingest resolved which); that document's recipients are asked to take it back (13)."""
    kind = SUPERSEDING_KINDS.get(msg.business_doc_type)
    if kind is None or msg.supersedes is None:
        return
    exchange.business_doc_type = msg.business_doc_type
    old = session.get(Exchange, msg.supersedes)
    if old is None or old.sender_code != exchange.sender_code or old is exchange:
        audit.append(
            session,
            "exchange.reference_unknown",
            document=exchange.document,
            agency=exchange.sender_code,
            payload={"supersedes": msg.supersedes},
        )
        return
    exchange.supersedes = old.document
    ledger.exchange_replaced(session, old.document)
    _take_back(
        session,
        old,
        kind=kind,
        requested_by=exchange.sender_code,
        reason=msg.business_reason,
        staff={},
        replaced_by=exchange.document,
    )
