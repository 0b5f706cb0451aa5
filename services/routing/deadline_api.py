"""``GET /internal/v1/overdue?agency=CODE``: what an agency has let run late.

Service token only; ingest exposes it to agencies as ``GET /v1/overdue``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request

from services.common.auth import require_service_token
from services.common.db import Database
from services.common.errors import BadRequest
from services.routing.models import Delivery, Exchange
from services.routing.scheduler import aware, open_delivery

deadlines_internal = Blueprint("routing_deadlines", __name__, url_prefix="/internal/v1")

DEFAULT_LIMIT, MAX_LIMIT = 200, 1000


def overdue_for(
    db: Database, agency: str, now: datetime | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
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
    items = []
    for delivery, exchange in rows:
        due = aware(delivery.due_at or moment)  # not None: the query filters on it
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
    context = current_app.extensions["lienthong"]
    require_service_token(request, context.settings.common.service_token)


@deadlines_internal.get("/overdue")
def get_overdue() -> Response:
    agency = (request.args.get("agency") or "").strip()
    if not agency:
        raise BadRequest("give the agency's code: /internal/v1/overdue?agency=CODE")
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw_limit)
    except ValueError as e:
        raise BadRequest(f"limit must be a whole number, got {raw_limit!r}") from e
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    context = current_app.extensions["lienthong"]
    return jsonify(overdue_for(context.db, agency, limit=limit))
