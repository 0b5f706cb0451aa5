"""The agency-facing view of routing's records: take-backs, timelines, receipts, overdue.

Routing owns these records; ingest checks who may see what and forwards.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from services.common.errors import Forbidden, NotFound
from services.common.internal_api import TakeBackRequest
from services.common.web import json_body
from services.common.wiring import current
from services.ingest.caller import authenticate, calling_agency
from services.ingest.context import IngestContext
from services.ingest.models import Delivery, Document
from services.ingest.queries import readable_document
from services.ingest.validation import check_status_parts

exchange_api = Blueprint("ingest_exchange_api", __name__)


@exchange_api.before_request
def _authenticate() -> None:
    if request.endpoint == "ingest_exchange_api.receipt_key":
        return  # the public key is public: anyone may check a receipt
    authenticate()


@exchange_api.post("/v1/documents/<doc_id>/recall")
def recall(doc_id: str) -> Response:
    """The sender asks every recipient to give the document back (edXML 13)."""
    ctx = current(IngestContext)
    doc = readable_document(ctx.db, calling_agency(), doc_id)
    if doc.sender_code != calling_agency():
        raise Forbidden("only the sender may recall a document")
    body = json_body(request) if request.data else {}
    reason = body.get("reason") or ""
    staff = body.get("staff") or {}
    check_status_parts(reason, staff, ctx.settings.common.limits, text_field="reason")
    request_back = TakeBackRequest(
        requested_by=calling_agency(), kind="recall", reason=reason, staff=staff
    )
    return jsonify(ctx.routing.take_back(doc_id, request_back))


@exchange_api.get("/v1/documents/<doc_id>/timeline")
def timeline(doc_id: str) -> Response:
    """Every event of every delivery; a recipient sees its own delivery only."""
    ctx = current(IngestContext)
    doc = readable_document(ctx.db, calling_agency(), doc_id)
    result = ctx.routing.timeline(doc_id)
    if calling_agency() != doc.sender_code:
        result["deliveries"] = [d for d in result["deliveries"] if d["OrganId"] == calling_agency()]
        result["events"] = [e for e in result["events"] if e["OrganId"] == calling_agency()]
    return jsonify(result)


@exchange_api.get("/v1/deliveries/<delivery_id>/receipt")
def receipt(delivery_id: str) -> Response:
    """A receipt signed by the platform, for the sender or the recipient to keep."""
    ctx = current(IngestContext)
    with ctx.db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
        doc = session.get(Document, delivery.document) if delivery else None
    if delivery is None or doc is None:
        raise NotFound(f"no delivery {delivery_id}")
    if calling_agency() not in (doc.sender_code, delivery.recipient_code):
        raise Forbidden(f"delivery {delivery_id} is neither from nor to {calling_agency()}")
    return jsonify(ctx.routing.receipt(delivery_id))


@exchange_api.get("/v1/receipts/key")
def receipt_key() -> Response:
    return jsonify(current(IngestContext).routing.receipt_key())


@exchange_api.get("/v1/overdue")
def overdue() -> Response:
    """Late deliveries addressed to an agency, oldest due first (the caller's own)."""
    agency = request.args.get("agency") or calling_agency()
    if agency != calling_agency():
        raise Forbidden("an agency sees its own overdue work only")
    return jsonify(current(IngestContext).routing.overdue(agency))
