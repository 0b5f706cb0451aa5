"""Deadlines without a database: the due-time rules, the Vietnamese emails, the mail
settings, the new bus messages, and the retry backoff."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from services.common.bus.envelope import parse, read_envelope, wrap
from services.common.bus.messages import (
    AgencyRegistered,
    AgencyRegisteredV2,
    DeliveryDueSoon,
    DeliveryOverdue,
)
from services.common.errors import SettingsError
from services.routing.deadlines import notices, rules
from services.routing.deadlines.mailer import backoff, build_message
from services.routing.settings import MailSettings, RoutingSettings

SENT = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội


# --- the rules (deadlines/rules.py) -------------------------------------------


def test_a_due_date_is_the_end_of_that_day_in_vietnam_stored_as_utc() -> None:
    due = rules.due_at(date(2026, 12, 1), 0, SENT)
    assert due == datetime(2026, 12, 1, 16, 59, 59, tzinfo=UTC)
    assert due is not None and due.utcoffset() == timedelta(0)


def test_priority_windows_apply_when_tighter_than_the_due_date() -> None:
    assert rules.due_at(None, 3, SENT) == SENT + timedelta(hours=8)
    assert rules.due_at(date(2026, 11, 21), 1, SENT) == datetime(
        2026, 11, 21, 16, 59, 59, tzinfo=UTC
    )  # the due date (same evening) is tighter than 48 h
    assert rules.due_at(None, 0, SENT) is None


def test_due_soon_is_the_last_quarter_at_most_a_day() -> None:
    eight_hours = SENT + timedelta(hours=8)
    assert rules.due_soon_at(eight_hours, SENT) == eight_hours - timedelta(hours=2)
    ten_days = SENT + timedelta(days=10)
    assert rules.due_soon_at(ten_days, SENT) == ten_days - timedelta(hours=24)


def test_done_statuses_are_not_open() -> None:
    assert not any(rules.is_open(s) for s in ("02", "06", "15"))
    assert all(rules.is_open(s) for s in (None, "01", "03", "04", "05", "13"))


# --- the emails (deadlines/notices.py) -------------------------------------------------


def _facts(**changes: object) -> notices.NoticeFacts:
    values: dict[str, object] = {
        "delivery_id": "d-1",
        "document_id": "000.00.00.H41,2026/11/21,123/UBND-VP",
        "subject": "Về việc triển khai văn bản điện tử",
        "sender_code": "000.00.00.H41",
        "sender_name": "UBND tỉnh Nghệ An",
        "recipient_code": "000.00.01.H41",
        "recipient_name": "Sở Nội vụ tỉnh Nghệ An",
        "status": "03",
        "due_at": datetime(2026, 12, 1, 16, 59, 59, tzinfo=UTC),
        "now": datetime(2026, 12, 2, 19, 30, tzinfo=UTC),
    }
    values.update(changes)
    return notices.NoticeFacts(**values)  # type: ignore[arg-type]


def test_the_due_soon_email_is_in_vietnamese_with_the_due_time_in_vietnam() -> None:
    mail = notices.due_soon_mail(_facts())
    assert mail.subject == "Văn bản sắp đến hạn xử lý: 000.00.00.H41,2026/11/21,123/UBND-VP"
    assert "Kính gửi: Sở Nội vụ tỉnh Nghệ An" in mail.body
    assert "Hạn xử lý: 23:59 ngày 01/12/2026 (giờ Việt Nam)" in mail.body
    assert "đã tiếp nhận (vào sổ)" in mail.body


def test_overdue_and_escalation_emails_say_how_late() -> None:
    overdue = notices.overdue_mail(_facts())
    assert overdue.subject.startswith("Văn bản đã quá hạn xử lý: ")
    assert "Đã quá hạn: 1 ngày 2 giờ 30 phút" in overdue.body
    escalation = notices.escalation_mail(_facts())
    assert escalation.subject.startswith("Văn bản gửi Sở Nội vụ tỉnh Nghệ An đã quá hạn xử lý")
    assert "Kính gửi: UBND tỉnh Nghệ An" in escalation.body


def test_line_breaks_in_metadata_cannot_inject_headers() -> None:
    mail = notices.overdue_mail(_facts(document_id="X\r\nBcc: victim@example.vn"))
    assert "\n" not in mail.subject and "\r" not in mail.subject
    message = build_message(
        "Liên Thông <lt@example.vn>", "a@example.vn", mail.subject, mail.body, message_key="k"
    )
    parsed = message_from_bytes(message.as_bytes(), policy=default_policy)
    assert parsed["Bcc"] is None


@pytest.mark.parametrize(
    ("address", "usable"),
    [
        ("vanthu@nghean.gov.vn", "vanthu@nghean.gov.vn"),
        ("  vanthu@nghean.gov.vn ", "vanthu@nghean.gov.vn"),
        ("", None),
        (None, None),
        ("not-an-address", None),
        ("a@b.vn, c@d.vn", None),
        ("a@b.vn\r\nBcc: x@y.vn", None),
        ("Văn thư <a@b.vn>", None),
    ],
)
def test_only_plain_mailboxes_are_used(address: str | None, usable: str | None) -> None:
    assert notices.usable_address(address) == usable


def test_the_mime_message_is_utf8_with_an_encoded_subject() -> None:
    message = build_message(
        "Liên Thông <lienthong@nghean.gov.vn>",
        "vanthu@nghean.gov.vn",
        "Văn bản sắp đến hạn xử lý: 1/UBND",
        "Kính gửi: Sở Nội vụ\n",
        message_key="notice.7.1",
    )
    raw = message.as_bytes()
    assert raw.isascii()  # RFC 2047 headers, quoted-printable body
    assert b"=?utf-8?" in raw
    parsed = message_from_bytes(raw, policy=default_policy)
    assert str(parsed["Subject"]) == "Văn bản sắp đến hạn xử lý: 1/UBND"
    assert parsed.get_content().startswith("Kính gửi: Sở Nội vụ")
    assert parsed["Message-ID"] == "<lienthong.notice.7.1@nghean.gov.vn>"
    assert parsed["Auto-Submitted"] == "auto-generated"


# --- settings ----------------------------------------------------------------


def test_email_is_off_without_an_smtp_url(base_env: dict[str, str]) -> None:
    settings = RoutingSettings.from_env(base_env)
    assert settings.mail.smtp is None
    assert settings.deadline_scan_seconds == 30


@pytest.mark.parametrize(
    ("url", "security", "port"),
    [
        ("smtp://mail.nghean.gov.vn", "none", 25),
        ("smtp+starttls://mail.nghean.gov.vn:587", "starttls", 587),
        ("smtps://mail.nghean.gov.vn", "tls", 465),
    ],
)
def test_smtp_urls(base_env: dict[str, str], url: str, security: str, port: int) -> None:
    env = {**base_env, "LIENTHONG_SMTP_URL": url, "LIENTHONG_SMTP_FROM": "lt@nghean.gov.vn"}
    smtp = RoutingSettings.from_env(env).mail.smtp
    assert smtp is not None and (smtp.security, smtp.port) == (security, port)


def test_smtp_credentials_are_read_and_never_printed(base_env: dict[str, str]) -> None:
    env = {
        **base_env,
        "LIENTHONG_SMTP_URL": "smtps://lien%40thong:p%40ss%3Aword@mail.example.vn:2465",
        "LIENTHONG_SMTP_FROM": "Liên Thông <lt@example.vn>",
        "LIENTHONG_DEADLINE_SCAN_SECONDS": "5",
    }
    settings = RoutingSettings.from_env(env)
    smtp = settings.mail.smtp
    assert smtp is not None
    assert (smtp.username, smtp.password, smtp.port) == ("lien@thong", "p@ss:word", 2465)
    assert "p@ss" not in repr(smtp) and "p@ss" not in repr(settings)
    assert settings.deadline_scan_seconds == 5


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"LIENTHONG_SMTP_URL": "http://mail.example.vn"}, "LIENTHONG_SMTP_URL"),
        ({"LIENTHONG_SMTP_URL": "smtp://mail.example.vn"}, "LIENTHONG_SMTP_FROM"),
        (
            {"LIENTHONG_SMTP_URL": "smtp://mail.example.vn", "LIENTHONG_SMTP_FROM": "nobody"},
            "LIENTHONG_SMTP_FROM",
        ),
        ({"LIENTHONG_DEADLINE_SCAN_SECONDS": "0"}, "LIENTHONG_DEADLINE_SCAN_SECONDS"),
        ({"LIENTHONG_MAIL_MAX_ATTEMPTS": "many"}, "LIENTHONG_MAIL_MAX_ATTEMPTS"),
    ],
)
def test_bad_mail_settings_name_their_variable(
    base_env: dict[str, str], extra: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        RoutingSettings.from_env({**base_env, **extra})


def test_backoff_doubles_is_capped_and_jittered() -> None:
    settings = MailSettings(None, max_attempts=6, retry_seconds=60, max_retry_seconds=600)
    assert backoff(settings, 1, jitter=0) == timedelta(seconds=60)
    assert backoff(settings, 3, jitter=0) == timedelta(seconds=240)
    assert backoff(settings, 9, jitter=0) == timedelta(seconds=600)
    assert backoff(settings, 1, jitter=1) == timedelta(seconds=48)
    for _ in range(50):
        assert timedelta(seconds=48) <= backoff(settings, 1) <= timedelta(seconds=60)


# --- messages ------------------------------------------------------------------


def _roundtrip(msg: object) -> object:
    import json

    return parse(read_envelope(json.loads(json.dumps(wrap(msg).to_json()))))  # type: ignore[arg-type]


def test_agency_registered_v2_carries_the_mailbox_and_v1_still_parses() -> None:
    v2 = AgencyRegisteredV2(
        code="000.00.01.H41",
        name="Sở Nội vụ",
        parent_code="000.00.00.H41",
        nonstandard_code=False,
        email="vanthu@snv.nghean.gov.vn",
    )
    assert wrap(v2).version == 2 and wrap(v2).type == "agency.registered"
    back = _roundtrip(v2)
    assert back == v2 and isinstance(back, AgencyRegistered)
    v1 = AgencyRegistered(code="X.1", name="A", parent_code=None, nonstandard_code=True)
    assert type(_roundtrip(v1)) is AgencyRegistered and wrap(v1).version == 1
    no_mail = AgencyRegisteredV2(
        code="X.1", name="A", parent_code=None, nonstandard_code=True, email=None
    )
    assert _roundtrip(no_mail) == no_mail


def test_deadline_events_roundtrip_and_reach_ingest() -> None:
    fields = {
        "delivery_id": "d",
        "document": "doc",
        "document_id": "000.00.00.H41,2026/11/21,1/UBND",
        "sender": "000.00.00.H41",
        "recipient": "000.00.01.H41",
        "subject": "Trích yếu",
        "status": None,
        "due_at": "2026-12-01T16:59:59+00:00",
        "noticed_at": "2026-12-01T17:00:00+00:00",
    }
    # Ingest's queue is bound to the types its consumer reads (its EVENT_TYPES).
    ingest_events = {
        cls.TYPE for cls in pytest.importorskip("services.ingest.consumers").EVENT_TYPES
    }
    for cls in (DeliveryDueSoon, DeliveryOverdue):
        msg = cls(**fields)  # type: ignore[arg-type]
        assert _roundtrip(msg) == msg
        assert cls.TYPE in ingest_events
    assert (
        DeliveryDueSoon.TYPE == "delivery.due_soon" and DeliveryOverdue.TYPE == "delivery.overdue"
    )
