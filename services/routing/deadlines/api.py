"""``GET /internal/v1/overdue?agency=CODE``: what an agency has let run late.

Service token only; ingest exposes it to agencies as ``GET /v1/overdue``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request

from services.common.auth import require_service_token
from services.common.db import Database
from services.common.errors import BadRequest
from services.common.internal_api import OverdueItem, OverdueListing
from services.common.web import page_limit
from services.common.wiring import current
from services.routing.context import RoutingContext
from services.routing.deadlines.scanner import open_delivery
from services.routing.models import Delivery, Exchange

deadlines_internal = Blueprint("routing_deadlines", __name__, url_prefix="/internal/v1")

DEFAULT_LIMIT, MAX_LIMIT = 200, 1000


def overdue_for(
    db: Database, agency: str, now: datetime | None = None, limit: int = DEFAULT_LIMIT
) -> OverdueListing:
    """Open deliveries to ``agency`` past their due time, the oldest due first."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    late = sa.and_(Delivery.recipient_code == agency, Delivery.due_at <= moment, open_delivery())
    with db.reading() as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(late))
        rows = session.execute(
            sa.select(Delivery, Exchange)
            .join(Exchange, Exchange.document == Delivery.document)
            .where(late)
            .order_by(Delivery.due_at, Delivery.id)
            .limit(limit)
        ).all()
    items: list[OverdueItem] = []
    for delivery, exchange in rows:
        due = delivery.due_at or moment  # not None: the query filters on it
        items.append(
            {
                "delivery_id": delivery.id,
                "document": delivery.document,
                "document_id": exchange.document_id,
                "sender": exchange.sender_code,
                "due_at": due.isoformat(),
                "overdue_by_seconds": int((moment - due).total_seconds()),
                "status": delivery.status,
                "subject": exchange.subject,
            }
        )
    return {
        "agency": agency,
        "now": moment.isoformat(),
        "total": int(total or 0),
        "overdue": items,
    }


@deadlines_internal.before_request
def _service_only() -> None:
    require_service_token(request, current(RoutingContext).settings.common.service_token)


@deadlines_internal.get("/overdue")
def get_overdue() -> Response:
    agency = (request.args.get("agency") or "").strip()
    if not agency:
        raise BadRequest("give the agency's code: /internal/v1/overdue?agency=CODE")
    limit = page_limit(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    return jsonify(overdue_for(current(RoutingContext).db, agency, limit=limit))
