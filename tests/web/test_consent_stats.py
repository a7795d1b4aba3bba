import datetime as dt

from governance.web.consent_stats import DecisionEvent, fold

TODAY = dt.date(2026, 11, 25)  # a Wednesday


def at(days_ago: int) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(12), dt.UTC)


def event(days_ago, subject, decision, method="dashboard", purpose="ads", version=1, superseded=False):
    return DecisionEvent(at(days_ago), subject, purpose, decision, method, version, superseded)


def test_rates_follow_the_decision_in_force_at_each_week_end():
    events = [
        event(20, "a", "granted"),
        event(20, "b", "granted"),
        event(13, "b", "withdrawn"),
        event(2, "c", "withdrawn", method="gpc"),
        event(2, "a", "withdrawn", superseded=True),  # superseded: changes nothing
    ]
    stats = fold(events, purposes=["ads", "mail"], today=TODAY, weeks=4)
    assert stats.weeks[-1] == dt.date(2026, 11, 23)
    assert stats.rates["ads"] == [100.0, 50.0, 50.0, 33.3]
    assert stats.rates["mail"] == [None, None, None, None]
    assert stats.withdrawals == [0, 1, 0, 0]
    assert stats.gpc == [0, 0, 0, 1]


def test_by_notice_version_counts_grants_and_withdrawals():
    events = [
        event(5, "a", "granted", version=1),
        event(4, "a", "withdrawn", version=1),
        event(3, "a", "granted", version=2),
        event(3, "b", "expired", method="expiry", version=2),
    ]
    rows = fold(events, purposes=["ads"], today=TODAY).by_notice
    assert rows == [
        {"purpose": "ads", "version": 1, "granted": 1, "withdrawn": 1, "rate": "50.0%"},
        {"purpose": "ads", "version": 2, "granted": 1, "withdrawn": 0, "rate": "100.0%"},
    ]


def test_events_before_the_window_set_the_state_but_are_not_counted_per_week():
    stats = fold([event(400, "a", "withdrawn")], purposes=["ads"], today=TODAY, weeks=2)
    assert stats.withdrawals == [0, 0]
    assert stats.rates["ads"] == [0.0, 0.0]
