"""Signing's HTTP API: sign a stored document, verify any PDF, see a verdict."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request

from services.common.auth import require_service_token
from services.common.errors import BadRequest, NotFound, ValidationFailed
from services.common.storage import spool
from services.common.web import json_body
from services.common.wiring import current
from services.signing.appearance import Box, Profile
from services.signing.context import SigningContext
from services.signing.models import KnownDocument
from services.signing.pades import Level
from services.signing.signing_service import SignOptions
from services.signing.verification.htmlreport import render_html

api = Blueprint("signing_api", __name__)

MAX_VERIFY_BYTES = 200 * 1024 * 1024


@api.before_request
def _service_only() -> None:
    # The other services call these; agencies go through ingest.
    require_service_token(request, current(SigningContext).settings.common.service_token)


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{key} must be text", [{"field": key, "message": "text"}])
    return value.strip()


# The largest page a PDF may have is 14,400 points (200 inches) a side.
MAX_POINTS = 14_400.0
MAX_PAGE = 2**31 - 1


def _in_points(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value) and abs(value) <= MAX_POINTS
    except OverflowError:  # an integer too large for a float
        return False


def sign_options(body: dict[str, Any]) -> SignOptions:
    try:
        profile = Profile(str(body.get("profile", "")))
    except ValueError as e:
        raise ValidationFailed(
            "profile must be personal, organization, copy or attachment",
            [{"field": "profile", "message": "unknown profile"}],
        ) from e
    default_level = "B-LT"
    level = Level.parse(str(body.get("level") or default_level))
    agency = _text(body, "agency")
    if not agency:
        raise ValidationFailed("agency is required", [{"field": "agency", "message": "required"}])
    page, box = body.get("page"), body.get("box")
    if box is not None and page is None:
        raise ValidationFailed(
            "an explicit box needs its page", [{"field": "page", "message": "required"}]
        )
    parsed_box = None
    if box is not None:
        if not (isinstance(box, list) and len(box) == 4 and all(_in_points(v) for v in box)):
            raise ValidationFailed(
                "box is [x1, y1, x2, y2] in PDF points",
                [{"field": "box", "message": f"four numbers within ±{MAX_POINTS:.0f}"}],
            )
        parsed_box = Box(*(float(v) for v in box))
    # bool is an int to Python: `"page": true` must not mean page 1.
    if page is not None and (type(page) is not int or not 1 <= page <= MAX_PAGE):
        raise ValidationFailed(
            "page counts from 1", [{"field": "page", "message": f"a whole number 1..{MAX_PAGE}"}]
        )
    return SignOptions(
        profile=profile,
        level=level,
        agency=agency,
        person=_text(body, "person"),
        signer_full_name=_text(body, "signer_full_name"),
        page=page,
        box=parsed_box,
        reason=_text(body, "reason"),
        location=_text(body, "location"),
        document_code=_text(body, "document_code"),
    )


@api.post("/v1/documents/<doc_id>/signatures")
def sign_document(doc_id: str) -> tuple[Response, int]:
    body = json_body(request)
    options = sign_options(body)
    requested_by = _text(body, "requested_by") or "service"
    signed = current(SigningContext).signing.sign_document(doc_id, options, requested_by)
    return jsonify(signed), 201


@api.get("/v1/documents/<doc_id>/verification")
def document_verification(doc_id: str) -> Response:
    with current(SigningContext).db.reading() as session:
        known = session.get(KnownDocument, doc_id)
    if known is None or known.verification is None:
        raise NotFound(f"no verification of document {doc_id} yet")
    return jsonify(known.verification)


@api.post("/v1/verify")
def verify() -> Response:
    """Verify an uploaded PDF: multipart ``file``, or the PDF as the request body."""
    ctx = current(SigningContext)
    upload = request.files.get("file")
    stream = upload.stream if upload is not None else request.stream
    if upload is None and request.mimetype != "application/pdf":
        raise BadRequest("send the PDF as multipart 'file' or with Content-Type application/pdf")
    spooled = spool(stream, ctx.spool_dir, MAX_VERIFY_BYTES)
    try:
        if spooled.size == 0:
            raise ValidationFailed("the file is empty")
        # The report names the uploaded file, not the spool file it was copied to.
        name = upload.filename if upload is not None and upload.filename else None
        report = ctx.verifier.verify(Path(spooled.path), file_name=name)
    finally:
        spooled.discard()
    if request.args.get("format") == "html":
        return Response(render_html(report), mimetype="text/html")
    return jsonify(report.to_dict())
