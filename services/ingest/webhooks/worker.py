"""The webhook worker: sends queued pushes, retries them, dead-letters them.

A dispatcher claims due jobs (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number
of ingest processes can run one) and leases them by moving ``next_attempt_at`` past
the longest a send can take; that commits before any HTTP call. Sender threads POST
each job and record the outcome in a transaction of its own. A worker that dies
mid-send leaves the lease to expire and another worker sends the job again, with
the same ``X-LienThong-Delivery`` id: delivery is at least once.

Outcomes: 2xx delivered. A network error, a timeout, 5xx or 429: retried after an
exponential backoff with full jitter, until the job is older than the maximum age,
then dead. 3xx (redirects are not followed) and 4xx other than 429: dead at once.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import Database
from services.ingest.models import Webhook, WebhookJob
from services.ingest.settings import WebhookSettings
from services.ingest.times import now
from services.ingest.webhooks.http import HttpTransport, Outcome, Transport, guard_for
from services.ingest.webhooks.rules import (
    HEADER_ATTEMPT,
    HEADER_DELIVERY,
    HEADER_EVENT,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SecretBox,
    SecretUnavailable,
    backoff_delay,
    sign,
)
from services.ingest.webhooks.store import WAKE_FLAG

log = logging.getLogger(__name__)

USER_AGENT = "LienThong-Webhooks/1"
LEASE_MARGIN = 30.0  # seconds beyond the timeouts before another worker may take a job


@dataclass(frozen=True)
class Claimed:
    id: str
    attempt: int
    claimed_at: datetime  # with ``attempt``, tells this lease from any later one
    agency: str
    event: str
    body: dict[str, object]  # the JSON to push
    started_at: datetime  # the bounded age counts from here (created, or manually retried)
    url: str | None
    sealed_secret: str | None


# --- the worker -------------------------------------------------------------------


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        settings: WebhookSettings,
        *,
        transport: Transport | None = None,
        rng: Callable[[], float] = random.random,
        poll_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.box = box
        self.settings = settings
        # The deployment's address rule: registration and the transport both use it.
        self.guard = guard_for(settings)
        self.transport: Transport = transport or HttpTransport(settings, self.guard)
        self.rng = rng
        self.poll_interval = poll_interval
        self.lease = settings.connect_timeout + settings.read_timeout + LEASE_MARGIN
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        db.on_commit(self._after_commit)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(WAKE_FLAG, False):
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    # --- claim, send, record ---

    def claim(self, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due jobs; committed before anything is sent."""
        moment = now()
        with self.db.unit_of_work() as session:
            query = (
                sa.select(WebhookJob)
                .where(
                    WebhookJob.delivered_at.is_(None),
                    WebhookJob.dead_at.is_(None),
                    WebhookJob.next_attempt_at <= moment,
                )
                .order_by(WebhookJob.next_attempt_at)
                .limit(limit)
            )
            if not self.db.is_sqlite:  # SQLite's BEGIN IMMEDIATE already serializes writers
                query = query.with_for_update(skip_locked=True)
            jobs = session.scalars(query).all()
            if not jobs:
                return []
            hooks = {
                h.agency_code: h
                for h in session.scalars(
                    sa.select(Webhook).where(Webhook.agency_code.in_({j.agency_code for j in jobs}))
                )
            }
            claimed = []
            for job in jobs:
                job.attempts += 1
                job.last_attempt_at = moment
                job.next_attempt_at = moment + timedelta(seconds=self.lease)
                hook = hooks.get(job.agency_code)
                claimed.append(
                    Claimed(
                        id=job.id,
                        attempt=job.attempts,
                        claimed_at=moment,
                        agency=job.agency_code,
                        event=job.event,
                        body=dict(job.body),
                        started_at=job.retried_at or job.created_at,
                        url=hook.url if hook else None,
                        sealed_secret=hook.secret if hook else None,
                    )
                )
        return claimed

    def send(self, job: Claimed) -> Outcome:
        if job.url is None or job.sealed_secret is None:
            return Outcome(error=f"{job.agency} has no webhook registered any more")
        try:
            secret = self.box.open(job.sealed_secret)
        except SecretUnavailable as e:
            return Outcome(retry=True, error=e.detail)
        body = json.dumps(job.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(now().timestamp())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            HEADER_EVENT: job.event,
            HEADER_DELIVERY: job.id,
            HEADER_TIMESTAMP: str(timestamp),
            HEADER_SIGNATURE: sign(secret, timestamp, body),
            HEADER_ATTEMPT: str(job.attempt),
        }
        try:
            return self.transport(job.url, body, headers)
        except Exception as e:  # a transport must not take the worker down
            log.exception("webhook %s: sending failed unexpectedly", job.id)
            return Outcome(retry=True, error=f"{type(e).__name__}: {e}")

    def record(self, job: Claimed, outcome: Outcome) -> str:
        """Store the outcome; returns the job's state ("delivered", "pending", "dead"),
        or "lost" when the lease ran out and someone else owns the job now."""
        moment = now()
        with self.db.unit_of_work() as session:
            row = session.get(WebhookJob, job.id, with_for_update=True)
            if (
                row is None
                or row.attempts != job.attempt
                or row.last_attempt_at is None
                or row.last_attempt_at != job.claimed_at
                or row.delivered_at is not None
                or row.dead_at is not None
            ):
                return "lost"
            row.last_status = outcome.status
            if outcome.delivered:
                row.delivered_at = moment
                return "delivered"
            error = (outcome.error or "failed")[:2000]
            deadline = job.started_at + timedelta(seconds=self.settings.max_age)
            if not outcome.retry:
                row.dead_at, row.last_error = moment, error
                log.warning("webhook %s to %s dead: %s", job.id, job.agency, error)
                return "dead"
            if moment >= deadline:
                row.dead_at = moment
                row.last_error = f"{error} (gave up after {job.attempt} attempts)"
                log.warning(
                    "webhook %s to %s dead after %d attempts", job.id, job.agency, job.attempt
                )
                return "dead"
            delay = backoff_delay(
                job.attempt, self.settings.backoff_base, self.settings.backoff_cap, self.rng
            )
            if outcome.retry_after is not None:
                delay = max(delay, min(outcome.retry_after, self.settings.backoff_cap))
            # One last attempt at the deadline, rather than giving up early.
            row.next_attempt_at = min(moment + timedelta(seconds=delay), deadline)
            row.last_error = error
            return "pending"

    def deliver(self, job: Claimed) -> str:
        return self.record(job, self.send(job))

    def run_once(self, limit: int = 50) -> int:
        """Claim due jobs and deliver them one by one, here; how many were handled."""
        jobs = self.claim(limit)
        for job in jobs:
            self.deliver(job)
        return len(jobs)

    def release(self, jobs: list[Claimed]) -> None:
        """Give back jobs claimed but never sent (at shutdown): due now, attempt unspent."""
        with self.db.unit_of_work() as session:
            for job in jobs:
                session.execute(
                    sa.update(WebhookJob)
                    .where(
                        WebhookJob.id == job.id,
                        WebhookJob.attempts == job.attempt,
                        WebhookJob.last_attempt_at == job.claimed_at,
                    )
                    .values(attempts=job.attempt - 1, next_attempt_at=now())
                )

    def seconds_until_due(self) -> float | None:
        with self.db.reading() as session:
            due = session.scalar(
                sa.select(sa.func.min(WebhookJob.next_attempt_at)).where(
                    WebhookJob.delivered_at.is_(None), WebhookJob.dead_at.is_(None)
                )
            )
        return None if due is None else max((due - now()).total_seconds(), 0.0)

    # --- the loop ---

    def _sender(self, jobs: queue.Queue[Claimed], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                job = jobs.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.deliver(job)
            except Exception:
                log.exception("webhook %s: recording the outcome failed; its lease expires", job.id)
            finally:
                with self._lock:
                    self._in_flight -= 1
                self._wake.set()

    def _dispatch(self, jobs: queue.Queue[Claimed]) -> float:
        """Hand what is due to the senders; returns how long to sleep. Reads first, so
        an idle worker never takes a write lock (SQLite has one for the whole file)."""
        with self._lock:
            free = self.settings.concurrency - self._in_flight
        if free <= 0:
            return self.poll_interval  # a sender that finishes wakes us
        due = self.seconds_until_due()
        if due is None or due > 0:
            return self.poll_interval if due is None else min(self.poll_interval, due)
        claimed = self.claim(free)
        for job in claimed:
            with self._lock:
                self._in_flight += 1
            jobs.put(job)
        # Nothing claimed though something is due: another worker holds those rows.
        return 0.0 if claimed else 0.05

    def run(self, stop: threading.Event) -> None:
        jobs: queue.Queue[Claimed] = queue.Queue()
        for i in range(self.settings.concurrency):
            threading.Thread(
                target=self._sender, args=(jobs, stop), name=f"webhook-sender-{i}", daemon=True
            ).start()
        backoff = 0.5
        while not stop.is_set():
            self._wake.clear()
            try:
                wait = self._dispatch(jobs)
                backoff = 0.5
            except Exception:
                log.exception("webhook worker failed; retrying in %.1fs", backoff)
                wait, backoff = backoff, min(backoff * 2, 10.0)
            if wait > 0:
                self._wake.wait(wait)
        unsent: list[Claimed] = []
        while not jobs.empty():
            unsent.append(jobs.get_nowait())
        if unsent:
            try:
                self.release(unsent)
            except Exception:
                log.warning("webhook worker: releasing unsent jobs failed; their leases expire")
