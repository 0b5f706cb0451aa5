"""The web app's pure rules: roles, urgency, due states, register numbers, visibility."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.web.rules import (
    Action,
    DueState,
    Urgent,
    document_code,
    due_state,
    may,
    next_number,
    urgency_key,
    visible_agencies,
)

TODAY = date(2026, 11, 21)


def test_roles_allow_what_the_issue_says() -> None:
    assert may("leader", Action.SIGN) and not may("leader", Action.SEAL)
    assert may("clerk", Action.SEAL) and may("clerk", Action.REGISTER)
    assert not may("clerk", Action.SIGN)
    assert not may("specialist", Action.SEAL) and may("specialist", Action.WORK)
    assert not may("monitor", Action.SIGN) and may("monitor", Action.READ)
    assert may("admin", Action.ADMIN) and not may("clerk", Action.ADMIN)
    assert not may("nobody", Action.READ)


def test_due_states() -> None:
    assert due_state(date(2026, 11, 20), TODAY) is DueState.OVERDUE
    assert due_state(TODAY, TODAY) is DueState.DUE_SOON
    assert due_state(date(2026, 11, 23), TODAY) is DueState.DUE_SOON
    assert due_state(date(2026, 11, 24), TODAY) is DueState.WAITING
    assert due_state(None, TODAY) is DueState.WAITING
    assert due_state(date(2026, 1, 1), TODAY, done=True) is DueState.DONE


def test_work_lists_put_overdue_then_due_soon_then_priority_then_age_first() -> None:
    old, new = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    items = {
        "normal-old": Urgent(None, 0, old),
        "normal-new": Urgent(None, 0, new),
        "flash": Urgent(None, 3, new),
        "urgent": Urgent(None, 1, new),
        "due-soon": Urgent(date(2026, 11, 22), 0, new),
        "overdue": Urgent(date(2026, 11, 19), 0, new),
    }
    ordered = sorted(items, key=lambda k: urgency_key(items[k], TODAY))
    assert ordered == ["overdue", "due-soon", "flash", "urgent", "normal-old", "normal-new"]


def test_register_numbers() -> None:
    assert next_number(None) == 1 and next_number(41) == 42
    assert document_code(7, "UBND-VP") == "07/UBND-VP"
    assert document_code(123, "QĐ-UBND") == "123/QĐ-UBND"


def test_a_monitor_sees_every_agency_below_theirs() -> None:
    parents = {"P": None, "A": "P", "B": "P", "A1": "A", "X": None}
    assert visible_agencies("P", "monitor", parents) == {"P", "A", "B", "A1"}
    assert visible_agencies("A", "monitor", parents) == {"A", "A1"}
    assert visible_agencies("P", "clerk", parents) == {"P"}
