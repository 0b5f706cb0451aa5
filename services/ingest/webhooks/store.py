"""Webhooks in ingest's database: each agency's endpoint, and the push jobs.

A push is queued as a ``webhook_jobs`` row in the transaction that changes the
projection it reports, and only then: a rolled-back change pushes nothing, and no
HTTP call ever runs inside a transaction (the worker sends after commit).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict
from urllib.parse import urlsplit

import sqlalchemy as sa
from requests.utils import get_environ_proxies, select_proxy
from sqlalchemy.orm import Session

from services.common.bus.messages import (
    DeliveryDispatched,
    DeliveryDueSoon,
    DeliveryOverdue,
    DeliveryStatusChanged,
)
from services.common.db import Database, get_row
from services.common.errors import BadRequest, Conflict, NotFound, ValidationFailed
from services.ingest.models import Agency, Delivery, Document, Webhook, WebhookJob
from services.ingest.times import iso, now
from services.ingest.webhooks.network import AddressGuard, AddressRefused
from services.ingest.webhooks.rules import (
    EVENT_DUE_SOON,
    EVENT_OVERDUE,
    EVENT_RECEIVED,
    EVENT_STATUS,
    SecretBox,
    check_events,
    check_webhook_url,
    new_secret,
)

WAKE_FLAG = "lienthong.webhook_pending"
STATES = ("pending", "delivered", "dead")

# --- the agency's endpoint --------------------------------------------------------


class WebhookConfig(TypedDict):
    """``GET /v1/webhook``: an agency's endpoint (never its secret)."""

    agency: str
    url: str
    events: list[str] | None  # null: every event
    created_at: str | None
    updated_at: str | None


class JobView(TypedDict):
    """One push as ``GET /v1/webhook/deliveries`` and the CLI list it."""

    id: str
    agency: str
    event: str
    state: str
    attempts: int
    created_at: str | None
    last_attempt_at: str | None
    next_attempt_at: str | None
    delivered_at: str | None
    dead_at: str | None
    last_status: int | None
    last_error: str | None
    body: dict[str, Any]  # the JSON pushed, as stored


def _config_view(hook: Webhook) -> WebhookConfig:
    return {
        "agency": hook.agency_code,
        "url": hook.url,
        "events": list(hook.events) or None,  # null: every event
        "created_at": iso(hook.created_at),
        "updated_at": iso(hook.updated_at),
    }


def register_webhook(
    db: Database,
    box: SecretBox,
    agency: str,
    url: object,
    *,
    events: object = None,
    guard: AddressGuard,
) -> tuple[WebhookConfig, str, bool]:
    """Set the agency's endpoint with a fresh secret: (view, secret, created).

    The URL's host must be, or resolve only to, addresses ``guard`` allows. Every
    registration makes a new secret; jobs still queued are signed with it."""
    checked_url = check_reachable_url(url, guard)
    checked_events = check_events(events)
    secret = new_secret()
    moment = now()
    with db.unit_of_work() as session:
        if session.get(Agency, agency) is None:
            raise NotFound(f"agency {agency} is not registered")
        hook = session.get(Webhook, agency, with_for_update=True)
        created = hook is None
        if hook is None:
            hook = Webhook(agency_code=agency, created_at=moment)
            session.add(hook)
        hook.url, hook.events = checked_url, checked_events
        hook.secret, hook.updated_at = box.seal(secret), moment
        session.flush()
        view = _config_view(hook)
    return view, secret, created


def check_reachable_url(url: object, guard: AddressGuard) -> str:
    """``check_webhook_url``, then the host's addresses: every A and AAAA record must
    be allowed. A name that does not resolve is refused too (unless a proxy from the
    environment will resolve it for us), so a mistyped host is told at once."""
    checked = check_webhook_url(
        url, allow_loopback=guard.allow_loopback, allow_networks=guard.allow_networks
    )
    host = urlsplit(checked).hostname or ""
    try:
        guard.addresses(host)
    except AddressRefused as e:
        raise _url_refused(str(e)) from None
    except (OSError, UnicodeError) as e:
        if not select_proxy(checked, get_environ_proxies(checked)):
            raise _url_refused(f"{host} does not resolve ({e})") from None
    return checked


