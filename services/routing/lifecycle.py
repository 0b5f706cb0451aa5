"""The edXML delivery status machine (QCVN 102 / Decision 28/2018/QĐ-TTg). Pure.

A delivery starts with no business status (sent, not yet arrived). The recipient
reports 01..06; the sender asks to take a document back with 13, and the
recipient answers 15 (agrees) or 16 (refuses, and the earlier status stands).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from services.common.errors import TransitionRejected

MEANING = {
    "01": "đã đến (arrived)",
    "02": "từ chối tiếp nhận (rejected)",
    "03": "đã tiếp nhận (registered)",
    "04": "phân công (assigned)",
    "05": "đang xử lý (being processed)",
    "06": "hoàn thành (completed)",
    "13": "yêu cầu lấy lại (take-back requested)",
    "15": "đồng ý lấy lại / cập nhật (take-back accepted)",
    "16": "từ chối lấy lại / cập nhật (take-back refused)",
}


class Role(Enum):
    SENDER = "sender"
    RECIPIENT = "recipient"


# Which business status may follow which, as reported by the recipient.
_RECIPIENT_NEXT: dict[str | None, frozenset[str]] = {
    None: frozenset({"01"}),
    "01": frozenset({"02", "03"}),
    "03": frozenset({"04", "05", "06"}),
    "04": frozenset({"04", "05", "06"}),
    "05": frozenset({"05", "06"}),
}
TAKE_BACK_FROM = frozenset({"01", "03", "04", "05", "06"})
FINAL = frozenset({"02", "15"})


@dataclass(frozen=True)
class DeliveryState:
    status: str | None = None
    before_take_back: str | None = None  # the status a refused take-back returns to


def next_state(state: DeliveryState, code: str, role: Role) -> DeliveryState:
    """The state after ``code``, or TransitionRejected with the reason."""
    if code not in MEANING:
        raise TransitionRejected(f"{code!r} is not an edXML status code")
    current = state.status
    label = current or "sent (not yet arrived)"
    if role is Role.SENDER:
        if code != "13":
            raise TransitionRejected(f"the sender may only report 13, not {code}")
        if current not in TAKE_BACK_FROM:
            raise TransitionRejected(f"a take-back cannot be asked for a delivery at {label}")
        return DeliveryState("13", before_take_back=current)
    if code == "13":
        raise TransitionRejected("only the sender may ask to take a document back (13)")
    if current == "13":
        if code == "15":
            return DeliveryState("15")
        if code == "16":
            return DeliveryState(state.before_take_back)
        raise TransitionRejected(f"a take-back request is pending: answer 15 or 16, not {code}")
    if code in ("15", "16"):
        raise TransitionRejected(f"{code} answers a take-back request, and none is pending")
    if current in FINAL:
        raise TransitionRejected(f"the delivery is closed at {current} ({MEANING[current]})")
    allowed = _RECIPIENT_NEXT.get(current, frozenset())
    if code not in allowed:
        options = ", ".join(sorted(allowed)) or "none"
        raise TransitionRejected(
            f"{code} ({MEANING[code]}) cannot follow {label}; allowed next: {options}"
        )
    return DeliveryState(code)
