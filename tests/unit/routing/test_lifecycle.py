"""services/routing/lifecycle.py: the edXML status machine (DESIGN.md, "Statuses")."""

from __future__ import annotations

import itertools

import pytest

from services.common.contract import Status
from services.common.errors import Conflict
from services.routing.errors import TransitionRejected
from services.routing.lifecycle import DeliveryState, Role, next_state

R, S = Role.RECIPIENT, Role.SENDER
PROGRESS = ("01", "03", "04", "05", "06")  # statuses a take-back (13) may be asked from

# Every state a delivery can be in: not yet arrived, each business status, and a
# pending take-back remembering each status it may have been asked from.
STATES: list[DeliveryState] = [
    DeliveryState.of(None),
    *(DeliveryState.of(code) for code in ("01", "02", "03", "04", "05", "06", "15")),
    *(DeliveryState.of("13", before_take_back=code) for code in PROGRESS),
]
CODES = [*Status, "00", "07", "14", "17", "1", "3", "", "AB", " 03"]

# The whole machine, written out: (status, before_take_back, code, role) -> next state.
LEGAL: dict[tuple[str | None, str | None, str, Role], DeliveryState] = {
    # the recipient's connector takes the delivery into its inbox
    (None, None, "01", R): DeliveryState.of("01"),
    # the recipient rejects or registers what arrived
    ("01", None, "02", R): DeliveryState.of("02"),
    ("01", None, "03", R): DeliveryState.of("03"),
    # assigned, processed, completed; re-assignment and repeated "being processed" allowed
    ("03", None, "04", R): DeliveryState.of("04"),
    ("03", None, "05", R): DeliveryState.of("05"),
    ("03", None, "06", R): DeliveryState.of("06"),
    ("04", None, "04", R): DeliveryState.of("04"),
    ("04", None, "05", R): DeliveryState.of("05"),
    ("04", None, "06", R): DeliveryState.of("06"),
    ("05", None, "05", R): DeliveryState.of("05"),
    ("05", None, "06", R): DeliveryState.of("06"),
    # the sender asks to take back from any status between arrival and completion
    **{(code, None, "13", S): DeliveryState.of("13", before_take_back=code) for code in PROGRESS},
    # the recipient answers a pending take-back: 15 closes, 16 restores the earlier status
    **{("13", code, "15", R): DeliveryState.of("15") for code in PROGRESS},
    **{("13", code, "16", R): DeliveryState.of(code) for code in PROGRESS},
}

COMBINATIONS = list(itertools.product(STATES, CODES, Role))


def _id(case: tuple[DeliveryState, str, Role]) -> str:
    state, code, role = case
    before = f"<{state.before_take_back}" if state.before_take_back else ""
    return f"{state.status}{before}-{code!r}-{role.value}"


def test_the_expected_table_only_names_real_states() -> None:
    keys = {(s.status, s.before_take_back) for s in STATES}
    assert {(status, before) for status, before, _, _ in LEGAL} <= keys
    assert len(LEGAL) == 26


@pytest.mark.parametrize("case", COMBINATIONS, ids=[_id(c) for c in COMBINATIONS])
def test_every_state_code_and_role(case: tuple[DeliveryState, str, Role]) -> None:
    state, code, role = case
    expected = LEGAL.get((state.status, state.before_take_back, code, role))
    if expected is None:
        with pytest.raises(TransitionRejected) as caught:
            next_state(state, code, role)
        assert caught.value.detail  # a clear reason
    else:
        assert next_state(state, code, role) == expected


# --- the cases DESIGN.md calls out, by name -----------------------------------


def _walk(*steps: tuple[str, Role]) -> DeliveryState:
    state = DeliveryState.of()
    for code, role in steps:
        state = next_state(state, code, role)
    return state


def test_the_happy_path() -> None:
    assert _walk(("01", R), ("03", R), ("04", R), ("05", R), ("06", R)) == DeliveryState.of("06")


def test_registered_before_arrival_is_rejected() -> None:
    with pytest.raises(TransitionRejected, match="cannot follow"):
        next_state(DeliveryState.of(), "03", R)


