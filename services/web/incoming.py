"""Incoming documents: the inbox (from ingest), the incoming register, assignments and
the statuses a recipient reports (03, 04, 05, 06, 02, 15, 16), through ingest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from services.common.db import Database
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.web.clients import IngestClient
from services.web.i18n import parse_moment, today_vn
from services.web.models import Assignment, IncomingEntry, User
from services.web.rules import DueState, Urgent, due_state, next_number, urgency_key
from services.web.security import now

ASSIGNED, PROCESSING, DONE = "assigned", "processing", "done"
FINISHED = ("02", "06", "15")


def staff(user: User) -> dict[str, str]:
    """edXML StaffInfo: who did it."""
    return {"Staff": user.full_name or user.email, "Email": user.email, "Department": user.title}


@dataclass(frozen=True)
class InboxQuery:
    status: str = ""
    sender: str = ""
    since: str = ""  # YYYY-MM-DD
    until: str = ""
    overdue: bool = False
    words: str = ""
    limit: int = 50

    def params(self) -> dict[str, str]:
        found = {"limit": str(self.limit)}
        if self.status:
            found["status"] = self.status
        if self.sender:
            found["from"] = self.sender
        if self.since:
            found["since"] = self.since
        if self.until:
            found["until"] = self.until
        if self.overdue:
            found["overdue"] = "1"
        if self.words:
            found["q"] = self.words
        return found


def item_due_state(item: dict[str, Any], today: date) -> DueState:
    due = item.get("due_at")
    done = item.get("status") in FINISHED
    return due_state(_as_date(due), today, done=done)


def _as_date(raw: Any) -> date | None:
    if not raw:
        return None
    moment = parse_moment(str(raw))
    return moment.date() if isinstance(moment, datetime) else moment


def inbox(
    db: Database, ingest: IngestClient, agency: str, query: InboxQuery
) -> list[dict[str, Any]]:
    """The agency's deliveries with their register line and assignees, if any."""
    items = ingest.inbox(agency, query.params())
    ids = [i["delivery_id"] for i in items]
    with db.reading() as session:
        entries = {
            e.delivery_id: e
            for e in session.scalars(
                sa.select(IncomingEntry).where(
                    IncomingEntry.agency_code == agency, IncomingEntry.delivery_id.in_(ids)
                )
            )
        }
    today = today_vn()
    for item in items:
        entry = entries.get(item["delivery_id"])
        item["register_number"] = entry.number if entry else None
        item["due_state"] = item_due_state(item, today).value
    return items


def proposed_number(db: Database, agency: str, year: int) -> int:
    with db.reading() as session:
        taken = session.scalar(
            sa.select(sa.func.max(IncomingEntry.number)).where(
                IncomingEntry.agency_code == agency, IncomingEntry.year == year
            )
        )
    return next_number(taken)


def entry_for(db: Database, agency: str, delivery: str) -> IncomingEntry | None:
    with db.reading() as session:
        return session.scalar(
            sa.select(IncomingEntry).where(
                IncomingEntry.agency_code == agency, IncomingEntry.delivery_id == delivery
            )
        )


def find_delivery(ingest: IngestClient, agency: str, document: str) -> tuple[dict[str, Any], str]:
    """The document (as ingest shows it to this agency) and this agency's delivery of it."""
    found = ingest.document(agency, document)
    for delivery in found.get("deliveries") or []:
        if delivery.get("OrganId", delivery.get("recipient")) == agency:
            return found, str(delivery["delivery_id"])
    delivery_id = found.get("delivery_id")
    if isinstance(delivery_id, str):
        return found, delivery_id
    raise NotFound("this document was not sent to your agency")


def register(
    db: Database, ingest: IngestClient, user: User, document: str, delivery: str, note: str = ""
) -> IncomingEntry:
    """Vào sổ (03) with the next incoming number of the year."""
    agency = user.agency_code
    if entry_for(db, agency, delivery) is not None:
        raise Conflict("this document is registered already")
    found = ingest.document(agency, document)
    ingest.report(agency, delivery, "03", note, staff(user))
    meta = found.get("metadata") or {}
    code = meta.get("Code") or {}
    today = today_vn()
    with db.unit_of_work() as session:
        taken = session.scalar(
            sa.select(sa.func.max(IncomingEntry.number)).where(
                IncomingEntry.agency_code == agency, IncomingEntry.year == today.year
            )
        )
        entry = IncomingEntry(
            agency_code=agency,
            year=today.year,
            number=next_number(taken),
            delivery_id=delivery,
            document=document,
            received_on=today,
            issuer=str(found.get("from") or found.get("sender") or ""),
            code=f"{code.get('CodeNumber', '')}/{code.get('CodeNotation', '')}",
            subject=str(found.get("subject") or meta.get("Subject") or ""),
            registered_by=user.id,
            registered_at=now(),
            note=note,
        )
        session.add(entry)
        session.flush()
        session.expunge(entry)
    return entry


