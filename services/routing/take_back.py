"""Take-backs (edXML BussinessDocType 1, 2, 3): the sender asks every recipient to give
a document back (13), directly for a recall, or by sending an update or a replacement
that names the document it supersedes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.errors import Forbidden, NotFound, TransitionRejected
from services.routing import audit
from services.routing.lifecycle import Role
from services.routing.models import Delivery, Exchange
from services.routing.statuses import now as _now
from services.routing.statuses import record

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
            record(
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
