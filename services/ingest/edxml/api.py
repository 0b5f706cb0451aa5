"""edXML on the agency API (the agency's key, as everywhere):

- ``POST /v1/edxml``: a package (application/xml) in; JSON out, saying what was done;
- ``GET /v1/documents/{id}/edxml``: the document as a package (``?signed=1``: signed
  with the sender's organization certificate, by the signing service);
- ``GET /v1/deliveries/{id}/status.edxml``: the delivery's latest status as a package
  (``?signed=1``: signed with the caller's organization certificate);
- ``GET /v1/documents/{id}/attachments/{n}``: one attachment, as it came;
- ``GET|PUT /v1/edxml/policy``: whether the agency's packages must be validly signed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO
from urllib.parse import quote

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request, stream_with_context
from werkzeug.exceptions import RequestEntityTooLarge

from services.common.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from services.common.storage import CHUNK
from services.common.web import json_body
from services.common.wiring import current
from services.ingest.caller import authenticate, calling_agency
from services.ingest.context import IngestContext
from services.ingest.edxml.accept import accept_package
from services.ingest.edxml.errors import PackageTooLarge
from services.ingest.edxml.export import document_export, status_export
from services.ingest.edxml.policy import require_signed_packages, signed_packages_required
from services.ingest.models import DocumentAttachment
from services.ingest.queries import readable_document

edxml_api = Blueprint("ingest_edxml_api", __name__)

XML_TYPES = ("application/xml", "text/xml")
CREATED = ("document", "update", "replace")


@edxml_api.before_request
def _authenticate() -> None:
    authenticate()


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key.strip()) <= 200 and key.isprintable()):
        raise BadRequest("Idempotency-Key must be 1 to 200 printable characters")
    return key.strip() if key else None


def _signed() -> bool:
    return request.args.get("signed", "").lower() in ("1", "true", "yes")


@edxml_api.post("/v1/edxml")
def post_package() -> tuple[Response, int]:
    ctx = current(IngestContext)
    key = _idempotency_key()
    if request.mimetype not in XML_TYPES:
        raise BadRequest("send the edXML package with Content-Type application/xml")
    limit = ctx.settings.edxml.max_package_bytes
    try:
        package = _receive(request.stream, ctx.spool_dir, limit)
    except (PayloadTooLarge, RequestEntityTooLarge) as e:
        raise PackageTooLarge("edXML", f"the package is larger than {limit} bytes") from e
    try:
        answer = accept_package(ctx, calling_agency(), package, key)
    finally:
        package.unlink(missing_ok=True)
    response = jsonify(answer)
    if answer["action"] in CREATED:
        response.headers["Location"] = f"/v1/documents/{answer['id']}"
        if answer.get("replayed"):
            response.headers["Idempotent-Replayed"] = "true"
            return response, 200
        return response, 201
    return response, 200


def _receive(stream: IO[bytes], directory: Path, limit: int) -> Path:
    """The request body in a temporary file, at most ``limit`` bytes. Not hashed: the
    package is read once from here, and its attachments are hashed as they are decoded."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix="edxml-package-")
    path, size = Path(name), 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the package is larger than {limit} bytes")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@edxml_api.get("/v1/edxml/policy")
def get_policy() -> Response:
    ctx, agency = current(IngestContext), calling_agency()
    required = signed_packages_required(ctx.db, agency)
    return jsonify({"agency": agency, "require_signed_packages": required})


@edxml_api.put("/v1/edxml/policy")
def put_policy() -> Response:
    """An agency sets its own policy: refuse its packages unless validly signed."""
    ctx, agency = current(IngestContext), calling_agency()
    value = json_body(request).get("require_signed_packages")
    if not isinstance(value, bool):
        raise ValidationFailed(
            "require_signed_packages must be true or false",
            [{"field": "require_signed_packages", "message": "true or false"}],
        )
    required = require_signed_packages(ctx.db, agency, value)
    return jsonify({"agency": agency, "require_signed_packages": required})


@edxml_api.get("/v1/documents/<doc_id>/edxml")
def get_document_package(doc_id: str) -> Response:
    ctx = current(IngestContext)
    agency = calling_agency()
    signed = _signed()
    doc, package = document_export(ctx.db, ctx.store, agency, doc_id, signature_slot=signed)
    if signed:
        if agency != doc.sender_code:
            raise Forbidden("only the sender signs its document's package")
        body = ctx.xml_signatures.sign(agency, b"".join(package))
        response = Response(body, mimetype="application/xml")
    else:
        response = Response(stream_with_context(package), mimetype="application/xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{doc_id}.edxml"'
    return response


@edxml_api.get("/v1/deliveries/<delivery_id>/status.edxml")
def get_status_package(delivery_id: str) -> Response:
    ctx = current(IngestContext)
    agency = calling_agency()
    signed = _signed()
    _event, package = status_export(ctx.db, ctx.routing, agency, delivery_id, signature_slot=signed)
    if signed:
        package = ctx.xml_signatures.sign(agency, package)
    return Response(package, mimetype="application/xml")


@edxml_api.get("/v1/documents/<doc_id>/attachments/<int:position>")
def get_attachment(doc_id: str, position: int) -> Response:
    """One file of a document that arrived as a package: its bytes, type and name."""
    ctx = current(IngestContext)
    doc = readable_document(ctx.db, calling_agency(), doc_id)
    with ctx.db.reading() as session:
        row = session.scalars(
            sa.select(DocumentAttachment).where(
                DocumentAttachment.document == doc.id, DocumentAttachment.position == position
            )
        ).first()
    if row is None:
        raise NotFound(f"document {doc_id} has no attachment {position}")
    response = Response(
        stream_with_context(ctx.store.iter_bytes(row.sha256)), mimetype=row.content_type
    )
    response.headers["Content-Length"] = str(row.size)
    response.headers["ETag"] = f'"{row.sha256}"'
    response.headers["Content-Disposition"] = content_disposition(row.name)
    return response


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
