"""The definition of a fully electronic exchange, as a pure function: each missing
condition gives its own reason, in a fixed order, and all of them together give all."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.routing.ledger.rules import (
    DeliveryFacts,
    DueState,
    ExchangeFacts,
    Reason,
    classify,
    due_state,
    latency_bucket,
    percentile,
    vietnam_day,
)

T = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
REGISTERED = DeliveryFacts(T, T, None, rejected=False, taken_back=False)


def facts(**changes: object) -> ExchangeFacts:
    base: dict[str, object] = {
        "scanned": False,
        "organization_signed": True,
        "paper": False,
        "replaced": False,
        "deliveries": (REGISTERED, REGISTERED),
    }
    return ExchangeFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_all_conditions_met_is_fully_electronic() -> None:
    verdict = classify(facts())
    assert (verdict.fully_electronic, verdict.signed, verdict.reasons) == (True, True, ())


def test_each_missing_condition_is_its_own_reason() -> None:
    arrived_only = DeliveryFacts(T, None, None, rejected=False, taken_back=False)
    not_arrived = DeliveryFacts(None, None, None, rejected=False, taken_back=False)
    rejected = DeliveryFacts(T, None, None, rejected=True, taken_back=False)
    cases = {
        Reason.SCANNED: facts(scanned=True),
        Reason.SCAN_UNKNOWN: facts(scanned=None),
        Reason.NOT_SIGNED: facts(organization_signed=False),
        Reason.PAPER: facts(paper=True),
        Reason.REJECTED: facts(deliveries=(REGISTERED, rejected)),
        Reason.NOT_REGISTERED: facts(deliveries=(REGISTERED, arrived_only)),
        Reason.TAKEN_BACK: facts(replaced=True),
    }
    for reason, case in cases.items():
        assert classify(case).reasons == (reason,), reason
    assert classify(facts(deliveries=(not_arrived,))).reasons == (
        Reason.NOT_DELIVERED,
        Reason.NOT_REGISTERED,
    )
    assert classify(facts(deliveries=())).reasons == (Reason.NOT_DELIVERED,)
    everything = facts(scanned=True, organization_signed=False, paper=True, replaced=True)
    assert classify(everything).reasons == (
        Reason.SCANNED,
        Reason.NOT_SIGNED,
        Reason.PAPER,
        Reason.TAKEN_BACK,
    )


def test_without_a_verdict_only_that_is_said() -> None:
    verdict = classify(facts(scanned=None, organization_signed=None))
    assert verdict.reasons == (Reason.NOT_VERIFIED,)
    assert Reason.NOT_VERIFIED.vi == "Chưa có kết quả kiểm tra chữ ký số khi đến"


def test_a_recipient_that_gave_it_back_is_not_waited_for() -> None:
    given_back = DeliveryFacts(T, None, None, rejected=False, taken_back=True)
    assert classify(facts(deliveries=(REGISTERED, given_back))).reasons == (Reason.TAKEN_BACK,)


def test_vietnam_day_turns_at_17_utc() -> None:
    assert vietnam_day(datetime(2026, 3, 31, 16, 59, 59, tzinfo=UTC)) == date(2026, 3, 31)
    assert vietnam_day(datetime(2026, 3, 31, 17, 0, 0, tzinfo=UTC)) == date(2026, 4, 1)


def test_due_states() -> None:
    due = T + timedelta(days=1)
    assert due_state(None, None, rejected=False, taken_back=False) is DueState.NOT_DUE
    assert due_state(due, None, rejected=False, taken_back=False) is DueState.OPEN
    assert due_state(due, due, rejected=False, taken_back=False) is DueState.ON_TIME
    late = due + timedelta(seconds=1)
    assert due_state(due, late, rejected=False, taken_back=False) is DueState.LATE
    assert due_state(due, None, rejected=True, taken_back=False) is DueState.NOT_DUE


def test_latency_percentiles_are_bucket_bounds() -> None:
    assert [latency_bucket(s) for s in (0, 10, 11, 300, 301)] == [0, 0, 1, 4, 5]
    counts = {latency_bucket(60): 9, latency_bucket(7200): 1}
    assert (percentile(counts, 0.5), percentile(counts, 0.9), percentile(counts, 0.95)) == (
        60,
        60,
        7200,
    )
    assert percentile({}, 0.5) is None
