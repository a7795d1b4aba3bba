"""The console's consent statistics are SQL aggregates over the ledger, dated by collection time.

The adversarial cases: a decision recorded today but collected three weeks ago counts three weeks ago; a "no"
that no grant preceded is a refusal (a decision, so the rate is granted / decided), not a withdrawal; a GPC
signal is neither; a superseded event changes nothing."""

from __future__ import annotations

import datetime as dt

from governance.access.principals import ActorRef
from governance.consent import service
from governance.consent.statistics import week_start, weekly_statistics

ACTOR = ActorRef("system", "stats-tests")
PURPOSE = "personalized_recommendations"


def _decide(app, subject, decision, *, collected_days_ago, recorded_days_ago=0, method="dashboard"):
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=recorded_days_ago)
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            service.record_decisions(
                session,
                subject,
                [
                    {
                        "purpose": PURPOSE,
                        "decision": decision,
                        "collected_at": now - dt.timedelta(days=collected_days_ago - recorded_days_ago),
                    }
                ],
                method=method,
                actor=ACTOR,
                jurisdiction="EU",
                now=now,
            )
        session.close()


def _stats(app, weeks=6):
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        try:
            return weekly_statistics(session, purposes=[PURPOSE], today=dt.datetime.now(dt.UTC).date(), weeks=weeks)
        finally:
            session.close()


def _week_of(stats, days_ago: int) -> int:
    day = week_start(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago))
    return stats.weeks.index(day)


def test_decisions_count_in_the_week_they_were_collected_not_recorded(app, make_subject):
    late = make_subject()
    _decide(app, late, "granted", collected_days_ago=21, recorded_days_ago=0)  # synced from an offline app today
    stats = _stats(app)
    assert stats.grants[_week_of(stats, 21)] == 1
    assert stats.grants[_week_of(stats, 0)] == 0
    assert stats.rates[PURPOSE][_week_of(stats, 21)] == 100.0


def test_a_refusal_is_a_decision_and_lowers_the_rate(app, make_subject):
    yes, no, changed_mind, gpc = (make_subject() for _ in range(4))
    _decide(app, yes, "granted", collected_days_ago=10)
    _decide(app, no, "withdrawn", collected_days_ago=10)  # said no when asked: a refusal
    _decide(app, changed_mind, "granted", collected_days_ago=10)
    _decide(app, changed_mind, "withdrawn", collected_days_ago=3)  # a withdrawal after a grant
    _decide(app, gpc, "withdrawn", collected_days_ago=3, method="gpc")
    stats = _stats(app)
    then, now = _week_of(stats, 10), _week_of(stats, 3)
    assert stats.refusals[then] == 1
    assert sum(stats.refusals) == 1
    assert stats.withdrawals[now] == 1
    assert sum(stats.withdrawals) == 1
    assert stats.gpc[now] == 1
    assert stats.rates[PURPOSE][then] == round(100 * 2 / 3, 1)  # 2 grants of 3 decided (the refusal counts)
    assert stats.rates[PURPOSE][-1] == 25.0  # 1 of 4: yes granted; no, changed_mind and gpc said no
    (row,) = stats.by_notice
    assert (row["granted"], row["withdrawn"]) == (2, 3)


def test_a_withdrawal_always_wins_over_a_grant_collected_later_but_received_first(app, make_subject):
    person = make_subject()
    _decide(app, person, "granted", collected_days_ago=2, recorded_days_ago=2)
    _decide(app, person, "withdrawn", collected_days_ago=5, recorded_days_ago=1)  # older click, arrives later
    stats = _stats(app)
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        permitted = service.is_permitted(session, person, PURPOSE).allowed
        session.close()
    # the statistics agree with the ledger's decision in force, whatever superseded means for this pair
    assert (stats.rates[PURPOSE][-1] == 100.0) == permitted


def test_the_statistics_issue_a_bounded_number_of_queries(app, make_subject):
    import sqlalchemy as sa

    for days in (1, 8, 15):
        _decide(app, make_subject(), "granted", collected_days_ago=days)
    engine = app.extensions["governance.db"].engine
    statements: list[str] = []

    def count(*args, **kwargs):
        statements.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        _stats(app, weeks=12)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) == 12 + 2
    assert not any("audit_entries" in s for s in statements)
