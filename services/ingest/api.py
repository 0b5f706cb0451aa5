"""Ingest's agency-facing HTTP API: thin views over the use cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request, stream_with_context

from services.common.contract import Status
from services.common.errors import BadRequest, ValidationFailed
from services.common.internal_api import StatusReport
from services.common.web import json_body, page_limit, parse_json, whole_number
from services.common.wiring import current
from services.ingest import queries
from services.ingest.agencies import list_agencies
from services.ingest.caller import authenticate, calling_agency
from services.ingest.context import IngestContext
from services.ingest.edxml.api import content_disposition
from services.ingest.openapi import OPENAPI
from services.ingest.projections import settle_reported_status
from services.ingest.submission import Submission, submit_document
from services.ingest.times import iso
from services.ingest.validation import REPORTED_BY_RECIPIENT, check_status_parts
from services.ingest.webhooks import store as webhook_store

api = Blueprint("ingest_api", __name__)

PAGE_DEFAULT, PAGE_MAXIMUM = 50, 500  # items in one inbox or webhook-deliveries page
MAX_VERSION = 2**31 - 1  # a document version is a 32-bit column


@api.before_request
def _authenticate() -> None:
    if request.endpoint in ("ingest_api.openapi",):
        return
    authenticate()


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(OPENAPI)


@api.post("/v1/documents")
def post_document() -> tuple[Response, int]:
    ctx = current(IngestContext)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key.strip()) <= 200 and key.isprintable()):
        raise BadRequest("Idempotency-Key must be 1 to 200 printable characters")
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("the PDF is missing", [{"field": "file", "message": "is required"}])
    accepted = submit_document(
        Submission(calling_agency(), upload.stream, _metadata(ctx), key.strip() if key else None),
        db=ctx.db,
        agencies=ctx.known_agencies,
        store=ctx.store,
        spool_dir=ctx.spool_dir,
        max_bytes=ctx.settings.max_upload_bytes,
        max_pages=ctx.settings.max_pdf_pages,
    )
    response = jsonify(accepted.body)
    response.headers["Location"] = f"/v1/documents/{accepted.body['id']}"
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, 201


def _metadata(ctx: IngestContext) -> object:
    """The upload's metadata, a form field or a file part, under one cap and parsed
    under the JSON limits (services.common.web.parse_json)."""
    cap = ctx.settings.max_metadata_bytes
    raw: str | bytes | None = request.form.get("metadata")
    if isinstance(raw, str) and "\ufffd" in raw:
        # The form parser decodes a field with errors="replace": U+FFFD is where the
        # sender's bytes were not UTF-8, refused like the same bytes in a file part.
        raise ValidationFailed(
            "the metadata is not valid UTF-8",
            [{"field": "metadata", "message": "is not valid UTF-8"}],
        )
    if raw is None and "metadata" in request.files:
        raw = request.files["metadata"].stream.read(cap + 1)
    if raw is None:
        raise ValidationFailed(
            "the metadata is missing", [{"field": "metadata", "message": "is required"}]
        )
    limits = replace(ctx.settings.common.limits, json_max_bytes=cap)
    try:
        return parse_json(raw, limits, what="metadata")
    except BadRequest as e:
        raise ValidationFailed(e.detail, [{"field": "metadata", "message": e.detail}]) from e


@api.get("/v1/documents/<doc_id>")
def get_document(doc_id: str) -> Response:
    return jsonify(queries.read_document(current(IngestContext).db, calling_agency(), doc_id))


@api.get("/v1/documents/<doc_id>/content")
def get_content(doc_id: str) -> Response:
    ctx = current(IngestContext)
    raw_version = request.args.get("version")
    version = (
        whole_number(raw_version, "version", minimum=1, maximum=MAX_VERSION)
        if raw_version
        else None
    )
    sha256, size, chunks = queries.document_content(
        ctx.db, ctx.store, calling_agency(), doc_id, version=version
    )
    media_type, name = queries.content_kind(ctx.db, calling_agency(), doc_id)
    if version is not None and version > 1:  # a signed version is always a PDF
        media_type, name = "application/pdf", f"{doc_id}.pdf"
    response = Response(stream_with_context(chunks), mimetype=media_type)
    response.headers["Content-Length"] = str(size)
    response.headers["ETag"] = f'"{sha256}"'
    response.headers["Digest"] = f"sha-256={sha256}"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{doc_id}.pdf"'
        if media_type == "application/pdf"
        else content_disposition(name)
    )
    return response


@api.get("/v1/inbox")
def get_inbox() -> Response:
    limit = page_limit(request, default=PAGE_DEFAULT, maximum=PAGE_MAXIMUM)
    status = request.args.get("status") or None
    # view=all: also what was taken back (15)
    everything = request.args.get("view") == "all"
    items = queries.inbox(
        current(IngestContext).db,
        calling_agency(),
        limit=limit,
        status=status,
        include_taken_back=everything,
        filters=_inbox_filter(),
    )
    return jsonify({"agency": calling_agency(), "items": items})


def _moment(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as e:
        raise BadRequest(f"{name} must be an ISO 8601 date or moment") from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _inbox_filter() -> queries.InboxFilter | None:
    """?from=CODE&since=&until=&overdue=1&q=words (all optional)."""
    args = request.args
    words = (args.get("q") or "").strip()[:200] or None
    found = queries.InboxFilter(
        sender=(args.get("from") or "").strip() or None,
        since=_moment("since"),
        until=_moment("until"),
        overdue_at=datetime.now(UTC) if args.get("overdue") in ("1", "true") else None,
        words=words,
    )
    return None if found == queries.InboxFilter() else found


@api.get("/v1/agencies")
def get_agencies() -> Response:
    """The registry: every agency's code, name and parent (recipients are chosen here)."""
    items = [
        {"code": a.code, "name": a.name, "parent": a.parent_code}
        for a in list_agencies(current(IngestContext).db)
    ]
    return jsonify({"items": items})