def _url_refused(message: str) -> ValidationFailed:
    return ValidationFailed(
        f"the webhook URL is refused: {message}", [{"field": "url", "message": message}]
    )


def webhook_config(db: Database, agency: str) -> WebhookConfig:
    with db.reading() as session:
        hook = session.get(Webhook, agency)
        if hook is None:
            raise NotFound(f"{agency} has no webhook; register one with PUT /v1/webhook")
        return _config_view(hook)


def remove_webhook(db: Database, agency: str) -> None:
    """Jobs still queued are not sent: the worker finds no endpoint and marks them dead."""
    with db.unit_of_work() as session:
        hook = session.get(Webhook, agency)
        if hook is None:
            raise NotFound(f"{agency} has no webhook")
        session.delete(hook)


def reseal_secrets(db: Database, box: SecretBox) -> int:
    """Re-encrypt every stored secret under the first key; the old keys can then go."""
    with db.unit_of_work() as session:
        hooks = session.scalars(sa.select(Webhook).with_for_update()).all()
        for hook in hooks:
            hook.secret = box.reseal(hook.secret)
        return len(hooks)


# --- queuing pushes, inside the projection's transaction ---------------------------


def _insert_ignoring_duplicates(session: Session, values: Mapping[str, object]) -> bool:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(WebhookJob).values(**values).on_conflict_do_nothing()
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def enqueue(
    session: Session,
    agency: str,
    event: str,
    *,
    role: str,
    data: Mapping[str, object],
    dedupe_key: str,
) -> str | None:
    """Queue a push for ``agency`` if it has a webhook that wants ``event``; the job id,
    or None. ``session`` is the caller's transaction: the job commits (or not) with it."""
    # Read once per transaction: a batch names the same few agencies many times.
    hook = get_row(session, Webhook, agency)
    if hook is None or (hook.events and event not in hook.events):
        return None
    job_id = str(uuid.uuid4())
    moment = now()
    body = {
        "id": job_id,
        "type": event,
        "agency": agency,
        "role": role,
        "occurred_at": moment.isoformat(timespec="microseconds"),
        "data": data,
    }
    inserted = _insert_ignoring_duplicates(
        session,
        {
            "id": job_id,
            "agency_code": agency,
            "event": event,
            "dedupe_key": dedupe_key,
            "body": body,
            "attempts": 0,
            "next_attempt_at": moment,
            "created_at": moment,
        },
    )
    if not inserted:
        return None
    session.info[WAKE_FLAG] = True  # the worker is woken after commit
    return job_id


def delivery_received(session: Session, msg: DeliveryDispatched, delivery: Delivery) -> None:
    """A new delivery in the recipient's inbox (the fields of a GET /v1/inbox item)."""
    data = {
        "delivery_id": delivery.delivery_id,
        "id": msg.document,
        "document_id": msg.document_id,
        "from": msg.sender,
        "subject": msg.subject,
        "status": delivery.status,
        "status_at": iso(delivery.status_at),
        "received_at": iso(delivery.arrived_at),
        "sha256": msg.sha256,
        "size": msg.size,
        "content": f"/v1/documents/{msg.document}/content",
    }
    enqueue(
        session,
        msg.recipient,
        EVENT_RECEIVED,
        role="recipient",
        data=data,
        dedupe_key=f"received:{delivery.delivery_id}",
    )


def status_changed(session: Session, msg: DeliveryStatusChanged) -> None:
    """A status on a delivery: to its recipient, and to the document's sender. ``seq``
    orders a delivery's statuses; pushes may arrive out of order."""
    doc = get_row(session, Document, msg.document)
    data = {
        "delivery_id": msg.delivery_id,
        "id": msg.document,
        "document_id": doc.document_id if doc else None,
        "from": doc.sender_code if doc else None,
        "recipient": msg.recipient,
        "code": msg.code,
        "status": msg.status,
        "seq": msg.seq,
        "at": msg.at,
        "reported_by": msg.reported_by,
        "description": msg.description,
        "staff": msg.staff,
    }
    key = f"status:{msg.delivery_id}:{msg.seq}"
    enqueue(session, msg.recipient, EVENT_STATUS, role="recipient", data=data, dedupe_key=key)
    if doc is not None and doc.sender_code != msg.recipient:
        enqueue(session, doc.sender_code, EVENT_STATUS, role="sender", data=data, dedupe_key=key)


