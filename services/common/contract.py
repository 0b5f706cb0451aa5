"""The vocabulary services share: edXML status codes, signature verdicts, and the
reasons an exchange is not fully electronic.

Codes and verdicts travel on the bus and through the internal APIs as their string
values; every service reads and writes them through these enums, never as literals.
Which code may follow which is routing's business (``services.routing.lifecycle``).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """An edXML delivery status (QCVN 102 / Decision 28/2018/QĐ-TTg)."""

    ARRIVED = "01"
    REJECTED = "02"
    REGISTERED = "03"
    ASSIGNED = "04"
    PROCESSING = "05"
    COMPLETED = "06"
    TAKE_BACK_REQUESTED = "13"
    TAKE_BACK_ACCEPTED = "15"
    TAKE_BACK_REFUSED = "16"

    @property
    def vi(self) -> str:
        return _MEANINGS[self][0]

    @property
    def en(self) -> str:
        return _MEANINGS[self][1]

    @property
    def meaning(self) -> str:
        """Both meanings, as shown in errors and logs: ``đã đến (arrived)``."""
        return f"{self.vi} ({self.en})"

    @classmethod
    def of(cls, code: str | None) -> Status | None:
        """The status a code names, or None for anything that is not an edXML code."""
        try:
            return cls(code) if code is not None else None
        except ValueError:
            return None


_MEANINGS: dict[Status, tuple[str, str]] = {
    Status.ARRIVED: ("đã đến", "arrived"),
    Status.REJECTED: ("từ chối tiếp nhận", "rejected"),
    Status.REGISTERED: ("đã tiếp nhận", "registered"),
    Status.ASSIGNED: ("phân công", "assigned"),
    Status.PROCESSING: ("đang xử lý", "being processed"),
    Status.COMPLETED: ("hoàn thành", "completed"),
    Status.TAKE_BACK_REQUESTED: ("yêu cầu lấy lại", "take-back requested"),
    Status.TAKE_BACK_ACCEPTED: ("đồng ý lấy lại / cập nhật", "take-back accepted"),
    Status.TAKE_BACK_REFUSED: ("từ chối lấy lại / cập nhật", "take-back refused"),
}


class Verdict(StrEnum):
    """The verdict of one signature field or of the whole document.

    ``valid``          intact, trusted, covering what it should, no disallowed change after it.
    ``invalid``        proven wrong: tampered bytes, bad coverage, a disallowed change after
                       signing, a revoked certificate, a malformed signature.
    ``indeterminate``  nothing proven wrong, but validity cannot be established (untrusted or
                       expired certificate, no proof of time, unsupported format, an internal
                       error while checking).
    ``unsigned``       an empty signature field, or a document without any signature.
    ``unreadable``     the file cannot be parsed as a PDF at all (document level only).
    """

    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"
    UNSIGNED = "unsigned"
    UNREADABLE = "unreadable"


class Reason(StrEnum):
    """Why an exchange is not fully electronic."""

    SCANNED = "scanned"
    SCAN_UNKNOWN = "scan_unknown"
    NOT_VERIFIED = "not_verified"
    NOT_SIGNED = "not_signed"
    PAPER = "paper"
    NOT_DELIVERED = "not_delivered"
    REJECTED = "rejected"
    NOT_REGISTERED = "not_registered"
    TAKEN_BACK = "taken_back"

    @property
    def vi(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS: dict[Reason, str] = {
    Reason.SCANNED: "Văn bản là bản quét (scan) từ giấy, không có lớp chữ",
    Reason.SCAN_UNKNOWN: "Chưa xác định văn bản là bản điện tử hay bản quét",
    Reason.NOT_VERIFIED: "Chưa có kết quả kiểm tra chữ ký số khi đến",
    Reason.NOT_SIGNED: "Không có chữ ký số hợp lệ của cơ quan ban hành",
    Reason.PAPER: "Có gửi kèm bản giấy",
    Reason.NOT_DELIVERED: "Có nơi nhận chưa nhận được văn bản qua hệ thống",
    Reason.REJECTED: "Có nơi nhận từ chối tiếp nhận",
    Reason.NOT_REGISTERED: "Có nơi nhận chưa vào sổ (tiếp nhận) trên hệ thống",
    Reason.TAKEN_BACK: "Văn bản đã bị thu hồi hoặc thay thế",
}