@api.post("/v1/deliveries/<delivery_id>/status")
def post_status(delivery_id: str) -> Response:
    ctx = current(IngestContext)
    body = json_body(request)
    raw_code = body.get("code")
    code = Status.of(raw_code) if isinstance(raw_code, str) else None
    if code is None or code not in REPORTED_BY_RECIPIENT:
        allowed = sorted(s.value for s in REPORTED_BY_RECIPIENT)
        raise ValidationFailed(
            "code must be a recipient status code",
            [{"field": "code", "message": f"one of {allowed}"}],
        )
    description = body.get("description") or ""
    staff = body.get("staff") or {}
    check_status_parts(description, staff, ctx.settings.common.limits)
    delivery = queries.delivery_for_recipient(ctx.db, calling_agency(), delivery_id)
    changed = ctx.routing.report_status(
        delivery_id,
        StatusReport(
            code=code,
            reported_by=calling_agency(),
            description=description,
            staff=staff,
            arrived_at=iso(delivery.arrived_at),
        ),
    )
    # Routing has committed the status: from here on the agency hears success.
    return jsonify(settle_reported_status(ctx.db, changed))


# --- push delivery (webhooks) ---------------------------------------------------------


@api.put("/v1/webhook")
def put_webhook() -> tuple[Response, int]:
    ctx = current(IngestContext)
    body = json_body(request)
    view, secret, created = webhook_store.register_webhook(
        ctx.db,
        ctx.webhook_box,
        calling_agency(),
        body.get("url"),
        events=body.get("events"),
        guard=ctx.webhooks.guard,
    )
    # The secret is shown here, once; only an encrypted copy is kept.
    response = jsonify({**view, "secret": secret})
    response.headers["Cache-Control"] = "no-store"
    return response, 201 if created else 200


@api.get("/v1/webhook")
def get_webhook() -> Response:
    return jsonify(webhook_store.webhook_config(current(IngestContext).db, calling_agency()))


@api.delete("/v1/webhook")
def delete_webhook() -> tuple[str, int]:
    webhook_store.remove_webhook(current(IngestContext).db, calling_agency())
    return "", 204


@api.get("/v1/webhook/deliveries")
def get_webhook_deliveries() -> Response:
    limit = page_limit(request, default=PAGE_DEFAULT, maximum=PAGE_MAXIMUM)
    state = request.args.get("state") or None
    items = webhook_store.list_jobs(current(IngestContext).db, calling_agency(), state, limit)
    return jsonify({"agency": calling_agency(), "items": items})


@api.post("/v1/webhook/deliveries/<job_id>/retry")
def retry_webhook_delivery(job_id: str) -> Response:
    return jsonify(
        webhook_store.retry_job(current(IngestContext).db, job_id, agency=calling_agency())
    )
