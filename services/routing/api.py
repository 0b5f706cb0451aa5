"""Routing's internal HTTP API, called by ingest: status reports, take-backs, a
delivery, a document's timeline, and signed receipts."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Flask, Response, jsonify, request
from flask.blueprints import BlueprintSetupState

from services.common.auth import require_service_token
from services.common.internal_api import (
    ReceiptAnswer,
    ReceiptKeyAnswer,
    StatusReport,
    TakeBackRequest,
)
from services.common.runtime import service_gate, set_request_gate
from services.common.web import json_body, use_limits
from services.common.wiring import context_of, current
from services.routing import views
from services.routing.context import RoutingContext
from services.routing.receipts import receipt_claims
from services.routing.statuses import report_status_answer
from services.routing.take_back import request_take_back

internal = Blueprint("routing_internal", __name__, url_prefix="/internal/v1")


@internal.record_once
def _bounded(state: BlueprintSetupState) -> None:
    """Routing takes small JSON bodies from its own services only: waitress refuses a
    larger one, or one without the service token, before reading it."""
    app = cast(Flask, state.app)
    settings = context_of(app, RoutingContext).settings
    limits = settings.common.limits
    app.config["MAX_CONTENT_LENGTH"] = limits.json_max_bytes
    use_limits(app, limits)
    set_request_gate(app, service_gate(settings.common.service_token, limits.json_max_bytes))


@internal.before_request
def _service_only() -> None:
    require_service_token(request, current(RoutingContext).settings.common.service_token)


@internal.post("/deliveries/<delivery_id>/status")
def post_status(delivery_id: str) -> Response:
    context = current(RoutingContext)
    report = StatusReport.from_json(json_body(request), context.settings.common.limits)
    # Encoded before the commit: once the status is saved, the answer cannot fail.
    answer = report_status_answer(context.db, delivery_id, report)
    return Response(answer, mimetype="application/json")


@internal.get("/deliveries/<delivery_id>")
def get_delivery(delivery_id: str) -> Response:
    return jsonify(views.delivery_view(current(RoutingContext).db, delivery_id))


@internal.post("/documents/<doc_id>/take-back")
def take_back(doc_id: str) -> Response:
    limits = current(RoutingContext).settings.common.limits
    asked = TakeBackRequest.from_json(json_body(request), limits)
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
