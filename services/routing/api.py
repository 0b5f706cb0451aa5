"""Routing's internal HTTP API, called by ingest: status reports, take-backs, a
delivery, a document's timeline, and signed receipts."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, jsonify, request

from services.common.auth import require_service_token
from services.common.internal_api import (
    ReceiptAnswer,
    ReceiptKeyAnswer,
    StatusReport,
    TakeBackRequest,
)
from services.common.web import json_body
from services.common.wiring import current
from services.routing import views
from services.routing.context import RoutingContext
from services.routing.receipts import receipt_claims
from services.routing.statuses import report_status
from services.routing.take_back import request_take_back

internal = Blueprint("routing_internal", __name__, url_prefix="/internal/v1")


@internal.before_request
def _service_only() -> None:
    require_service_token(request, current(RoutingContext).settings.common.service_token)


@internal.post("/deliveries/<delivery_id>/status")
def post_status(delivery_id: str) -> Response:
    report = StatusReport.from_json(json_body(request))
    return jsonify(asdict(report_status(current(RoutingContext).db, delivery_id, report)))


@internal.get("/deliveries/<delivery_id>")
def get_delivery(delivery_id: str) -> Response:
    return jsonify(views.delivery_view(current(RoutingContext).db, delivery_id))


@internal.post("/documents/<doc_id>/take-back")
def take_back(doc_id: str) -> Response:
    asked = TakeBackRequest.from_json(json_body(request))
    return jsonify(request_take_back(current(RoutingContext).db, doc_id, asked))


@internal.get("/documents/<doc_id>/timeline")
def timeline(doc_id: str) -> Response:
    return jsonify(views.timeline(current(RoutingContext).db, doc_id))


@internal.get("/deliveries/<delivery_id>/receipt")
def receipt(delivery_id: str) -> Response:
    """A signed receipt of what the platform recorded for one delivery."""
    context = current(RoutingContext)
    delivery = views.delivery_view(context.db, delivery_id)
    exchange = views.exchange_view(context.db, delivery["document"])
    key = context.receipt_keys.get()
    answer: ReceiptAnswer = {
        "receipt": key.sign(receipt_claims(delivery, exchange)),
        "key_id": key.key_id,
    }
    return jsonify(answer)


@internal.get("/receipts/key")
def receipt_key() -> Response:
    key = current(RoutingContext).receipt_keys.get()
    answer: ReceiptKeyAnswer = {
        "key_id": key.key_id,
        "public_key_pem": key.public_pem(),
        "jwk": key.jwk(),
    }
    return jsonify(answer)
