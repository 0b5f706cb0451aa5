"""The agency-facing view of routing's records: take-backs, timelines, receipts, overdue.

Routing owns these records; ingest checks who may see what and forwards.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from services.common.auth import bearer_token
from services.common.errors import Forbidden, NotFound, ValidationFailed
from services.common.web import json_body
from services.ingest.models import Delivery, Document

exchange_api = Blueprint("ingest_exchange_api", __name__)


def _ctx() -> Any:
    return current_app.extensions["lienthong"]


@exchange_api.before_request
def _authenticate() -> None:
    if request.endpoint == "ingest_exchange_api.receipt_key":
        return  # the public key is public: anyone may check a receipt
    g.agency = _ctx().api_keys.agency_of(bearer_token(request))


def _document(doc_id: str) -> Document:
    with _ctx().db.reading() as session:
        doc = session.get(Document, doc_id)
    if doc is None:
        raise NotFound(f"no document {doc_id}")
    if g.agency != doc.sender_code and g.agency not in doc.recipients:
        raise Forbidden(f"document {doc_id} is not addressed to {g.agency}")
    return doc


@exchange_api.post("/v1/documents/<doc_id>/recall")
def recall(doc_id: str) -> Response:
    """The sender asks every recipient to give the document back (edXML 13)."""
    doc = _document(doc_id)
    if doc.sender_code != g.agency:
        raise Forbidden("only the sender may recall a document")
    body = json_body(request) if request.data else {}
    reason = body.get("reason") or ""
    if not isinstance(reason, str) or not isinstance(body.get("staff") or {}, dict):
        raise ValidationFailed("reason must be text and staff an object")
    return jsonify(
        _ctx().routing.take_back(
            doc_id,
            {
                "kind": "recall",
                "reason": reason[:2000],
                "staff": body.get("staff") or {},
                "requested_by": g.agency,
            },
        )
    )


@exchange_api.get("/v1/documents/<doc_id>/timeline")
def timeline(doc_id: str) -> Response:
    """Every event of every delivery; a recipient sees its own delivery only."""
    doc = _document(doc_id)
    result = _ctx().routing.timeline(doc_id)
    if g.agency != doc.sender_code:
        result["deliveries"] = [d for d in result["deliveries"] if d["OrganId"] == g.agency]
        result["events"] = [e for e in result["events"] if e["OrganId"] == g.agency]
    return jsonify(result)


@exchange_api.get("/v1/deliveries/<delivery_id>/receipt")
def receipt(delivery_id: str) -> Response:
    """A receipt signed by the platform, for the sender or the recipient to keep."""
    with _ctx().db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
        doc = session.get(Document, delivery.document) if delivery else None
    if delivery is None or doc is None:
        raise NotFound(f"no delivery {delivery_id}")
    if g.agency not in (doc.sender_code, delivery.recipient_code):
        raise Forbidden(f"delivery {delivery_id} is neither from nor to {g.agency}")
    return jsonify(_ctx().routing.receipt(delivery_id))


@exchange_api.get("/v1/receipts/key")
def receipt_key() -> Response:
    return jsonify(_ctx().routing.receipt_key())


@exchange_api.get("/v1/overdue")
def overdue() -> Response:
    """Late deliveries addressed to an agency, oldest due first (the caller's own)."""
    agency = request.args.get("agency") or g.agency
    if agency != g.agency:
        raise Forbidden("an agency sees its own overdue work only")
    return jsonify(_ctx().routing.overdue(agency))
