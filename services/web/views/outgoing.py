"""Văn bản đi: drafts, Chờ tôi ký, signing, numbering and sealing, sending, the
outgoing register, tracking, batches."""

from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, Response, abort, jsonify, redirect, request, send_file, url_for
from werkzeug.wrappers import Response as BaseResponse

from services.common.errors import NotFound, ValidationFailed
from services.web import drafts, security
from services.web import users as people
from services.web.i18n import today_vn, vn_date, vn_datetime
from services.web.models import Draft, User
from services.web.rules import Action, due_state
from services.web.views.base import (
    _,
    agency_tree,
    csv_response,
    ctx,
    render,
    require,
    user,
    viewed_agency,
)

outgoing = Blueprint("outgoing", __name__)


def _date(raw: str | None, field: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as e:
        raise ValidationFailed(f"{field} is a date", [{"field": field, "message": "date"}]) from e


def _int(raw: str | None, field: str, default: int = 0) -> int:
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError as e:
        raise ValidationFailed(
            f"{field} is a number", [{"field": field, "message": "number"}]
        ) from e


def _pdf_upload() -> bytes:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed(_("Chọn tệp PDF."), [{"field": "file", "message": "required"}])
    data = upload.stream.read(ctx().settings.max_upload_bytes + 1)
    if len(data) > ctx().settings.max_upload_bytes:
        raise ValidationFailed(_("Tệp quá lớn."))
    return data


def _check_pin(person: User) -> None:
    if not security.secret_matches(person.pin_hash, request.form.get("pin", "")):
        security.record(ctx().db, person, "pin.wrong")
        raise ValidationFailed(_("Mã PIN không đúng."), [{"field": "pin", "message": "wrong"}])


@outgoing.get("/drafts")
def drafts_list() -> tuple[str, int]:
    require(Action.READ)
    agency = viewed_agency()
    rows = drafts.agency_drafts(ctx().db, agency)
    return render("drafts.html", drafts=rows, today=today_vn(), due_state=due_state)


@outgoing.get("/drafts/new")
def new_draft() -> tuple[str, int]:
    person = require(Action.DRAFT)
    leaders = people.agency_users(ctx().db, person.agency_code, "leader")
    return render("draft_new.html", leaders=leaders, values={})


@outgoing.post("/drafts")
def create_draft() -> BaseResponse:
    person = require(Action.DRAFT)
    c = ctx()
    form = drafts.DraftForm(
        subject=request.form.get("subject", ""),
        type_name=request.form.get("type_name", ""),
        notation=request.form.get("notation", ""),
        place=request.form.get("place", ""),
        leader_id=_int(request.form.get("leader_id"), "leader"),
        due_date=_date(request.form.get("due_date"), "due_date"),
        priority=_int(request.form.get("priority"), "priority"),
    )
    draft = drafts.create_draft(c.db, c.store, c.pages, c.spool_dir, person, _pdf_upload(), form)
    security.record(c.db, person, "draft.created", draft.id, draft.subject)
    return redirect(url_for("outgoing.draft", draft_id=draft.id, done="created"))


@outgoing.get("/waiting")
def waiting() -> tuple[str, int]:
    person = require(Action.SIGN)
    rows = drafts.waiting_for(ctx().db, person)
    return render("waiting.html", drafts=rows, today=today_vn(), due_state=due_state)


def _own_draft(draft_id: str) -> Draft:
    return drafts.get_draft(ctx().db, viewed_agency(), draft_id)


@outgoing.get("/drafts/<draft_id>")
def draft(draft_id: str) -> tuple[str, int]:
    require(Action.READ)
    c = ctx()
    found = _own_draft(draft_id)
    person = user()
    placement = None
    if found.state == drafts.DRAFT and found.leader_id == person.id:
        leader = person
        placement = c.signing.placement(
            drafts.pdf_bytes(c.store, found.current_sha256),
            drafts.signing_options(found, leader, None, None),
        )
    leader = drafts.leader_of(c.db, found)
    number = (
        drafts.proposed_number(c.db, found.agency_code, today_vn().year)
        if found.state == drafts.SIGNED
        else None
    )
    agencies = agency_tree(exclude=found.agency_code)
    return render(
        "draft.html",
        d=found,
        leader=leader,
        placement=placement,
        number=number,
        today=today_vn(),
        agencies=agencies,
        done=request.args.get("done", ""),
        due_state=due_state,
    )


@outgoing.get("/drafts/<draft_id>/pages/<int:page>.png")
def page_image(draft_id: str, page: int) -> BaseResponse:
    require(Action.READ)
    c = ctx()
    found = _own_draft(draft_id)
    if not 1 <= page <= found.page_count:
        abort(404)
    path = c.pages.cached(found.current_sha256, page) or c.pages.page_png(
        found.current_sha256, drafts.pdf_bytes(c.store, found.current_sha256), page
    )
    response = send_file(path, mimetype="image/png", max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@outgoing.get("/drafts/<draft_id>/file.pdf")
def draft_file(draft_id: str) -> BaseResponse:
    require(Action.READ)
    c = ctx()
    found = _own_draft(draft_id)
    response = Response(drafts.pdf_bytes(c.store, found.current_sha256), mimetype="application/pdf")
    name = f"{found.number:02d}-{found.notation}" if found.number else found.id
    response.headers["Content-Disposition"] = f'attachment; filename="{name.replace("/", "-")}.pdf"'
    return response


@outgoing.post("/drafts/<draft_id>/sign")
def sign(draft_id: str) -> BaseResponse:
    person = require(Action.SIGN)
    c = ctx()
    found = drafts.get_draft(c.db, person.agency_code, draft_id)
    _check_pin(person)
    box_raw = request.form.get("box") or ""
    box = [float(v) for v in json.loads(box_raw)] if box_raw else None
    page = _int(request.form.get("page"), "page") or None
    drafts.sign_draft(
        c.db, c.store, c.signing, c.spool_dir, found, person, box, page if box else None
    )
    security.record(c.db, person, "draft.signed", found.id, found.subject)
    return redirect(url_for("outgoing.draft", draft_id=found.id, done="signed"))


@outgoing.post("/drafts/<draft_id>/return")
def return_draft(draft_id: str) -> BaseResponse:
    person = require(Action.SIGN)
    c = ctx()
    found = drafts.get_draft(c.db, person.agency_code, draft_id)
    drafts.return_draft(c.db, found, person, request.form.get("comment", ""))
    security.record(c.db, person, "draft.returned", found.id, request.form.get("comment", ""))
    return redirect(url_for("outgoing.waiting"))


@outgoing.post("/drafts/<draft_id>/resubmit")
def resubmit(draft_id: str) -> BaseResponse:
    """A returned draft, corrected: a new PDF goes back to the same leader."""
    person = require(Action.DRAFT)
    c = ctx()
    found = drafts.get_draft(c.db, person.agency_code, draft_id)
    drafts.resubmit_draft(c.db, c.store, c.pages, c.spool_dir, found, _pdf_upload())
    security.record(c.db, person, "draft.resubmitted", found.id, found.subject)
    return redirect(url_for("outgoing.draft", draft_id=found.id, done="created"))


@outgoing.post("/drafts/<draft_id>/seal")
def seal(draft_id: str) -> BaseResponse:
    person = require(Action.SEAL)
    c = ctx()
    found = drafts.get_draft(c.db, person.agency_code, draft_id)
    _check_pin(person)
    sealed = drafts.seal_draft(c.db, c.store, c.signing, c.spool_dir, found)
    security.record(c.db, person, "draft.sealed", found.id, f"{sealed.number}/{found.notation}")
    return redirect(url_for("outgoing.draft", draft_id=found.id, done="sealed"))


@outgoing.post("/drafts/<draft_id>/send")
def send(draft_id: str) -> BaseResponse:
    person = require(Action.SEAL)
    c = ctx()
    found = drafts.get_draft(c.db, person.agency_code, draft_id)
    form = drafts.SendForm(
        recipients=tuple(dict.fromkeys(r for r in request.form.getlist("to") if r)),
        due_date=_date(request.form.get("due_date"), "due_date"),
        priority=_int(request.form.get("priority"), "priority"),
        paper=request.form.get("paper") == "1",
    )
    sent = drafts.send_draft(c.db, c.store, c.ingest, found, person, form)
    security.record(c.db, person, "document.sent", sent.document or "", ", ".join(form.recipients))
    return redirect(url_for("outgoing.tracking", document=sent.document, done="sent"))


@outgoing.get("/sent")
def sent() -> tuple[str, int]:
    require(Action.READ)
    agency = viewed_agency()
    year = _int(request.args.get("year"), "year", today_vn().year)
    rows = drafts.outgoing_register(ctx().db, agency, year)
    return render("sent.html", rows=rows, year=year)


@outgoing.get("/sent.csv")
def sent_csv() -> BaseResponse:
    """The outgoing register of a year as CSV (Decree 30, Appendix IV columns)."""
    require(Action.READ)
    agency = viewed_agency()
    year = _int(request.args.get("year"), "year", today_vn().year)
    rows = [
        [
            r.code,
            vn_date(r.issued_on),
            f"{r.type_name}: {r.subject}",
            r.signer,
            "; ".join(r.recipients) + (" (kèm bản giấy)" if r.paper else ""),
            vn_datetime(r.sent_at),
        ]
        for r in drafts.outgoing_register(ctx().db, agency, year)
    ]
    header = [
        "Số, ký hiệu",
        "Ngày ban hành",
        "Loại và trích yếu",
        "Người ký",
        "Nơi nhận",
        "Ngày gửi",
    ]
    return csv_response(f"so-van-ban-di-{year}.csv", header, rows)


@outgoing.get("/sent/<document>")
def tracking(document: str) -> tuple[str, int]:
    require(Action.READ)
    c = ctx()
    agency = viewed_agency()
    entry = drafts.outgoing_entry(c.db, agency, document)
    try:
        timeline = c.ingest.timeline(agency, document)
    except NotFound:  # routing has not made the exchange yet: every recipient is waiting
        timeline = {
            "deliveries": [
                {"delivery_id": r, "OrganId": r, "status": None} for r in entry.recipients
            ],
            "events": [],
        }
    by_delivery: dict[str, list[dict[str, object]]] = {}
    for event in timeline.get("events", []):
        by_delivery.setdefault(str(event["delivery_id"]), []).append(event)
    return render(
        "tracking.html",
        entry=entry,
        timeline=timeline,
        events=by_delivery,
        done=request.args.get("done", ""),
    )


@outgoing.get("/sent/<document>/timeline.json")
def tracking_json(document: str) -> BaseResponse:
    require(Action.READ)
    agency = viewed_agency()
    drafts.outgoing_entry(ctx().db, agency, document)
    return jsonify(ctx().ingest.timeline(agency, document))


# --- batches ---------------------------------------------------------------------------


@outgoing.post("/batches")
def start_batch() -> BaseResponse:
    kind = request.form.get("kind", "sign")
    person = require(Action.SIGN if kind == "sign" else Action.SEAL)
    _check_pin(person)
    batch_id = ctx().batches.submit(person, kind, request.form.getlist("draft"))
    security.record(
        ctx().db, person, f"batch.{kind}", batch_id, f"{len(request.form.getlist('draft'))} drafts"
    )
    return redirect(url_for("outgoing.batch", batch_id=batch_id))


@outgoing.get("/batches/<batch_id>")
def batch(batch_id: str) -> tuple[str, int]:
    person = user()
    progress = ctx().batches.progress(person.agency_code, person.id, batch_id)
    return render("batch.html", progress=progress)


@outgoing.get("/batches/<batch_id>/progress")
def batch_progress(batch_id: str) -> BaseResponse:
    person = user()
    return jsonify(ctx().batches.progress(person.agency_code, person.id, batch_id))


@outgoing.get("/to-seal")
def to_seal() -> tuple[str, int]:
    person = require(Action.SEAL)
    rows = drafts.agency_drafts(ctx().db, person.agency_code, (drafts.SIGNED,))
    return render("to_seal.html", drafts=rows, today=today_vn(), due_state=due_state)