def test_nothing_follows_a_rejection() -> None:
    rejected = _walk(("01", R), ("02", R))
    for code in ("01", "03", "04", "05", "06"):
        with pytest.raises(TransitionRejected, match="closed at 02"):
            next_state(rejected, code, R)
    with pytest.raises(TransitionRejected):
        next_state(rejected, "13", S)


def test_completed_after_rejected_is_rejected() -> None:
    with pytest.raises(TransitionRejected):
        next_state(DeliveryState.of("02"), "06", R)


def test_nothing_follows_an_accepted_take_back() -> None:
    taken_back = _walk(("01", R), ("03", R), ("13", S), ("15", R))
    assert taken_back == DeliveryState.of("15")
    for code in Status:
        for role in Role:
            with pytest.raises(TransitionRejected):
                next_state(taken_back, code, role)


@pytest.mark.parametrize("answer", ["15", "16"])
@pytest.mark.parametrize("status", [None, "01", "03", "06", "02"])
def test_answers_without_a_pending_take_back_are_rejected(answer: str, status: str | None) -> None:
    with pytest.raises(TransitionRejected):
        next_state(DeliveryState.of(status), answer, R)


def test_only_the_sender_asks_to_take_back() -> None:
    with pytest.raises(TransitionRejected, match="only the sender"):
        next_state(DeliveryState.of("03"), "13", R)


@pytest.mark.parametrize("code", ["01", "02", "03", "04", "05", "06", "15", "16"])
def test_the_sender_reports_nothing_but_13(code: str) -> None:
    with pytest.raises(TransitionRejected, match="sender may only report 13"):
        next_state(DeliveryState.of("01"), code, S)


def test_take_back_cannot_be_asked_before_arrival_or_twice() -> None:
    with pytest.raises(TransitionRejected):
        next_state(DeliveryState.of(), "13", S)
    pending = next_state(DeliveryState.of("04"), "13", S)
    with pytest.raises(TransitionRejected):
        next_state(pending, "13", S)


def test_a_pending_take_back_blocks_progress() -> None:
    pending = _walk(("01", R), ("03", R), ("13", S))
    for code in ("01", "02", "03", "04", "05", "06"):
        with pytest.raises(TransitionRejected, match="answer 15 or 16"):
            next_state(pending, code, R)


@pytest.mark.parametrize("status", PROGRESS)
def test_refusing_a_take_back_restores_the_earlier_status(status: str) -> None:
    pending = next_state(DeliveryState.of(status), "13", S)
    assert pending == DeliveryState.of("13", before_take_back=status)
    restored = next_state(pending, "16", R)
    assert restored == DeliveryState.of(status)
    assert restored.before_take_back is None


def test_processing_goes_on_after_a_refused_take_back() -> None:
    state = _walk(("01", R), ("03", R), ("13", S), ("16", R), ("04", R), ("06", R))
    assert state == DeliveryState.of("06")
    again = _walk(("01", R), ("03", R), ("13", S), ("16", R), ("13", S))
    assert again == DeliveryState.of("13", before_take_back="03")


@pytest.mark.parametrize("code", ["07", "14", "", "3", "ok", "1 "])
def test_unknown_codes_are_rejected_for_both_roles(code: str) -> None:
    for role in Role:
        with pytest.raises(TransitionRejected, match="not an edXML status code"):
            next_state(DeliveryState.of("03"), code, role)


def test_a_rejected_transition_is_a_409_conflict() -> None:
    with pytest.raises(TransitionRejected) as caught:
        next_state(DeliveryState.of(), "06", R)
    assert isinstance(caught.value, Conflict)
    assert caught.value.status == 409
    problem = caught.value.to_problem()
    assert problem["code"] == "transition_rejected"
    assert "06" in problem["detail"]


def test_states_are_immutable_values() -> None:
    state = DeliveryState.of("01")
    after = next_state(state, "03", R)
    assert state == DeliveryState.of("01")
    assert after is not state
