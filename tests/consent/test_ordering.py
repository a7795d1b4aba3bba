"""Finding 5 of issue 15, through the service on the real database: consent ordering the sender's clock cannot
game. Random interleavings of grants and withdrawals, each dated from an hour in the past up to the accepted
clock skew ahead of the moment the service receives it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from governance.consent import service
from governance.consent import state as logic
from tests.consent.conftest import PRODUCT, at

RECS = "personalized_recommendations"
SKEW_SECONDS = 120  # GOVERNANCE_CONSENT_CLOCK_SKEW_SECONDS default

events = st.lists(
    st.tuples(st.sampled_from(["granted", "withdrawn"]), st.integers(1, 900), st.integers(-3600, SKEW_SECONDS)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events)
def test_a_withdrawal_received_after_a_grant_always_wins_on_the_database(
    session: Session, make_subject: Callable[[], uuid.UUID], events: list[tuple[str, int, int]]
) -> None:
    session.rollback()  # end the previous example's read (SQLite: the factory below writes from another session)
    subject = make_subject()
    received = at()
    model = logic.EMPTY
    last_received = ""
    for seq, (decision, gap, offset) in enumerate(events, start=1):
        received += dt.timedelta(seconds=gap)
        collected = received + dt.timedelta(seconds=offset)
        (receipt,) = service.record_decisions(
            session, subject, [{"purpose": RECS, "decision": decision, "collected_at": collected}],
            method="api", actor=PRODUCT, jurisdiction="EU", now=received,
        )  # fmt: skip
        session.commit()
        entry = logic.LedgerEntry(logic.Decision(decision), collected, 2, seq, received_at=received)
        model, superseded = logic.apply(model, entry)
        assert receipt.superseded == superseded
        if decision == "withdrawn":
            assert not receipt.superseded  # a withdrawal never loses to what was received before it
        permission = service.is_permitted(session, subject, RECS, now=received)
        session.rollback()
        assert permission.allowed == (model.decision == logic.Decision.GRANTED)
        if decision == "withdrawn":
            assert not permission.allowed
        last_received = decision
    if last_received == "withdrawn":
        later = received + dt.timedelta(seconds=SKEW_SECONDS + 1)  # even once every future date has passed
        assert not service.is_permitted(session, subject, RECS, now=later).allowed
        assert subject not in set(service.iter_permitted_subjects(session, RECS, now=later))
    history = service.history(session, subject)
    session.rollback()
    assert len(history) == len(events)
    for item in history:  # both times are kept: what the sender dated it, and when the service received it
        assert item.collected_at <= item.recorded_at + dt.timedelta(seconds=SKEW_SECONDS)
