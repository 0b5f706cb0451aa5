"""Flask helpers shared by the services: error mapping, health, bounded JSON bodies."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from services.common.errors import BadRequest, LienThongError, PayloadTooLarge
from services.common.settings import InputLimits

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


def register_response_headers(app: Flask) -> None:
    """Every answer: never sniffed as another type, never kept by a cache (documents and
    their metadata are not public). A view that sets its own Cache-Control keeps it."""

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        return response


# --- bounded JSON: every body and every metadata part is parsed here -------------------

_LIMITS = "LIENTHONG_INPUT_LIMITS"
INT64 = 2**63 - 1
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def use_limits(app: Flask, limits: InputLimits) -> None:
    """The limits ``json_body`` applies to this app's requests (defaults otherwise)."""
    app.config[_LIMITS] = limits


def input_limits() -> InputLimits:
    limits = current_app.config.get(_LIMITS)
    return limits if isinstance(limits, InputLimits) else InputLimits()


def _constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or not -INT64 - 1 <= (value := int(text)) <= INT64:
        raise ValueError(f"{text[:40]}... is out of range (a 64-bit integer at most)")
    return value


def parse_json(raw: bytes | str, limits: InputLimits, *, what: str = "the body") -> object:
    """JSON from an untrusted client, under ``limits``: at most ``json_max_bytes``, nested
    at most ``json_max_depth`` deep, ``json_max_items`` values, strings of at most
    ``json_max_string`` characters in valid UTF-8 with no NUL and no lone surrogate (in
    keys too), finite numbers only (no NaN or Infinity) and integers within 64 bits.
    Anything else is a 400 (413 when too large); nothing here can raise another error."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > limits.json_max_bytes:
        raise PayloadTooLarge(f"{what} is larger than {limits.json_max_bytes} bytes")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except UnicodeDecodeError as e:
        raise BadRequest(f"{what} is not valid UTF-8: {e.reason} at byte {e.start}") from e
    except RecursionError as e:
        raise BadRequest(f"{what} is nested more than {limits.json_max_depth} deep") from e
    except ValueError as e:  # JSONDecodeError, and what the hooks above refuse
        raise BadRequest(f"{what} is not valid JSON: {e}") from e
    _check_tree(value, limits, what)
    return value


def _check_tree(value: object, limits: InputLimits, what: str) -> None:
    """Walks the parsed value without recursion, so no depth can overflow the stack."""
    stack: list[tuple[object, int]] = [(value, 1)]
    items = 0
    while stack:
        node, depth = stack.pop()
        items += 1
        if items > limits.json_max_items:
            raise BadRequest(f"{what} has more than {limits.json_max_items} values")
        if isinstance(node, str):
            _check_text(node, limits, what)
        elif isinstance(node, dict | list):
            if depth > limits.json_max_depth:
                raise BadRequest(f"{what} is nested more than {limits.json_max_depth} deep")
            if isinstance(node, dict):
                for key, child in node.items():
                    _check_text(key, limits, what)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in node)


def _check_text(text: str, limits: InputLimits, what: str) -> None:
    if len(text) > limits.json_max_string:
        raise BadRequest(f"{what} has a string longer than {limits.json_max_string} characters")
    bad = _BAD_CHARS.search(text)
    if bad is not None:
        kind = "a NUL character" if bad.group() == "\x00" else "a lone surrogate (not UTF-8)"
        raise BadRequest(f"{what} has {kind} in a string")


def json_body(req: Request) -> dict[str, Any]:
    """The request's JSON object, read and parsed under the app's input limits."""
    limits = input_limits()
    if not req.is_json:
        raise BadRequest("the request body must be a JSON object (Content-Type: application/json)")
    if req.content_length is not None and req.content_length > limits.json_max_bytes:
        raise PayloadTooLarge(f"the body is larger than {limits.json_max_bytes} bytes")
    data = parse_json(req.get_data(cache=True), limits)
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object (Content-Type: application/json)")
    return data


def whole_number(raw: str, name: str, *, minimum: int, maximum: int) -> int:
    """A whole number from a query parameter, in ``minimum..maximum``, else a 400."""
    text = raw.strip()
    if not text.lstrip("-").isdigit() or len(text) > 20 or not text.isascii():
        raise BadRequest(f"{name} must be a whole number, got {raw[:40]!r}")
    number = int(text)
    if not minimum <= number <= maximum:
        raise BadRequest(f"{name} must be between {minimum} and {maximum}, got {raw[:40]!r}")
    return number


def page_limit(req: Request, *, default: int, maximum: int) -> int:
    """The ``limit`` query parameter, one rule for every list: it must be a whole number
    (else 400), and a value out of range is clamped to 1..``maximum``."""
    raw = req.args.get("limit")
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not text.lstrip("-").isdigit() or not text.isascii():
        raise BadRequest(f"limit must be a whole number, got {raw[:40]!r}")
    if len(text) > 20:  # far out of range either way, and int() of it costs time
        return 1 if text.startswith("-") else maximum
    return min(max(int(text), 1), maximum)
