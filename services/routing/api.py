"""Routing's HTTP API: the internal status endpoint ingest calls."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from services.common.auth import require_service_token
from services.common.web import json_body
from services.routing import handlers, views
from services.routing.receipts import ReceiptKey, load_or_create, receipt_claims
from services.routing.take_back import request_take_back

internal = Blueprint("routing_internal", __name__, url_prefix="/internal/v1")


def _ctx() -> Any:
    return current_app.extensions["lienthong"]


@internal.before_request
def _service_only() -> None:
    require_service_token(request, _ctx().settings.common.service_token)


@internal.post("/deliveries/<delivery_id>/status")
def post_status(delivery_id: str) -> Response:
    return jsonify(handlers.report_status(_ctx().db, delivery_id, json_body(request)))


@internal.get("/deliveries/<delivery_id>")
def get_delivery(delivery_id: str) -> Response:
    return jsonify(views.delivery_view(_ctx().db, delivery_id))


@internal.post("/documents/<doc_id>/take-back")
def take_back(doc_id: str) -> Response:
    return jsonify(request_take_back(_ctx().db, doc_id, json_body(request)))


@internal.get("/documents/<doc_id>/timeline")
def timeline(doc_id: str) -> Response:
    return jsonify(views.timeline(_ctx().db, doc_id))


def _receipt_key() -> ReceiptKey:
    ctx = _ctx()
    key = ctx.extras.get("receipt_key")
    if key is None:
        key = load_or_create(ctx.settings.common.data_dir / "routing-receipt-key.pem")
        ctx.extras["receipt_key"] = key
    return key


@internal.get("/deliveries/<delivery_id>/receipt")
def receipt(delivery_id: str) -> Response:
    """A signed receipt of what the platform recorded for one delivery."""
    db = _ctx().db
    delivery = views.delivery_view(db, delivery_id)
    exchange = views.exchange_view(db, delivery["document"])
    token = _receipt_key().sign(receipt_claims(delivery, exchange))
    return jsonify({"receipt": token, "key_id": _receipt_key().key_id})


@internal.get("/receipts/key")
def receipt_key() -> Response:
    key = _receipt_key()
    return jsonify({"key_id": key.key_id, "public_key_pem": key.public_pem(), "jwk": key.jwk()})
