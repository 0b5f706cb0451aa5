"""The web app's rules, pure: who may do what, how urgent a thing is, register numbers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.common.errors import Forbidden


class Role(enum.StrEnum):
    LEADER = "leader"
    CLERK = "clerk"
    SPECIALIST = "specialist"
    MONITOR = "monitor"
    ADMIN = "admin"


#: How roles are named on the screens (translated by the catalog).
ROLE_NAMES: dict[str, str] = {
    "leader": "Lãnh đạo",
    "clerk": "Văn thư",
    "specialist": "Chuyên viên",
    "monitor": "Giám sát",
    "admin": "Quản trị",
}


class Action(enum.StrEnum):
    DRAFT = "draft"  # upload a draft
    SIGN = "sign"  # personal signature on a draft sent to them
    SEAL = "seal"  # number, seal and send
    REGISTER = "register"  # incoming: register, assign, reject, answer take-backs
    WORK = "work"  # assigned work: processing, complete
    VERIFY = "verify"
    READ = "read"  # the agency's documents
    MONITOR = "monitor"  # the e-document share of the agency and those below it
    ADMIN = "admin"


ALLOWED: dict[Role, frozenset[Action]] = {
    Role.LEADER: frozenset({Action.SIGN, Action.DRAFT, Action.WORK, Action.VERIFY, Action.READ}),
    Role.CLERK: frozenset(
        {Action.DRAFT, Action.SEAL, Action.REGISTER, Action.WORK, Action.VERIFY, Action.READ}
    ),
    Role.SPECIALIST: frozenset({Action.DRAFT, Action.WORK, Action.VERIFY, Action.READ}),
    Role.MONITOR: frozenset({Action.VERIFY, Action.READ, Action.MONITOR}),
    Role.ADMIN: frozenset({Action.ADMIN, Action.VERIFY, Action.READ}),
}


def may(role: str, action: Action) -> bool:
    try:
        return action in ALLOWED[Role(role)]
    except ValueError:
        return False


def require(role: str, action: Action) -> None:
    if not may(role, action):
        raise Forbidden("your role does not allow this")


# edXML OtherInfo.Priority
PRIORITIES: dict[int, str] = {
    0: "Thường",
    1: "Khẩn",
    2: "Thượng khẩn",
    3: "Hỏa tốc",
    4: "Hỏa tốc hẹn giờ",
}
#: How urgent a priority is: Hỏa tốc (timed or not) > Thượng khẩn > Khẩn > Thường.
URGENCY = {4: 4, 3: 4, 2: 3, 1: 2, 0: 1}
DUE_SOON_DAYS = 2


class DueState(enum.StrEnum):
    OVERDUE = "overdue"
    DUE_SOON = "due-soon"
    DONE = "done"
    WAITING = "waiting"


def due_state(due: date | None, today: date, *, done: bool = False) -> DueState:
    if done:
        return DueState.DONE
    if due is None:
        return DueState.WAITING
    if due < today:
        return DueState.OVERDUE
    if due <= today + timedelta(days=DUE_SOON_DAYS):
        return DueState.DUE_SOON
    return DueState.WAITING


@dataclass(frozen=True)
class Urgent:
    """What a work list is sorted by: overdue, due soon, priority, then age."""

    due: date | None
    priority: int
    since: datetime


def urgency_key(item: Urgent, today: date) -> tuple[int, int, datetime]:
    state = due_state(item.due, today)
    rank = {DueState.OVERDUE: 0, DueState.DUE_SOON: 1}.get(state, 2)
    return rank, -URGENCY.get(item.priority, 1), item.since


def next_number(taken: int | None) -> int:
    """The next number of a register, given the year's highest (None: the first)."""
    return (taken or 0) + 1


def document_code(number: int, notation: str) -> str:
    """Số, ký hiệu: numbers below 10 take a leading zero (Decree 30, Appendix I)."""
    return f"{number:02d}/{notation}"


def visible_agencies(own: str, role: str, parents: dict[str, str | None]) -> set[str]:
    """The agencies whose documents a person sees: their own, and for a monitor every
    agency below theirs in the registry (``parents``: code -> parent code)."""
    seen = {own}
    if role != Role.MONITOR:
        return seen
    changed = True
    while changed:
        changed = False
        for code, parent in parents.items():
            if parent in seen and code not in seen:
                seen.add(code)
                changed = True
    return seen
