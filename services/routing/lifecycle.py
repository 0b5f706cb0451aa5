"""The edXML delivery status machine (QCVN 102 / Decision 28/2018/QĐ-TTg). Pure.

A delivery starts with no business status (sent, not yet arrived). The recipient
reports 01..06; the sender asks to take a document back with 13, and the
recipient answers 15 (agrees) or 16 (refuses, and the earlier status stands).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from services.common.contract import Status
from services.routing.errors import TransitionRejected


class Role(Enum):
    SENDER = "sender"
    RECIPIENT = "recipient"


# Which business status may follow which, as reported by the recipient.
_RECIPIENT_NEXT: dict[Status | None, frozenset[Status]] = {
    None: frozenset({Status.ARRIVED}),
    Status.ARRIVED: frozenset({Status.REJECTED, Status.REGISTERED}),
    Status.REGISTERED: frozenset({Status.ASSIGNED, Status.PROCESSING, Status.COMPLETED}),
    Status.ASSIGNED: frozenset({Status.ASSIGNED, Status.PROCESSING, Status.COMPLETED}),
    Status.PROCESSING: frozenset({Status.PROCESSING, Status.COMPLETED}),
}
TAKE_BACK_FROM = frozenset(
    {Status.ARRIVED, Status.REGISTERED, Status.ASSIGNED, Status.PROCESSING, Status.COMPLETED}
)
FINAL = frozenset({Status.REJECTED, Status.TAKE_BACK_ACCEPTED})
TAKE_BACK_ANSWERS = frozenset({Status.TAKE_BACK_ACCEPTED, Status.TAKE_BACK_REFUSED})


@dataclass(frozen=True)
class DeliveryState:
    status: Status | None = None
    before_take_back: Status | None = None  # the status a refused take-back returns to

    @classmethod
    def of(cls, status: str | None = None, before_take_back: str | None = None) -> DeliveryState:
        """The state of a delivery row (which stores the codes as text)."""
        return cls(Status.of(status), Status.of(before_take_back))


def next_state(state: DeliveryState, code: str, role: Role) -> DeliveryState:
    """The state after ``code``, or TransitionRejected with the reason. ``code`` may be
    any text: what is not an edXML status code is rejected like an illegal step."""
    status = Status.of(code)
    if status is None:
        raise TransitionRejected(f"{code!r} is not an edXML status code")
    current = Status.of(state.status)  # a row's text, or a Status
    label = current or "sent (not yet arrived)"
    if role is Role.SENDER:
        if status is not Status.TAKE_BACK_REQUESTED:
            raise TransitionRejected(
                f"the sender may only report {Status.TAKE_BACK_REQUESTED}, not {status}"
            )
        if current not in TAKE_BACK_FROM:
            raise TransitionRejected(f"a take-back cannot be asked for a delivery at {label}")
        return DeliveryState(Status.TAKE_BACK_REQUESTED, before_take_back=current)
    if status is Status.TAKE_BACK_REQUESTED:
        raise TransitionRejected(
            f"only the sender may ask to take a document back ({Status.TAKE_BACK_REQUESTED})"
        )
    if current is Status.TAKE_BACK_REQUESTED:
        if status is Status.TAKE_BACK_ACCEPTED:
            return DeliveryState(Status.TAKE_BACK_ACCEPTED)
        if status is Status.TAKE_BACK_REFUSED:
            return DeliveryState(Status.of(state.before_take_back))
        raise TransitionRejected(
            f"a take-back request is pending: answer {Status.TAKE_BACK_ACCEPTED} or "
            f"{Status.TAKE_BACK_REFUSED}, not {status}"
        )
    if status in TAKE_BACK_ANSWERS:
        raise TransitionRejected(f"{status} answers a take-back request, and none is pending")
    if current in FINAL:
        raise TransitionRejected(f"the delivery is closed at {current} ({current.meaning})")
    allowed = _RECIPIENT_NEXT.get(current, frozenset())
    if status not in allowed:
        options = ", ".join(sorted(allowed)) or "none"
        raise TransitionRejected(
            f"{status} ({status.meaning}) cannot follow {label}; allowed next: {options}"
        )
    return DeliveryState(status)
