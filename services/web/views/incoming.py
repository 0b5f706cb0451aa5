"""Văn bản đến: the inbox with filters, one incoming document, register, assign,
Việc của tôi, reject and take-back answers, the incoming register."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from services.common.errors import ValidationFailed
from services.web import incoming, security
from services.web import users as people
from services.web.i18n import today_vn, vn_date
from services.web.rules import Action, due_state
from services.web.views.base import _, csv_response, ctx, render, require, viewed_agency

incoming_views = Blueprint("incoming", __name__)


def _query() -> incoming.InboxQuery:
    args = request.args
    return incoming.InboxQuery(
        status=args.get("status", "")[:2],
        sender=args.get("from", "")[:64],
        since=args.get("since", "")[:10],
        until=args.get("until", "")[:10],
        overdue=args.get("overdue") == "1",
        words=args.get("q", "")[:200],
    )


@incoming_views.get("/inbox")
def inbox() -> tuple[str, int]:
    require(Action.READ)
    agency = viewed_agency()
    query = _query()
    items = incoming.inbox(ctx().db, ctx().ingest, agency, query)
    return render("inbox.html", items=items, query=query, agency=agency)


@incoming_views.get("/inbox/<document>")
def document(document: str) -> tuple[str, int]:
    require(Action.READ)
    c = ctx()
    agency = viewed_agency()
    found, delivery = incoming.find_delivery(c.ingest, agency, document)
    entry = incoming.entry_for(c.db, agency, delivery)
    assigned = incoming.assignments_of(c.db, agency, delivery)
    status = next(
        (d.get("status") for d in found.get("deliveries", []) if d.get("delivery_id") == delivery),
        None,
    )
    specialists = [
        u
        for u in people.agency_users(c.db, agency)
        if u.role in ("specialist", "leader", "clerk") and not u.disabled_at
    ]
    return render(
        "incoming_doc.html",
        doc=found,
        delivery=delivery,
        entry=entry,
        assigned=assigned,
        delivery_status=status,
        people=specialists,
        today=today_vn(),
        due_state=due_state,
        proposed=incoming.proposed_number(c.db, agency, today_vn().year),
        done=request.args.get("done", ""),
    )


@incoming_views.get("/inbox/<document>/file.pdf")
def document_file(document: str) -> BaseResponse:
    require(Action.READ)
    agency = viewed_agency()
    incoming.find_delivery(ctx().ingest, agency, document)
    response = Response(ctx().ingest.content(agency, document), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{document}.pdf"'
    return response


@incoming_views.post("/inbox/<document>/register")
def register(document: str) -> BaseResponse:
    person = require(Action.REGISTER)
    c = ctx()
    _found, delivery = incoming.find_delivery(c.ingest, person.agency_code, document)
    entry = incoming.register(
        c.db, c.ingest, person, document, delivery, request.form.get("note", "")
    )
    security.record(c.db, person, "incoming.registered", document, f"số đến {entry.number}")
    return redirect(url_for("incoming.document", document=document, done="registered"))


@incoming_views.post("/inbox/<document>/assign")
def assign(document: str) -> BaseResponse:
    person = require(Action.REGISTER)
    c = ctx()
    _found, delivery = incoming.find_delivery(c.ingest, person.agency_code, document)
    chosen = [int(v) for v in request.form.getlist("person") if v.isdigit()]
    try:
        due = date.fromisoformat(request.form.get("due_date", ""))
    except ValueError as e:
        raise ValidationFailed(_("Nhập hạn xử lý."), [{"field": "due_date", "message": "?"}]) from e
    incoming.assign(
        c.db, c.ingest, person, delivery, [(p, due) for p in chosen], request.form.get("note", "")
    )
    security.record(c.db, person, "incoming.assigned", document, ",".join(map(str, chosen)))
    return redirect(url_for("incoming.document", document=document, done="assigned"))


@incoming_views.post("/inbox/<document>/answer")
def answer(document: str) -> BaseResponse:
    person = require(Action.REGISTER)
    c = ctx()
    _found, delivery = incoming.find_delivery(c.ingest, person.agency_code, document)
    code = request.form.get("code", "")
    incoming.report(c.ingest, person, delivery, code, request.form.get("reason", ""))
    security.record(
        c.db, person, f"incoming.status.{code}", document, request.form.get("reason", "")
    )
    return redirect(url_for("incoming.document", document=document, done=f"status-{code}"))


@incoming_views.get("/work")
def my_work() -> tuple[str, int]:
    person = require(Action.WORK)
    rows = incoming.my_work(ctx().db, person, include_done=request.args.get("all") == "1")
    return render("my_work.html", rows=rows, today=today_vn(), due_state=due_state)


@incoming_views.post("/work/<int:assignment_id>/start")
def start(assignment_id: int) -> BaseResponse:
    person = require(Action.WORK)
    incoming.start_work(ctx().db, ctx().ingest, person, assignment_id)
    security.record(ctx().db, person, "work.started", str(assignment_id))
    return redirect(url_for("incoming.my_work"))


@incoming_views.post("/work/<int:assignment_id>/complete")
def complete(assignment_id: int) -> BaseResponse:
    person = require(Action.WORK)
    incoming.complete_work(
        ctx().db, ctx().ingest, person, assignment_id, request.form.get("note", "")
    )
    security.record(ctx().db, person, "work.completed", str(assignment_id))
    return redirect(url_for("incoming.my_work", done="completed"))


@incoming_views.get("/register/incoming.csv")
def incoming_register_csv() -> BaseResponse:
    """The incoming register of a year as CSV (Decree 30, Appendix IV columns)."""
    require(Action.READ)
    agency = viewed_agency()
    year = int(request.args.get("year") or today_vn().year)
    rows = [
        [vn_date(r.received_on), str(r.number), r.issuer, r.code, r.subject, r.note]
        for r in incoming.incoming_register(ctx().db, agency, year)
    ]
    header = ["Ngày đến", "Số đến", "Cơ quan ban hành", "Số, ký hiệu", "Trích yếu", "Ghi chú"]
    return csv_response(f"so-van-ban-den-{year}.csv", header, rows)


@incoming_views.get("/register/incoming")
def incoming_register() -> tuple[str, int]:
    require(Action.READ)
    agency = viewed_agency()
    year = int(request.args.get("year") or today_vn().year)
    return render(
        "incoming_register.html", rows=incoming.incoming_register(ctx().db, agency, year), year=year
    )
