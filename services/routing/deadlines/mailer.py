"""Sends the queued notifications over SMTP, outside any database transaction.

The mail worker claims due rows (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL)
and leases them by moving ``next_attempt_at`` ahead, commits, sends, then records
the outcome in a second transaction. A failure (a refused connection, SMTP 4xx or
5xx) is retried with exponential backoff and jitter; after ``max_attempts`` the
row is marked dead with the last error. A process that dies between sending and
recording sends that email again when the lease runs out: at least once.
"""

from __future__ import annotations

import base64
import logging
import random
import smtplib
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import Database
from services.routing.deadlines.notices import MAIL_PENDING_FLAG
from services.routing.deadlines.rules import VIETNAM
from services.routing.models import Notification
from services.routing.settings import MailSettings, SmtpSettings

log = logging.getLogger(__name__)


class MailError(Exception):
    """Sending failed; ``code`` is the SMTP reply code when the server gave one."""

    def __init__(self, detail: str, code: int | None = None) -> None:
        super().__init__(detail)
        self.code = code


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def build_message(
    sender: str, to_address: str, subject: str, body: str, *, message_key: str
) -> EmailMessage:
    """A UTF-8 MIME message: RFC 2047 subject, quoted-printable body (7-bit safe)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to_address
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(VIETNAM))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "lienthong.invalid"
    # Stable across retries, so a mailbox that got a resend can tell it is the same.
    message["Message-ID"] = f"<lienthong.{message_key}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "vi"
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    return message


def _reply_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib.login, except for non-ASCII credentials, which it cannot encode: those go
    as AUTH PLAIN in UTF-8 (RFC 4616)."""
    if (username + password).isascii():
        client.login(username, password)
        return
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("the SMTP server does not offer AUTH")
    token = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode()
    code, reply = client.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


class SmtpMailer:
    """One SMTP session per message: smtp://, smtp+starttls:// or smtps://."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "tls":
            return smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
            )
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        if s.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        return client

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            with self._connect() as client:
                if s.username:
                    _login(client, s.username, s.password or "")
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()), (None, b""))
            raise MailError(f"recipient refused: {code} {_reply_text(text)}", code) from e
        except smtplib.SMTPResponseException as e:
            raise MailError(f"{e.smtp_code} {_reply_text(e.smtp_error)}", e.smtp_code) from e
        except (smtplib.SMTPException, OSError) as e:
            raise MailError(f"{type(e).__name__}: {e}") from e


@dataclass(frozen=True)
class Claimed:
    id: int
    to_address: str
    subject: str
    body: str
    attempts: int
    key: str


def backoff(settings: MailSettings, attempts: int, jitter: float | None = None) -> timedelta:
    """Wait after the ``attempts``-th failure: doubling from retry_seconds, capped,
    less up to 20 % jitter so that many failures do not retry in step."""
    base = min(settings.retry_seconds * 2 ** max(attempts - 1, 0), settings.max_retry_seconds)
    factor = 1.0 - 0.2 * (random.random() if jitter is None else jitter)
    return timedelta(seconds=base * factor)


class MailWorker:
    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        settings: MailSettings,
        *,
        sender: str,
        batch_size: int = 10,
        poll_interval: float = 2.0,
        lease: timedelta | None = None,
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.settings = settings
        self.sender = sender
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        timeout = settings.smtp.timeout if settings.smtp else 30.0
        # Long enough for the whole batch to time out one by one: a row is taken again
        # only when its worker must have died.
        self.lease = lease or timedelta(seconds=max(60.0, 2 * timeout * (batch_size + 1)))
        self._wake = threading.Event()
        db.on_commit(self._after_commit)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(MAIL_PENDING_FLAG, False):
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def _claim(self, now: datetime) -> list[Claimed]:
        with self.db.unit_of_work() as session:
            query = (
                sa.select(Notification)
                .where(
                    Notification.sent_at.is_(None),
                    Notification.dead_at.is_(None),
                    Notification.next_attempt_at <= now,
                )
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(self.batch_size)
            )
            if not self.db.is_sqlite:
                # Several routing processes: each takes rows no other one holds.
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for row in session.scalars(query).all():
                row.attempts += 1
                row.next_attempt_at = now + self.lease
                claimed.append(
                    Claimed(
                        row.id,
                        row.to_address,
                        row.subject,
                        row.body,
                        row.attempts,
                        f"notice.{row.id}.{int(row.created_at.timestamp())}",
                    )
                )
            return claimed

    def _settle(self, item: Claimed, error: MailError | None, now: datetime) -> None:
        with self.db.unit_of_work() as session:
            row = session.get(Notification, item.id)
            if row is None:
                return
            if error is None:
                row.sent_at = datetime.now(UTC)
                row.last_error = None
                log.info("emailed %s (%s) to %s", row.kind, row.delivery_id, row.to_address)
            elif item.attempts >= self.settings.max_attempts:
                row.dead_at = datetime.now(UTC)
                row.last_error = str(error)
                log.error(
                    "gave up emailing %s to %s after %d attempts: %s",
                    row.kind,
                    row.to_address,
                    item.attempts,
                    error,
                )
            else:
                # From the later of the claim and now: the batch may have taken a while.
                start = max(now, datetime.now(UTC))
                row.next_attempt_at = start + backoff(self.settings, item.attempts)
                row.last_error = str(error)
                log.warning(
                    "emailing %s to %s failed (attempt %d), will retry: %s",
                    row.kind,
                    row.to_address,
                    item.attempts,
                    error,
                )

    def run_once(self, now: datetime | None = None) -> int:
        """Try every notification due at ``now``; returns how many were attempted."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        claimed = self._claim(moment)
        for item in claimed:
            try:
                message = build_message(
                    self.sender, item.to_address, item.subject, item.body, message_key=item.key
                )
                self.mailer.send(message)
                outcome: MailError | None = None
            except MailError as e:
                outcome = e
            except Exception as e:  # a bug or an odd server: recorded, retried, bounded
                outcome = MailError(f"{type(e).__name__}: {e}")
            self._settle(item, outcome, moment)
        return len(claimed)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                count = self.run_once()
            except Exception:
                log.exception("mail worker failed; retrying in %.1fs", self.poll_interval)
                count = 0
            if count < self.batch_size:
                self._wake.wait(self.poll_interval)
                self._wake.clear()
