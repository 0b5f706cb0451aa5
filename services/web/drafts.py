"""Outgoing documents: a draft is uploaded, signed by its leader (or returned), then
numbered from the outgoing register, sealed and sent through ingest by a clerk."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from services.common.db import Database
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.storage import ObjectStore, spool
from services.web.clients import IngestClient, SigningClient
from services.web.i18n import today_vn
from services.web.models import Draft, OutgoingEntry, User
from services.web.pages import PageRenderer
from services.web.rules import PRIORITIES, Urgent, document_code, next_number, urgency_key
from services.web.security import now

# Draft states
DRAFT, RETURNED, SIGNED, SEALED, SENT = "draft", "returned", "signed", "sealed", "sent"


@dataclass(frozen=True)
class DraftForm:
    subject: str
    type_name: str
    notation: str
    place: str
    leader_id: int
    due_date: date | None
    priority: int


def store_pdf(store: ObjectStore, spool_dir: Any, pdf: bytes) -> str:
    spool_dir.mkdir(parents=True, exist_ok=True)
    upload = spool(io.BytesIO(pdf), spool_dir, len(pdf) + 1)
    try:
        store.put(upload)
    finally:
        upload.discard()
    return upload.sha256


def pdf_bytes(store: ObjectStore, sha256: str) -> bytes:
    return b"".join(store.iter_bytes(sha256))


def create_draft(
    db: Database,
    store: ObjectStore,
    pages: PageRenderer,
    spool_dir: Any,
    author: User,
    pdf: bytes,
    form: DraftForm,
) -> Draft:
    problems = []
    if not form.subject.strip():
        problems.append({"field": "subject", "message": "is required"})
    if not form.notation.strip():
        problems.append({"field": "notation", "message": "is required"})
    if form.priority not in PRIORITIES:
        problems.append({"field": "priority", "message": "unknown"})
    if problems:
        raise ValidationFailed("the draft has problems", problems)
    if not pdf.startswith(b"%PDF-"):
        raise ValidationFailed("the file is not a PDF", [{"field": "file", "message": "PDF"}])
    count = pages.page_count(pdf)
    with db.reading() as session:
        leader = session.get(User, form.leader_id)
    if leader is None or leader.agency_code != author.agency_code or leader.role != "leader":
        raise ValidationFailed(
            "pick a leader of your agency", [{"field": "leader", "message": "?"}]
        )
    sha = store_pdf(store, spool_dir, pdf)
    moment = now()
    draft = Draft(
        id=str(uuid.uuid4()),
        agency_code=author.agency_code,
        created_by=author.id,
        leader_id=leader.id,
        state=DRAFT,
        subject=form.subject.strip(),
        type_name=form.type_name.strip() or "Công văn",
        notation=form.notation.strip(),
        place=form.place.strip(),
        due_date=form.due_date,
        priority=form.priority,
        original_sha256=sha,
        current_sha256=sha,
        size=len(pdf),
        page_count=count,
        created_at=moment,
        updated_at=moment,
    )
    with db.unit_of_work() as session:
        session.add(draft)
    return draft


def get_draft(db: Database, agency: str, draft_id: str) -> Draft:
    """A draft of this agency; another agency's is as good as missing."""
    with db.reading() as session:
        draft = session.get(Draft, draft_id)
    if draft is None or draft.agency_code != agency:
        raise NotFound("no such draft in your agency")
    return draft


def waiting_for(db: Database, leader: User) -> list[Draft]:
    """Chờ tôi ký: overdue, due soon, priority, then the oldest first."""
    with db.reading() as session:
        drafts = list(
            session.scalars(
                sa.select(Draft).where(
                    Draft.leader_id == leader.id,
                    Draft.agency_code == leader.agency_code,
                    Draft.state == DRAFT,
                )
            )
        )
    today = today_vn()
    return sorted(
        drafts, key=lambda d: urgency_key(Urgent(d.due_date, d.priority, d.created_at), today)
    )


