"""Deadline emails: the Vietnamese texts, and queueing them in the notifications table.

A notice is queued in the transaction that decides it (the scanner's) and sent
later by the mail worker (``deadlines.mailer``), never inside a transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.errors import HeaderParseError
from email.headerregistry import Address

from sqlalchemy.orm import Session

from services.common.contract import Status
from services.routing.deadlines.rules import VIETNAM
from services.routing.models import Notification

log = logging.getLogger(__name__)

MAIL_PENDING_FLAG = "lienthong.mail_pending"

DUE_SOON_RECIPIENT = "due_soon.recipient"
OVERDUE_RECIPIENT = "overdue.recipient"
OVERDUE_SENDER = "overdue.sender"  # the escalation

# How an email names the status of a delivery still open (worded for the reader, so
# not always ``Status.vi``).
STATUS_LABELS: dict[Status | None, str] = {
    None: "chưa đến nơi nhận",
    Status.ARRIVED: "đã đến",
    Status.REGISTERED: "đã tiếp nhận (vào sổ)",
    Status.ASSIGNED: "đã phân công xử lý",
    Status.PROCESSING: "đang xử lý",
    Status.TAKE_BACK_REQUESTED: "đang có yêu cầu lấy lại",
}

FOOTER = (
    "Thư này do hệ thống Liên Thông gửi tự động; vui lòng không trả lời thư này.\n"
    "Mã lượt chuyển (delivery): {delivery_id}\n"
)


@dataclass(frozen=True)
class NoticeFacts:
    """What a deadline email says about one delivery."""

    delivery_id: str
    document_id: str
    subject: str
    sender_code: str
    sender_name: str
    recipient_code: str
    recipient_name: str
    status: Status | None
    due_at: datetime
    now: datetime


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def one_line(text: str, limit: int = 200) -> str:
    """Header-safe: no line breaks (they would inject headers), bounded length."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def vietnam_time(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%H:%M ngày %d/%m/%Y")


def duration_vi(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds()) // 60, 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} ngày"] if days else []
    if hours:
        parts.append(f"{hours} giờ")
    if minutes or not parts:
        parts.append(f"{minutes} phút")
    return " ".join(parts)


def _details(f: NoticeFacts, *, overdue: bool) -> str:
    lines = [
        f"- Mã văn bản: {f.document_id}",
        f"- Trích yếu: {f.subject or '(không có)'}",
        f"- Cơ quan gửi: {f.sender_name} ({f.sender_code})",
        f"- Cơ quan nhận: {f.recipient_name} ({f.recipient_code})",
        f"- Hạn xử lý: {vietnam_time(f.due_at)} (giờ Việt Nam)",
    ]
    if overdue:
        lines.append(f"- Đã quá hạn: {duration_vi(f.now - f.due_at)}")
    lines.append(f"- Trạng thái hiện tại: {STATUS_LABELS.get(f.status, f.status or '')}")
    return "\n".join(lines)


def due_soon_mail(f: NoticeFacts) -> Mail:
    return Mail(
        subject=f"Văn bản sắp đến hạn xử lý: {one_line(f.document_id)}",
        body=(
            f"Kính gửi: {f.recipient_name}\n\n"
            "Văn bản dưới đây sắp đến hạn xử lý:\n\n"
            f"{_details(f, overdue=False)}\n\n"
            "Đề nghị quý cơ quan xử lý văn bản và cập nhật trạng thái trên hệ thống "
            "trước thời hạn nêu trên.\n\n" + FOOTER.format(delivery_id=f.delivery_id)
        ),
    )


def overdue_mail(f: NoticeFacts) -> Mail:
    return Mail(
        subject=f"Văn bản đã quá hạn xử lý: {one_line(f.document_id)}",
        body=(
            f"Kính gửi: {f.recipient_name}\n\n"
            "Văn bản dưới đây đã quá hạn xử lý nhưng chưa được hoàn thành:\n\n"
            f"{_details(f, overdue=True)}\n\n"
            "Đề nghị quý cơ quan khẩn trương xử lý và cập nhật trạng thái trên hệ thống. "
            "Cơ quan gửi đã được thông báo.\n\n" + FOOTER.format(delivery_id=f.delivery_id)
        ),
    )


def escalation_mail(f: NoticeFacts) -> Mail:
    return Mail(
        subject=(
            f"Văn bản gửi {one_line(f.recipient_name, 120)} đã quá hạn xử lý: "
            f"{one_line(f.document_id)}"
        ),
        body=(
            f"Kính gửi: {f.sender_name}\n\n"
            f"Văn bản do quý cơ quan gửi dưới đây đã quá hạn xử lý tại {f.recipient_name} "
            f"({f.recipient_code}) nhưng chưa được hoàn thành:\n\n"
            f"{_details(f, overdue=True)}\n\n"
            "Thư này được gửi để quý cơ quan theo dõi, đôn đốc việc xử lý.\n\n"
            + FOOTER.format(delivery_id=f.delivery_id)
        ),
    )


def usable_address(address: str | None) -> str | None:
    """The mailbox if it is one plain address (no display name, no line breaks)."""
    if not address:
        return None
    candidate = address.strip()
    if any(c in candidate for c in "\r\n,;<>") or candidate.count("@") != 1:
        return None
    try:
        parsed = Address(addr_spec=candidate)
    except (ValueError, HeaderParseError):
        return None
    return candidate if parsed.username and parsed.domain else None


def enqueue(
    session: Session,
    kind: str,
    to_address: str | None,
    mail: Mail,
    *,
    delivery_id: str | None = None,
) -> bool:
    """Queue one email in the caller's transaction; False when there is no usable mailbox.
    It is due at once, by the wall clock (a scan may run with another ``now``)."""
    address = usable_address(to_address)
    if address is None:
        if to_address:
            log.warning("not emailing %s for %s: bad address %r", kind, delivery_id, to_address)
        return False
    queued_at = datetime.now(UTC)
    session.add(
        Notification(
            kind=kind,
            delivery_id=delivery_id,
            to_address=address,
            subject=one_line(mail.subject, 900),
            body=mail.body,
            created_at=queued_at,
            attempts=0,
            next_attempt_at=queued_at,
        )
    )
    session.info[MAIL_PENDING_FLAG] = True
    return True
