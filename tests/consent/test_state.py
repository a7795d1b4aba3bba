"""Pure consent logic: ledger folding (out-of-order decisions), evaluation, expiry, material changes, GPC."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.consent.policy import PurposeCatalog, load_catalog
from governance.consent.state import (
    EMPTY,
    ConsentState,
    Decision,
    LedgerEntry,
    Reason,
    apply,
    due_for_expiry,
    evaluate,
    fold,
    gpc_withdrawals,
)

POLICIES = Path(__file__).resolve().parents[2] / "policies"
T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def catalog() -> PurposeCatalog:
    return load_catalog(POLICIES / "purposes.yaml")


def entry(decision: Decision, minutes: int, seq: int, version: int | None = 2) -> LedgerEntry:
    return LedgerEntry(decision, T0 + dt.timedelta(minutes=minutes), version, seq)


def test_later_collected_decision_wins_and_older_is_superseded() -> None:
    state, superseded = fold(
        [
            entry(Decision.WITHDRAWN, 10, 1),
            entry(Decision.GRANTED, 5, 2),  # collected before the withdrawal, arrives later: changes nothing
        ]
    )
    assert state.decision == Decision.WITHDRAWN
    assert superseded == [False, True]


def test_a_withdrawal_received_after_a_grant_wins_whatever_its_date() -> None:
    state, superseded = fold(
        [
            entry(Decision.GRANTED, 10, 1),
            entry(Decision.WITHDRAWN, 5, 2),  # dated before the grant, received after it
        ]
    )
    assert state.decision == Decision.WITHDRAWN
    assert superseded == [False, False]
    # and a grant dated between them, arriving later still, cannot revive the overridden grant's moment
    state, superseded_grant = apply(state, entry(Decision.GRANTED, 7, 3))
    assert superseded_grant
    assert state.decision == Decision.WITHDRAWN


def test_a_future_dated_grant_counts_from_when_it_was_received() -> None:
    received = T0 + dt.timedelta(minutes=1)
    ahead = LedgerEntry(Decision.GRANTED, received + dt.timedelta(seconds=110), 2, 1, received_at=received)
    state, _ = apply(EMPTY, ahead)
    assert state.decided_at == received
    # a withdrawal received 5 seconds later, dated honestly, wins (before: the grant's future date beat it)
    later = received + dt.timedelta(seconds=5)
    state, superseded = apply(state, LedgerEntry(Decision.WITHDRAWN, later, None, 2, received_at=later))
    assert not superseded
    assert state.decision == Decision.WITHDRAWN


def test_equal_collection_times_later_recorded_wins() -> None:
    state, superseded = fold([entry(Decision.GRANTED, 0, 1), entry(Decision.WITHDRAWN, 0, 2)])
    assert state.decision == Decision.WITHDRAWN
    assert superseded == [False, False]


def test_objection_is_tracked_apart_from_consent() -> None:
    state, _ = fold(
        [
            entry(Decision.GRANTED, 0, 1),
            entry(Decision.OBJECTED, 1, 2, None),
            entry(Decision.GRANTED, 2, 3),
        ]
    )
    assert state.decision == Decision.GRANTED
    assert state.objected
    state, superseded = apply(state, entry(Decision.OBJECTION_LIFTED, 0, 4, None))
    assert superseded  # lifting collected before the objection changes nothing
    assert state.objected
    state, superseded = apply(state, entry(Decision.OBJECTION_LIFTED, 3, 5, None))
    assert not superseded
    assert not state.objected


decisions = st.sampled_from([Decision.GRANTED, Decision.WITHDRAWN, Decision.EXPIRED])
time_ordered = st.sampled_from([Decision.GRANTED, Decision.EXPIRED])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(time_ordered, st.integers(0, 10_000)), min_size=1, max_size=30, unique_by=lambda t: t[1]),
    st.randoms(use_true_random=False),
)
def test_final_state_is_the_latest_collected_whatever_the_arrival_order(events, rnd) -> None:
    """Past-dated grants and expiries (no stops) keep the out-of-order rule: the latest collected wins."""
    arrival = list(events)
    rnd.shuffle(arrival)
    entries = [entry(decision, minute, seq) for seq, (decision, minute) in enumerate(arrival, start=1)]
    state, superseded = fold(entries)
    latest_decision, latest_minute = max(events, key=lambda t: t[1])
    assert state.decision == latest_decision
    assert state.decided_at == T0 + dt.timedelta(minutes=latest_minute)
    # an event is superseded exactly when something collected later arrived before it
    for i, (_decision, minute) in enumerate(arrival):
        assert superseded[i] == any(m > minute for _, m in arrival[:i])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(decisions, st.integers(0, 1000)), max_size=20))
def test_superseded_events_never_change_the_state(events) -> None:
    state = EMPTY
    for seq, (decision, minute) in enumerate(events, start=1):
        new_state, superseded = apply(state, entry(decision, minute, seq))
        if superseded:
            assert new_state == state
        state = new_state


def granted(version: int = 2, minutes: int = 0) -> ConsentState:
    return ConsentState(Decision.GRANTED, T0 + dt.timedelta(minutes=minutes), 1, version)


def test_evaluate_reasons(catalog: PurposeCatalog) -> None:
    recs = catalog["personalized_recommendations"]
    now = T0 + dt.timedelta(days=1)
    assert evaluate(recs, granted(), now).allowed
    assert evaluate(recs, granted(), now).reason == Reason.GRANTED
    assert evaluate(recs, None, now).reason == Reason.NO_CONSENT
    assert not evaluate(recs, None, now)
    withdrawn = ConsentState(Decision.WITHDRAWN, T0, 1, 2)
    assert evaluate(recs, withdrawn, now).reason == Reason.WITHDRAWN
    expired = ConsentState(Decision.EXPIRED, T0, 1, 2)
    assert evaluate(recs, expired, now).reason == Reason.EXPIRED
    assert evaluate(None, granted(), now).reason == Reason.UNKNOWN_PURPOSE
    objected = ConsentState(Decision.GRANTED, T0, 1, 2, objected=True, objection_at=T0)
    assert evaluate(recs, objected, now).reason == Reason.OBJECTED


def test_material_notice_change_needs_renewal(catalog: PurposeCatalog) -> None:
    recs = catalog["personalized_recommendations"]  # v2 is material
    now = T0 + dt.timedelta(days=1)
    assert evaluate(recs, granted(version=1), now).reason == Reason.NEEDS_RENEWAL
    assert not evaluate(recs, granted(version=1), now).allowed
    training = catalog["model_training"]  # v2 is not material: v1 consents still count
    assert evaluate(training, granted(version=1), now).reason == Reason.GRANTED


def test_non_consent_bases_bypass_consent_but_not_objection(catalog: PurposeCatalog) -> None:
    fraud = catalog["fraud_prevention"]  # legitimate interest
    accounting = catalog["accounting_records"]  # legal obligation
    assert evaluate(fraud, None, T0) == evaluate(accounting, None, T0)
    assert evaluate(fraud, None, T0).reason == Reason.BASIS_NOT_CONSENT
    assert evaluate(fraud, None, T0).allowed
    objected = ConsentState(objected=True, objection_at=T0)
    assert evaluate(fraud, objected, T0).reason == Reason.OBJECTED
    assert evaluate(accounting, objected, T0).reason == Reason.BASIS_NOT_CONSENT


def test_consent_older_than_max_age_is_expired_at_once(catalog: PurposeCatalog) -> None:
    sharing = catalog["partner_sharing"]  # 365 days
    state = granted(version=1)
    just_before = T0 + dt.timedelta(days=365) - dt.timedelta(seconds=1)
    assert evaluate(sharing, state, just_before).allowed
    assert due_for_expiry(sharing, state, just_before) is None
    at = T0 + dt.timedelta(days=365)
    assert evaluate(sharing, state, at).reason == Reason.EXPIRED
    assert due_for_expiry(sharing, state, at + dt.timedelta(days=3)) == at
    analytics = catalog["product_analytics"]  # no maximum age
    assert due_for_expiry(analytics, granted(version=1), T0 + dt.timedelta(days=10_000)) is None


def test_gpc_withdraws_granted_sale_or_sharing_purposes_only(catalog: PurposeCatalog) -> None:
    states = {"partner_sharing": granted(1), "personalized_recommendations": granted(2)}
    assert gpc_withdrawals(catalog, states) == ["partner_sharing"]
    assert gpc_withdrawals(catalog, states, explicit=["partner_sharing"]) == []
    assert gpc_withdrawals(catalog, {"partner_sharing": ConsentState(Decision.WITHDRAWN, T0, 1, 1)}) == []
    assert gpc_withdrawals(catalog, {}) == []


SKEW_SECONDS = 120


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(decisions, st.integers(1, 600), st.integers(-3600, SKEW_SECONDS)),  # gap, date offset (s)
        min_size=1,
        max_size=25,
    )
)
def test_no_clock_can_make_a_withdrawal_lose_to_an_earlier_received_decision(events) -> None:
    """Random interleavings, each decision dated anywhere from an hour in the past to the accepted skew ahead
    of when it is received (the service refuses anything further ahead)."""
    received = T0
    state = EMPTY
    last_stop: tuple[int, dt.datetime] | None = None  # (index, ordering time of the last withdrawal)
    for seq, (decision, gap, offset) in enumerate(events, start=1):
        received += dt.timedelta(seconds=gap)
        item = LedgerEntry(decision, received + dt.timedelta(seconds=offset), 2, seq, received_at=received)
        state, superseded = apply(state, item)
        assert state.decided_at is not None
        assert state.decided_at <= received  # nothing is ordered after the moment it arrived
        if decision == Decision.WITHDRAWN:
            assert not superseded
            assert state.decision == Decision.WITHDRAWN
            last_stop = (seq, state.decided_at)
        elif superseded:
            assert item.ordered_at <= state.decided_at
    if state.decision == Decision.GRANTED and last_stop is not None:
        # permitted again after a withdrawal only through a grant received after it and dated no earlier
        index, stop_at = last_stop
        later_grants = [
            (seq, offset)
            for seq, (decision, _gap, offset) in enumerate(events, start=1)
            if decision == Decision.GRANTED and seq > index
        ]
        assert later_grants
        assert state.decided_seq > index
        assert state.decided_at >= stop_at