def agency_drafts(db: Database, agency: str, states: tuple[str, ...] | None = None) -> list[Draft]:
    query = sa.select(Draft).where(Draft.agency_code == agency).order_by(Draft.updated_at.desc())
    if states:
        query = query.where(Draft.state.in_(states))
    with db.reading() as session:
        return list(session.scalars(query.limit(500)))


def _update(db: Database, draft_id: str, expected: tuple[str, ...], **values: Any) -> Draft:
    with db.unit_of_work() as session:
        draft = session.get(Draft, draft_id, with_for_update=True)
        if draft is None:
            raise NotFound("no such draft")
        if draft.state not in expected:
            raise Conflict(f"the draft is {draft.state} now; this needs {' or '.join(expected)}")
        for name, value in values.items():
            setattr(draft, name, value)
        draft.updated_at = now()
        session.flush()
        session.expunge(draft)
    return draft


def signing_options(
    draft: Draft, leader: User, box: list[float] | None, page: int | None
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "profile": "personal",
        "level": "B-T",
        "agency": draft.agency_code,
        "person": leader.full_name,
        "signer_full_name": leader.full_name,
        "reason": "Ký ban hành",
    }
    if box is not None and page is not None:
        options.update(box=box, page=page)
    return options


def sign_draft(
    db: Database,
    store: ObjectStore,
    signing: SigningClient,
    spool_dir: Any,
    draft: Draft,
    leader: User,
    box: list[float] | None = None,
    page: int | None = None,
) -> Draft:
    if draft.leader_id != leader.id:
        raise NotFound("this draft is not waiting for your signature")
    if draft.state != DRAFT:
        raise Conflict(f"the draft is {draft.state} now")
    signed = signing.sign(
        pdf_bytes(store, draft.current_sha256), signing_options(draft, leader, box, page)
    )
    sha = store_pdf(store, spool_dir, signed)
    return _update(
        db,
        draft.id,
        (DRAFT,),
        state=SIGNED,
        current_sha256=sha,
        size=len(signed),
        signed_at=now(),
        sign_page=page or draft.page_count,
    )


def return_draft(db: Database, draft: Draft, leader: User, comment: str) -> Draft:
    if draft.leader_id != leader.id:
        raise NotFound("this draft is not waiting for your signature")
    if not comment.strip():
        raise ValidationFailed(
            "say why it goes back", [{"field": "comment", "message": "required"}]
        )
    return _update(db, draft.id, (DRAFT,), state=RETURNED, comment=comment.strip()[:2000])


def resubmit_draft(
    db: Database, store: ObjectStore, pages: PageRenderer, spool_dir: Any, draft: Draft, pdf: bytes
) -> Draft:
    count = pages.page_count(pdf)
    sha = store_pdf(store, spool_dir, pdf)
    return _update(
        db,
        draft.id,
        (RETURNED,),
        state=DRAFT,
        original_sha256=sha,
        current_sha256=sha,
        size=len(pdf),
        page_count=count,
    )


def proposed_number(db: Database, agency: str, year: int) -> int:
    with db.reading() as session:
        taken = session.scalar(
            sa.select(sa.func.max(OutgoingEntry.number)).where(
                OutgoingEntry.agency_code == agency, OutgoingEntry.year == year
            )
        )
    return next_number(taken)


def leader_of(db: Database, draft: Draft) -> User:
    with db.reading() as session:
        leader = session.get(User, draft.leader_id)
    assert leader is not None
    return leader


