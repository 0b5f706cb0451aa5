"""Flask helpers shared by the services: error mapping, health, JSON bodies."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Request, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from services.common.errors import BadRequest, LienThongError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_response(problem: dict[str, Any]) -> Response:
    response = jsonify(problem)
    response.status_code = int(problem["status"])
    response.mimetype = PROBLEM_JSON
    return response


def register_error_handlers(app: Flask) -> None:
    """Every error leaves the service as RFC 9457 problem+json, mapped here once."""

    @app.errorhandler(LienThongError)
    def _ours(error: LienThongError) -> Response:
        if error.status >= 500:
            log.error("%s: %s", error.code, error.detail)
        return problem_response(error.to_problem(request.path))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        return problem_response(
            {
                "type": "about:blank",
                "title": error.name,
                "status": status,
                "detail": error.description,
                "code": error.name.lower().replace(" ", "_"),
                "instance": request.path,
            }
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s", request.path)
        return problem_response(
            {
                "type": "about:blank",
                "title": "Internal error",
                "status": 500,
                "detail": "the service failed to handle this request; it has been logged",
                "code": "internal_error",
                "instance": request.path,
            }
        )


def health_blueprint(checks: dict[str, Callable[[], None]]) -> Blueprint:
    """``/healthz``: 200 when every check passes, 503 naming the ones that fail."""
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as e:
                results[name] = f"failing: {e}"
        healthy = all(v == "ok" for v in results.values())
        return jsonify({"status": "ok" if healthy else "failing", "checks": results}), (
            200 if healthy else 503
        )

    return bp


def json_body(req: Request) -> dict[str, Any]:
    data = req.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object (Content-Type: application/json)")
    return data


def page_limit(req: Request, *, default: int, maximum: int) -> int:
    """The ``limit`` query parameter, one rule for every list: it must be a whole number
    (else 400), and a value out of range is clamped to 1..``maximum``."""
    raw = req.args.get("limit")
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError as e:
        raise BadRequest(f"limit must be a whole number, got {raw!r}") from e
    return min(max(limit, 1), maximum)
