"""Signing's internal API for the web app: sign a PDF it holds (a draft is no document
yet), where a signature would go, the appearance images and the certificates.
Service token only, like the rest of signing's API."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request

from services.common.auth import require_service_token
from services.common.errors import BadRequest, NotFound, ValidationFailed
from services.common.web import json_body
from services.common.wiring import current
from services.signing.api import sign_options
from services.signing.context import SigningContext
from services.signing.pki import lookup
from services.signing.pki.records import CertificateRecord
from services.signing.signing_service import MAX_SIGN_BYTES, SignOptions, png_bytes

files_api = Blueprint("signing_files_api", __name__, url_prefix="/internal/v1")


@files_api.before_request
def _service_only() -> None:
    require_service_token(request, current(SigningContext).settings.common.service_token)


def _options() -> SignOptions:
    raw = request.form.get("options")
    if raw is None:
        raise ValidationFailed("options are required", [{"field": "options", "message": "JSON"}])
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise BadRequest("options must be a JSON object") from e
    if not isinstance(body, dict):
        raise BadRequest("options must be a JSON object")
    return sign_options(body)


def _spooled_pdf(tmp: str) -> tuple[Path, str]:
    """The uploaded PDF in ``tmp``, and its SHA-256 (taken as it is written)."""
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("the PDF is missing", [{"field": "file", "message": "required"}])
    path = Path(tmp) / "in.pdf"
    size = 0
    digest = hashlib.sha256()
    with path.open("wb") as out:
        while chunk := upload.stream.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_SIGN_BYTES:
                raise ValidationFailed("the PDF is too large to sign")
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise ValidationFailed("the file is empty")
    return path, digest.hexdigest()


@files_api.post("/sign")
def sign_file() -> Response:
    """Multipart ``file`` (the PDF) and ``options`` (JSON, as for a document): the
    signed PDF comes back, what was signed in the X-Signature-* headers."""
    ctx = current(SigningContext)
    options = _options()
    ctx.spool_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ctx.spool_dir) as tmp:
        source, sha256 = _spooled_pdf(tmp)
        out = io.BytesIO()
        signed = ctx.signing.sign_file(source, out, options, sha256)
    response = Response(out.getvalue(), mimetype="application/pdf")
    response.headers["X-Signature-Field"] = signed.field_name
    response.headers["X-Signature-Serial"] = signed.identity.serial
    response.headers["X-Signature-Signer"] = signed.identity.common_name.encode().hex()
    response.headers["X-Signature-Time"] = signed.signed_at.isoformat()
    return response


@files_api.post("/placement")
def placement() -> Response:
    """Where the signature of ``options`` would go on ``file`` if no box is given:
    ``{"page": 1-based, "box": [x1, y1, x2, y2], "page_box": [x1, y1, x2, y2]}``."""
    ctx = current(SigningContext)
    options = _options()
    ctx.spool_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ctx.spool_dir) as tmp:
        source, sha256 = _spooled_pdf(tmp)
        found, page_box = ctx.signing.placement(source, options, sha256)
    box = found.box
    return jsonify(
        {"page": found.page + 1, "box": [box.x1, box.y1, box.x2, box.y2], "page_box": page_box}
    )


@files_api.get("/images/<agency>/<kind>")
def image(agency: str, kind: str) -> Response:
    person = request.args.get("person") or None
    found = current(SigningContext).signing.current_image(agency, kind, person)
    response = Response(found.png, mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response


@files_api.post("/images")
def register_image() -> tuple[Response, int]:
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("the PNG is missing", [{"field": "file", "message": "required"}])
    agency = (request.form.get("agency") or "").strip()
    kind = (request.form.get("kind") or "").strip()
    person = (request.form.get("person") or "").strip() or None
    if not agency:
        raise ValidationFailed("agency is required", [{"field": "agency", "message": "required"}])
    saved = current(SigningContext).signing.register_image(
        agency, kind, png_bytes(upload.stream), person
    )
    return jsonify({"sha256": saved.sha256, "width_mm": saved.width_mm}), 201


def _certificate(record: CertificateRecord) -> dict[str, Any]:
    return {
        "serial": record.serial,
        "agency": record.agency_code,
        "kind": record.kind,
        "name": record.name,
        "subject": record.subject,
        "not_before": record.not_before.isoformat(),
        "not_after": record.not_after.isoformat(),
        "status": record.status,
        "is_current": record.is_current,
        "on_token": record.on_token,
        "problem": record.unusable_reason(datetime.now(UTC)),
    }


@files_api.get("/certificates")
def certificates() -> Response:
    agency = request.args.get("agency") or None
    if not agency:
        raise BadRequest("name the agency: ?agency=CODE")
    records = lookup.list_certificates(current(SigningContext).db, agency)
    return jsonify({"items": [_certificate(r) for r in records]})


@files_api.post("/certificates")
def issue_certificate() -> tuple[Response, int]:
    body = json_body(request)
    values = {k: body.get(k) for k in ("agency", "kind", "name", "title")}
    if not all(isinstance(values[k], str) and values[k] for k in ("agency", "kind", "name")):
        raise ValidationFailed("agency, kind and name are required")
    record = current(SigningContext).pki.issue(
        agency=str(values["agency"]),
        kind=str(values["kind"]),
        name=str(values["name"]),
        title=str(values["title"]) if values["title"] else None,
    )
    return jsonify(_certificate(record)), 201


@files_api.post("/certificates/<serial>/revoke")
def revoke_certificate(serial: str) -> Response:
    ctx = current(SigningContext)
    body = json_body(request)
    agency = body.get("agency")
    found = lookup.find_certificate(ctx.db, serial)
    if found is None or found.agency_code != agency:
        raise NotFound(f"no certificate {serial} of agency {agency}")
    reason = body.get("reason")
    record = ctx.pki.revoke(serial, reason if isinstance(reason, str) and reason else None)
    return jsonify(_certificate(record))