def deadline_noticed(
    session: Session, msg: DeliveryDueSoon | DeliveryOverdue, *, overdue: bool
) -> None:
    """Due soon: to the recipient. Overdue: to the recipient and to the sender."""
    event = EVENT_OVERDUE if overdue else EVENT_DUE_SOON
    data = {
        "delivery_id": msg.delivery_id,
        "id": msg.document,
        "document_id": msg.document_id,
        "from": msg.sender,
        "recipient": msg.recipient,
        "subject": msg.subject,
        "status": msg.status,
        "due_at": msg.due_at,
        "noticed_at": msg.noticed_at,
    }
    key = f"{event}:{msg.delivery_id}"
    enqueue(session, msg.recipient, event, role="recipient", data=data, dedupe_key=key)
    if overdue and msg.sender != msg.recipient:
        enqueue(session, msg.sender, event, role="sender", data=data, dedupe_key=key)


# --- looking at jobs, retrying dead ones --------------------------------------------


def job_state(job: WebhookJob) -> str:
    if job.delivered_at is not None:
        return "delivered"
    return "dead" if job.dead_at is not None else "pending"


def job_view(job: WebhookJob) -> JobView:
    return {
        "id": job.id,
        "agency": job.agency_code,
        "event": job.event,
        "state": job_state(job),
        "attempts": job.attempts,
        "created_at": iso(job.created_at),
        "last_attempt_at": iso(job.last_attempt_at),
        "next_attempt_at": iso(job.next_attempt_at) if job_state(job) == "pending" else None,
        "delivered_at": iso(job.delivered_at),
        "dead_at": iso(job.dead_at),
        "last_status": job.last_status,
        "last_error": job.last_error,
        "body": job.body,
    }


def _state_filter(state: str) -> sa.ColumnElement[bool]:
    if state == "delivered":
        return WebhookJob.delivered_at.is_not(None)
    if state == "dead":
        return WebhookJob.dead_at.is_not(None)
    return sa.and_(WebhookJob.delivered_at.is_(None), WebhookJob.dead_at.is_(None))


def list_jobs(
    db: Database, agency: str | None, state: str | None, limit: int = 50
) -> list[JobView]:
    """Newest first."""
    if state is not None and state not in STATES:
        raise BadRequest(f"state must be one of {', '.join(STATES)}")
    query = sa.select(WebhookJob).order_by(WebhookJob.created_at.desc(), WebhookJob.id)
    if agency is not None:
        query = query.where(WebhookJob.agency_code == agency)
    if state is not None:
        query = query.where(_state_filter(state))
    with db.reading() as session:
        return [job_view(job) for job in session.scalars(query.limit(limit))]


def _retry(job: WebhookJob, moment: datetime) -> None:
    job.dead_at = None
    job.attempts = 0
    job.retried_at = moment  # the bounded age starts again
    job.next_attempt_at = moment


def retry_job(db: Database, job_id: str, agency: str | None = None) -> JobView:
    """Send a dead (or waiting) job again, now; a delivered one is a conflict."""
    with db.unit_of_work() as session:
        job = session.get(WebhookJob, job_id, with_for_update=True)
        if job is None or (agency is not None and job.agency_code != agency):
            raise NotFound(f"no webhook delivery {job_id}")
        if job.delivered_at is not None:
            raise Conflict(f"webhook delivery {job_id} was already delivered")
        _retry(job, now())
        session.info[WAKE_FLAG] = True
        return job_view(job)


def retry_dead(db: Database, agency: str | None = None) -> int:
    """Every dead job (of one agency, or of all) back in the queue."""
    moment = now()
    with db.unit_of_work() as session:
        query = sa.select(WebhookJob).where(WebhookJob.dead_at.is_not(None))
        if agency is not None:
            query = query.where(WebhookJob.agency_code == agency)
        jobs = session.scalars(query.with_for_update()).all()
        for job in jobs:
            _retry(job, moment)
        if jobs:
            session.info[WAKE_FLAG] = True
        return len(jobs)