def seal_draft(
    db: Database, store: ObjectStore, signing: SigningClient, spool_dir: Any, draft: Draft
) -> Draft:
    """The organization's seal over the personal signature, then the next number of the
    outgoing register and today's date, in one transaction (no gap if sealing fails)."""
    if draft.state != SIGNED:
        raise Conflict(f"the draft is {draft.state}; only a signed draft is sealed")
    options = {
        "profile": "organization",
        "level": "B-LT",
        "agency": draft.agency_code,
        "page": draft.sign_page or draft.page_count,
        "reason": "Phát hành",
    }
    sealed = signing.sign(pdf_bytes(store, draft.current_sha256), options)
    sha = store_pdf(store, spool_dir, sealed)
    leader = leader_of(db, draft)
    today = today_vn()
    with db.unit_of_work() as session:
        row = session.get(Draft, draft.id, with_for_update=True)
        if row is None or row.state != SIGNED:
            raise Conflict("the draft changed meanwhile")
        taken = session.scalar(
            sa.select(sa.func.max(OutgoingEntry.number)).where(
                OutgoingEntry.agency_code == row.agency_code, OutgoingEntry.year == today.year
            )
        )
        number = next_number(taken)
        session.add(
            OutgoingEntry(
                agency_code=row.agency_code,
                year=today.year,
                number=number,
                draft_id=row.id,
                code=document_code(number, row.notation),
                issued_on=today,
                type_name=row.type_name,
                subject=row.subject,
                signer=leader.full_name,
                recipients=[],
            )
        )
        row.state, row.current_sha256, row.size = SEALED, sha, len(sealed)
        row.sealed_at, row.number, row.issued_on, row.updated_at = now(), number, today, now()
        session.flush()
        session.expunge(row)
    return row


@dataclass(frozen=True)
class SendForm:
    recipients: tuple[str, ...]
    due_date: date | None
    priority: int
    paper: bool


def edxml_metadata(draft: Draft, leader: User, clerk: User, form: SendForm) -> dict[str, Any]:
    assert draft.number is not None and draft.issued_on is not None
    day = draft.issued_on
    return {
        "To": [{"OrganId": code} for code in form.recipients],
        "Code": {"CodeNumber": f"{draft.number:02d}", "CodeNotation": draft.notation},
        "Subject": draft.subject,
        "DocumentType": {"TypeName": draft.type_name},
        "PromulgationInfo": {
            "Place": draft.place or "-",
            "PromulgationDate": f"{day.year:04d}/{day.month:02d}/{day.day:02d}",
        },
        "SignerInfo": {"Position": leader.title, "FullName": leader.full_name},
        "DueDate": form.due_date.strftime("%Y/%m/%d") if form.due_date else None,
        "OtherInfo": {"Priority": form.priority},
        "SteeringType": 0,
        "Paper": 1 if form.paper else 0,
        "Bussiness": {
            "BussinessDocType": 0,
            "StaffInfo": {"Staff": clerk.full_name or clerk.email, "Email": clerk.email},
        },
    }


def send_draft(
    db: Database,
    store: ObjectStore,
    ingest: IngestClient,
    draft: Draft,
    clerk: User,
    form: SendForm,
) -> Draft:
    if draft.state != SEALED:
        raise Conflict(f"the draft is {draft.state}; only a sealed document is sent")
    if not form.recipients:
        raise ValidationFailed("pick at least one recipient", [{"field": "to", "message": "?"}])
    metadata = edxml_metadata(draft, leader_of(db, draft), clerk, form)
    accepted = ingest.send(
        draft.agency_code, pdf_bytes(store, draft.current_sha256), metadata, f"web-{draft.id}"
    )
    document = str(accepted["id"])
    with db.unit_of_work() as session:
        session.execute(
            sa.update(OutgoingEntry)
            .where(OutgoingEntry.draft_id == draft.id)
            .values(
                recipients=list(form.recipients), sent_at=now(), document=document, paper=form.paper
            )
        )
    return _update(db, draft.id, (SEALED,), state=SENT, document=document)


def outgoing_register(db: Database, agency: str, year: int) -> list[OutgoingEntry]:
    with db.reading() as session:
        return list(
            session.scalars(
                sa.select(OutgoingEntry)
                .where(OutgoingEntry.agency_code == agency, OutgoingEntry.year == year)
                .order_by(OutgoingEntry.number.desc())
            )
        )


def outgoing_entry(db: Database, agency: str, document: str) -> OutgoingEntry:
    with db.reading() as session:
        entry = session.scalar(
            sa.select(OutgoingEntry).where(
                OutgoingEntry.agency_code == agency, OutgoingEntry.document == document
            )
        )
    if entry is None:
        raise NotFound("no such document sent by your agency")
    return entry