def assign(
    db: Database,
    ingest: IngestClient,
    user: User,
    delivery: str,
    people: list[tuple[int, date]],
    note: str = "",
) -> list[Assignment]:
    """Phân công (04): one or more people of the agency, each with a due date."""
    agency = user.agency_code
    entry = entry_for(db, agency, delivery)
    if entry is None:
        raise Conflict("register the document before assigning it")
    if not people:
        raise ValidationFailed("pick at least one person", [{"field": "person", "message": "?"}])
    with db.reading() as session:
        chosen = {
            u.id: u
            for u in session.scalars(sa.select(User).where(User.id.in_([p for p, _ in people])))
        }
    if any(pid not in chosen or chosen[pid].agency_code != agency for pid, _ in people):
        raise ValidationFailed("assign people of your agency only")
    names = ", ".join(chosen[pid].full_name or chosen[pid].email for pid, _ in people)
    ingest.report(agency, delivery, "04", (note or f"Giao: {names}")[:2000], staff(user))
    made = []
    with db.unit_of_work() as session:
        for pid, due in people:
            row = Assignment(
                agency_code=agency,
                delivery_id=delivery,
                document=entry.document,
                subject=entry.subject,
                user_id=pid,
                due_date=due,
                state=ASSIGNED,
                note=note,
                assigned_by=user.id,
                assigned_at=now(),
            )
            session.add(row)
            made.append(row)
        session.flush()
        for row in made:
            session.expunge(row)
    return made


def my_work(db: Database, user: User, include_done: bool = False) -> list[Assignment]:
    """Việc của tôi: what is assigned to this person, the most urgent first."""
    query = sa.select(Assignment).where(
        Assignment.user_id == user.id, Assignment.agency_code == user.agency_code
    )
    if not include_done:
        query = query.where(Assignment.state != DONE)
    with db.reading() as session:
        rows = list(session.scalars(query))
    today = today_vn()
    return sorted(rows, key=lambda a: urgency_key(Urgent(a.due_date, 0, a.assigned_at), today))


def assignments_of(db: Database, agency: str, delivery: str) -> list[tuple[Assignment, User]]:
    with db.reading() as session:
        return [
            (a, u)
            for a, u in session.execute(
                sa.select(Assignment, User)
                .join(User, User.id == Assignment.user_id)
                .where(Assignment.agency_code == agency, Assignment.delivery_id == delivery)
                .order_by(Assignment.id)
            ).all()
        ]


def _own_assignment(db: Database, user: User, assignment_id: int) -> Assignment:
    with db.reading() as session:
        row = session.get(Assignment, assignment_id)
    if row is None or row.user_id != user.id or row.agency_code != user.agency_code:
        raise NotFound("no such assignment of yours")
    return row


def start_work(db: Database, ingest: IngestClient, user: User, assignment_id: int) -> None:
    """Đang xử lý (05): the first person to start moves the delivery to 05."""
    row = _own_assignment(db, user, assignment_id)
    if row.state != ASSIGNED:
        raise Conflict("this work is started already")
    others_started = any(
        a.state != ASSIGNED for a, _ in assignments_of(db, user.agency_code, row.delivery_id)
    )
    if not others_started:
        ingest.report(user.agency_code, row.delivery_id, "05", "", staff(user))
    _set_state(db, assignment_id, PROCESSING)


def complete_work(
    db: Database, ingest: IngestClient, user: User, assignment_id: int, note: str
) -> None:
    """Hoàn thành (06) with a note, reported when the last assignee of it completes."""
    row = _own_assignment(db, user, assignment_id)
    if row.state == DONE:
        raise Conflict("this work is completed already")
    if not note.strip():
        raise ValidationFailed("write what was done", [{"field": "note", "message": "required"}])
    everyone = assignments_of(db, user.agency_code, row.delivery_id)
    if row.state == ASSIGNED and all(a.state == ASSIGNED for a, _ in everyone):
        ingest.report(user.agency_code, row.delivery_id, "05", "", staff(user))
    last = all(a.state == DONE for a, _ in everyone if a.id != row.id)
    if last:
        ingest.report(user.agency_code, row.delivery_id, "06", note.strip()[:2000], staff(user))
    _set_state(db, assignment_id, DONE, note=note.strip()[:2000])


def _set_state(db: Database, assignment_id: int, state: str, note: str | None = None) -> None:
    with db.unit_of_work() as session:
        row = session.get(Assignment, assignment_id)
        assert row is not None
        row.state = state
        if note is not None:
            row.note = note
        if state == DONE:
            row.done_at = now()


def report(
    ingest: IngestClient, user: User, delivery: str, code: str, reason: str
) -> dict[str, Any]:
    """Từ chối (02) with a reason; the answer to a recall or update (15 or 16)."""
    if code not in ("02", "15", "16"):
        raise ValidationFailed("not a status a clerk reports here")
    if code == "02" and not reason.strip():
        raise ValidationFailed("say why it is rejected", [{"field": "reason", "message": "?"}])
    return ingest.report(user.agency_code, delivery, code, reason.strip(), staff(user))


def incoming_register(db: Database, agency: str, year: int) -> list[IncomingEntry]:
    with db.reading() as session:
        return list(
            session.scalars(
                sa.select(IncomingEntry)
                .where(IncomingEntry.agency_code == agency, IncomingEntry.year == year)
                .order_by(IncomingEntry.number.desc())
            )
        )
