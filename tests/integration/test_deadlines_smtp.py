"""Deadline emails through a real SMTP server on loopback (aiosmtpd): received with the
right recipients and a UTF-8 subject, refused then accepted (retried, then sent),
refused for good (dead after bounded attempts), AUTH from the URL, the running
workers, and several mail workers on PostgreSQL sending each email once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.common.db import Database
from services.common.wiring import migrate
from services.routing.deadlines.mailer import MailWorker, SmtpMailer
from services.routing.deadlines.scanner import DeadlineScanner, ScanResult, scan_once
from services.routing.settings import MailSettings, RoutingSettings, SmtpSettings
from testkit.infra import free_port
from tests.unit.routing.test_deadlines_scan import (
    DUE,
    DUE_SOON,
    RECIPIENT_MAIL,
    SENDER,
    SENDER_MAIL,
    add_agencies,
    add_delivery,
    notifications,
)

pytestmark = pytest.mark.integration

FROM = "Liên Thông <lienthong@nghean.gov.vn>"
PASSWORDS = {(b"lienthong", "s3cret-Pass"), (b"lienthong", "mật khẩu")}  # ASCII, and UTF-8


# --- a real SMTP server on loopback -----------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Any


@dataclass
class SmtpInbox:
    """aiosmtpd handler: records what it accepts; replies can be scripted to refuse."""

    rcpt_replies: list[str] = field(default_factory=list)  # used once each, in order
    data_replies: list[str] = field(default_factory=list)
    refuse_always: str | None = None
    received: list[Received] = field(default_factory=list)
    rcpt_attempts: int = 0
    logins: list[bytes] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpt_attempts += 1
        if self.refuse_always:
            return self.refuse_always
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        parsed = message_from_bytes(envelope.original_content, policy=default_policy)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login,
                data.password.decode(),
            )
            in PASSWORDS
        )
        if ok:
            self.logins.append(data.login)
        return AuthResult(success=ok)


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpInbox, int]]:
    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_settings(port: int, *, max_attempts: int = 4) -> MailSettings:
    smtp = SmtpSettings("127.0.0.1", port, "none", None, None, FROM, timeout=10.0)
    return MailSettings(smtp, max_attempts=max_attempts, retry_seconds=60, max_retry_seconds=3600)


def worker_for(db: Database, port: int, **kwargs: Any) -> MailWorker:
    settings = mail_settings(port, **kwargs)
    assert settings.smtp is not None
    return MailWorker(db, SmtpMailer(settings.smtp), settings, sender=FROM)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'routing.sqlite3'}"
    migrate("routing", url)
    db = Database(url)
    add_agencies(db)
    yield db
    db.dispose()


def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


# --- SMTP --------------------------------------------------------------------------------


def test_overdue_emails_reach_the_recipient_and_the_sender(
    sqlite_db: Database, smtp_server: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp_server
    add_delivery(sqlite_db)
    assert scan_once(sqlite_db, DUE + timedelta(hours=1)) == ScanResult(overdue=1, emails=2)
    assert worker_for(sqlite_db, port).run_once() == 2
    assert sorted(r.rcpt_tos[0] for r in inbox.received) == sorted([RECIPIENT_MAIL, SENDER_MAIL])
    assert all(len(r.rcpt_tos) == 1 for r in inbox.received)
    by_to = {r.rcpt_tos[0]: r for r in inbox.received}
    document_id = f"{SENDER},2026/11/21,1/UBND-VP"
    to_recipient = by_to[RECIPIENT_MAIL]
    assert to_recipient.mail_from == "lienthong@nghean.gov.vn"
    assert str(to_recipient.message["Subject"]) == f"Văn bản đã quá hạn xử lý: {document_id}"
    assert to_recipient.message["From"].addresses[0].display_name == "Liên Thông"
    body = to_recipient.message.get_content()
    assert "Kính gửi: Sở Nội vụ tỉnh Nghệ An" in body and "Đã quá hạn: 1 giờ" in body
    escalation = by_to[SENDER_MAIL].message
    assert str(escalation["Subject"]).startswith("Văn bản gửi Sở Nội vụ tỉnh Nghệ An đã quá hạn")
    assert all(n.sent_at is not None and n.attempts == 1 for n in notifications(sqlite_db))
    assert worker_for(sqlite_db, port).run_once() == 0  # nothing is sent twice


def test_a_refusing_server_is_retried_with_backoff_then_the_mail_is_sent(
    sqlite_db: Database, smtp_server: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp_server
    inbox.rcpt_replies.append("550 5.1.1 Mailbox temporarily unavailable")
    inbox.data_replies.append("451 4.3.0 Try again later")
    add_delivery(sqlite_db)
    scan_once(sqlite_db, DUE_SOON)
    worker = worker_for(sqlite_db, port)
    t = datetime.now(UTC)
    assert worker.run_once(t) == 1
    (row,) = notifications(sqlite_db)
    assert row.sent_at is None and row.attempts == 1 and "550" in str(row.last_error)
    assert worker.run_once(t + timedelta(seconds=30)) == 0  # backing off
    assert worker.run_once(t + timedelta(seconds=61)) == 1
    (row,) = notifications(sqlite_db)
    assert row.sent_at is None and row.attempts == 2 and "451" in str(row.last_error)
    assert worker.run_once(t + timedelta(seconds=61 + 121)) == 1
    (row,) = notifications(sqlite_db)
    assert row.sent_at is not None and row.attempts == 3 and row.last_error is None
    assert len(inbox.received) == 1 and inbox.received[0].rcpt_tos == [RECIPIENT_MAIL]
    assert str(inbox.received[0].message["Subject"]).startswith("Văn bản sắp đến hạn xử lý: ")


def test_a_permanent_refusal_is_dead_after_bounded_attempts(
    sqlite_db: Database, smtp_server: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp_server
    inbox.refuse_always = "550 5.7.1 Relaying denied"
    add_delivery(sqlite_db)
    scan_once(sqlite_db, DUE_SOON)
    worker = worker_for(sqlite_db, port, max_attempts=3)
    t = datetime.now(UTC)
    tries = [worker.run_once(t + timedelta(hours=hour)) for hour in range(8)]
    assert tries == [1, 1, 1, 0, 0, 0, 0, 0]
    (row,) = notifications(sqlite_db)
    assert row.dead_at is not None and row.sent_at is None and row.attempts == 3
    assert "550" in str(row.last_error) and "Relaying denied" in str(row.last_error)
    assert inbox.rcpt_attempts == 3 and inbox.received == []


def test_an_unreachable_server_counts_as_a_failed_attempt(sqlite_db: Database) -> None:
    add_delivery(sqlite_db)
    scan_once(sqlite_db, DUE_SOON)
    assert worker_for(sqlite_db, free_port()).run_once() == 1
    (row,) = notifications(sqlite_db)
    assert row.sent_at is None and row.dead_at is None and row.attempts == 1
    assert "Connection" in str(row.last_error) or "refused" in str(row.last_error)


@pytest.mark.parametrize("password", ["s3cret-Pass", "mật khẩu"])
def test_the_workers_send_on_their_own_with_credentials_from_the_url(
    sqlite_db: Database, smtp_server: tuple[SmtpInbox, int], tmp_path: Path, password: str
) -> None:
    """The running workers as create_app wires them: a short scan interval, the mail
    worker woken by the scanner's commit, AUTH with the URL's (UTF-8) credentials."""
    inbox, port = smtp_server
    settings = RoutingSettings.from_env(
        {
            "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
            "LIENTHONG_SMTP_URL": f"smtp://lienthong:{quote(password)}@127.0.0.1:{port}",
            "LIENTHONG_SMTP_FROM": FROM,
        }
    )
    assert settings.mail.smtp is not None and settings.mail.smtp.password == password
    add_delivery(sqlite_db, due_at=datetime.now(UTC) - timedelta(minutes=1))
    scanner = DeadlineScanner(sqlite_db, interval=1, email=True)
    worker = MailWorker(
        sqlite_db, SmtpMailer(settings.mail.smtp), settings.mail, sender=FROM, poll_interval=30
    )
    stop = threading.Event()
    threads = [threading.Thread(target=w, args=(stop,)) for w in (scanner.run, worker.run)]
    for thread in threads:
        thread.start()
    try:
        _eventually(lambda: len(inbox.received) == 2)
    finally:
        stop.set()
        worker.wake()
        for thread in threads:
            thread.join(timeout=10)
    assert inbox.logins == [b"lienthong", b"lienthong"]


# --- several routing processes on PostgreSQL ----------------------------------------


@pytest.fixture
def pg_dbs(pg_urls: dict[str, str]) -> Iterator[list[Database]]:
    """One migrated routing database; four engines on it, as four processes would have."""
    migrate("routing", pg_urls["routing"])
    dbs = [Database(pg_urls["routing"]) for _ in range(4)]
    add_agencies(dbs[0])
    yield dbs
    for db in dbs:
        db.dispose()


def test_parallel_mail_workers_send_each_email_once(
    pg_dbs: list[Database], smtp_server: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp_server
    for i in range(15):
        add_delivery(pg_dbs[0], number=i)
    assert scan_once(pg_dbs[0], DUE).emails == 30
    workers = [worker_for(db, port) for db in pg_dbs]
    for w in workers:
        w.batch_size = 3

    def drain(worker: MailWorker) -> int:
        sent = 0
        while (count := worker.run_once()) > 0:
            sent += count
        return sent

    with ThreadPoolExecutor(len(workers)) as pool:
        results = list(pool.map(drain, workers))
    assert sum(results) == 30
    ids = Counter(str(r.message["Message-ID"]) for r in inbox.received)
    assert len(ids) == 30 and set(ids.values()) == {1}
    rows = notifications(pg_dbs[0])
    assert all(n.sent_at is not None and n.attempts == 1 for n in rows)
