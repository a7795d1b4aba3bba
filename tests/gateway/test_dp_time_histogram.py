"""DP histograms over event times (issue 16): event category and time are stored in clear, so the bins are an
SQL aggregate with each person's contribution bounded to N in SQL, and nothing is decrypted. The adversary's
checks: one person added or removed moves the exact bins by at most N in total (what the noise is sized for),
whatever that person's events look like; the period and the bins come from the caller, never from the data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from governance.db import transaction, utcnow
from tests.gateway.conftest import ALL_CATEGORIES, PURPOSE, SYSTEM, client_principal

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
API_BODY = {
    "purpose": PURPOSE,
    "statistic": "histogram",
    "epsilon": "0.25",
    "event_category": "view",
    "over": "occurred_at",
    "since": "2026-03-01T00:00:00Z",
    "until": "2026-03-05T00:00:00Z",
    "bins": 4,
}


def _add_events(app, subject_id, days: list[float], category: str = "view") -> None:
    from governance.vault import service as vault

    batch = [
        {
            "event_id": f"t-{i}",
            "category": category,
            "occurred_at": (START + DAY * day).isoformat(),
            "item_id": "item-1",
            "value": 1.0,
        }
        for i, day in enumerate(days)
    ]
    with app.app_context(), app.extensions["governance.db"].session() as session, transaction(session):
        vault.ingest_events(session, subject_id, batch, actor=SYSTEM, lawful_categories=ALL_CATEGORIES)


def _query(**changes):
    from governance.gateway.dpqueries import DPQueryRequest

    fields = {
        "purpose": PURPOSE,
        "statistic": "histogram",
        "epsilon": Decimal("0.5"),
        "event_category": "view",
        "over": "occurred_at",
        "since": START,
        "until": START + 4 * DAY,
        "bins": 4,
        "max_rows_per_subject": 2,
    }
    return DPQueryRequest(**{**fields, **changes})


def _exact(app, query) -> list[int]:
    from governance.gateway.dpqueries import bounded_time_histogram

    with app.app_context():
        return bounded_time_histogram(app.extensions["governance.db"].session, query, now=utcnow())


@pytest.fixture
def people(app, populate):
    """Four permitted people with views on known days, one without consent, one erased (views kept)."""
    from governance.vault import service as vault

    group = populate(4, events=0)
    _add_events(app, group.ids[0], [0.5, 1.5])  # bins 0 and 1
    _add_events(app, group.ids[1], [1.0, 1.99])  # the edge 1.0 belongs to bin 1
    _add_events(app, group.ids[2], [3.5, -0.5, 4.0])  # before since and at until: outside the period
    _add_events(app, group.ids[3], [2.5], category="click")  # another category
    refused = populate(1, events=0, grant=False)
    _add_events(app, refused.ids[0], [0.5, 0.5])
    erased = populate(1, events=0)
    _add_events(app, erased.ids[0], [2.5])
    with app.app_context(), app.extensions["governance.db"].session() as session, transaction(session):
        vault.shred_subject(session, erased.ids[0], actor=SYSTEM, reason="test", keep_categories={"view"})
    return group


def test_the_bins_count_permitted_active_people_in_the_period_on_half_open_edges(app, people):
    assert _exact(app, _query()) == [1, 3, 0, 1]


def test_one_person_moves_the_bins_by_at_most_n_whatever_their_events(app, people, populate):
    """The differencing adversary: the same query before and after one (heavy) person joins."""
    before = _exact(app, _query(max_rows_per_subject=3))
    heavy = populate(1, events=0)
    _add_events(app, heavy.ids[0], [2.1] * 40 + [3.2] * 40)  # 80 events in two bins
    after = _exact(app, _query(max_rows_per_subject=3))
    moved = [b - a for a, b in zip(before, after, strict=True)]
    assert sum(abs(m) for m in moved) == 3  # exactly N of the 80: the sensitivity the plan noises for
    assert moved[0] == moved[1] == 0  # and only in bins where they have events
    assert min(moved) >= 0


@pytest.mark.parametrize("bins", [1, 3, 5, 7, 30])
def test_each_event_lands_in_the_bin_the_edges_say_whatever_the_number_of_bins(app, populate, bins):
    """The bin comes from nested comparisons with the edges (a binary search in SQL): every event, including
    those exactly on an edge, lands where a plain reading of the edges puts it, for bin counts that halve
    unevenly too."""
    from governance.vault import service as vault

    person = populate(1, events=0)
    edges = vault.time_bin_edges(START, START + 4 * DAY, bins)
    times = list(edges[:-1]) + [START + DAY * (i / 13) for i in range(52)]
    days = [(moment - START) / DAY for moment in times]
    _add_events(app, person.ids[0], days)
    expected = [0] * bins
    for moment in times:
        expected[max(i for i in range(bins) if edges[i] <= moment)] += 1
    assert _exact(app, _query(bins=bins, max_rows_per_subject=len(times))) == expected


def test_a_heavy_persons_sample_is_drawn_from_all_their_events(app, populate):
    """Over the bound, the N rows are a uniform draw, not the first N by time: over repeated queries both of a
    heavy person's bins are drawn from (a fixed pick would keep to one; chance alone fails 1 in 10^18)."""
    heavy = populate(1, events=0)
    _add_events(app, heavy.ids[0], [0.5] * 40 + [2.5] * 40)
    draws = [_exact(app, _query(max_rows_per_subject=3)) for _ in range(20)]
    assert all(sum(bins) == 3 and bins[1] == bins[3] == 0 for bins in draws)
    assert any(bins[0] > 0 for bins in draws)
    assert any(bins[2] > 0 for bins in draws)


def test_the_id_list_form_equals_the_one_statement_form(app, people):
    from governance.consent import service as consent
    from governance.vault import service as vault

    query = _query(bins=8)
    with app.app_context(), app.extensions["governance.db"].session() as session:
        ids = list(consent.iter_permitted_subjects(session, PURPOSE))
        listed = vault.bounded_event_histogram(
            session, ids, category="view", since=query.since, until=query.until, bins=8, max_rows_per_subject=2
        )
    assert listed == _exact(app, query) == [0, 1, 1, 2, 0, 0, 0, 1]  # half-day bins


def test_a_time_histogram_reads_no_ciphertext_and_equals_run_querys_plan(app, people):
    """No statement selects an event's ciphertext or a data key; the released result is the one `run_query`
    gives for the same exact bins and seed (its value histogram plan, over seconds since the epoch)."""
    from governance.gateway.dp import DPQuery, run_query
    from governance.gateway.dpqueries import run_dp_query

    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lower())

    query = _query()
    engine = app.extensions["governance.db"].engine
    with app.app_context():
        sa.event.listen(engine, "before_cursor_execute", remember)
        try:
            record = run_dp_query(
                app.extensions["governance.db"].session, client=client_principal(), query=query, random_state=5
            )
        finally:
            sa.event.remove(engine, "before_cursor_execute", remember)
    reads = [s for s in statements if "vault_events" in s or "vault_data_keys" in s]
    assert reads
    assert not [s for s in reads if "ciphertext" in s or "wrapped" in s]
    lower, upper = START.timestamp(), (START + 4 * DAY).timestamp()
    day = 86400.0
    rows = [[lower + 0.5 * day], [lower + 1.5 * day, lower + 1.2 * day], [lower + 1.3 * day], [lower + 3.5 * day]]
    same = run_query(
        DPQuery("histogram", Decimal("0.5"), bounds=(lower, upper), bins=4, max_rows_per_subject=2),
        rows,
        random_state=5,
    )
    assert record.result["value"]["counts"] == same.value["counts"]
    assert record.result["value"]["edges"] == [(START + DAY * i).isoformat() for i in range(5)]
    assert record.result["bounds"] == [START.isoformat(), (START + 4 * DAY).isoformat()]
    assert record.result["over"] == "occurred_at"
    assert record.epsilon_micro == 500_000
    assert record.parameters["period"] == [START.isoformat(), (START + 4 * DAY).isoformat()]


def test_over_the_api_it_is_charged_and_answers_times(client, bearer, people):
    trainer = bearer(["datasets:request"], [PURPOSE])
    body = dict(API_BODY)
    response = client.post("/api/v1/dp/queries", json=body, headers=trainer)
    assert response.status_code == 201, response.get_json()
    result = response.get_json()["result"]
    assert len(result["value"]["counts"]) == 4
    assert all(count >= 0 for count in result["value"]["counts"])
    assert result["value"]["edges"][0] == "2026-03-01T00:00:00+00:00"
    assert result["value"]["edges"][-1] == "2026-03-05T00:00:00+00:00"
    budget = client.get(f"/api/v1/budgets/{PURPOSE}", headers=trainer).get_json()
    assert budget["purpose"]["epsilon_spent"] == "0.25"
    preview = client.post("/api/v1/dp/queries/preview", json=body, headers=trainer)
    assert preview.status_code == 200
    assert preview.get_json()["expected_accuracy"]["components"][0]["scale"] == pytest.approx(4)  # N=1 / 0.25


@pytest.mark.parametrize(
    "changes",
    [
        {"since": None},
        {"until": "2026-02-01T00:00:00Z"},  # before since
        {"statistic": "mean", "bounds": [0, 1]},
        {"bounds": [0, 1]},
        {"event_category": None, "profile_value": "age"},
        {"since": "0001-01-01T00:00:00+14:00"},  # outside the calendar in UTC
        {"until": "9999-12-31T23:59:59-14:00"},
        {"until": "2150-01-01T00:00:00Z"},  # outside the gateway's data window
        {"since": 1772323200},  # a number, not a time
    ],
)
def test_malformed_time_histograms_are_refused_before_anything_is_spent(client, bearer, changes):
    trainer = bearer(["datasets:request"], [PURPOSE])
    body = {**API_BODY, **changes}
    response = client.post("/api/v1/dp/queries", json={k: v for k, v in body.items() if v is not None}, headers=trainer)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"] in ("invalid_query", "validation_failed")
    assert "2026" not in response.get_json().get("message", "")  # the client's text is not echoed
    spent = client.get(f"/api/v1/budgets/{PURPOSE}", headers=trainer).get_json()["purpose"]["epsilon_spent"]
    assert spent == "0"


def test_naive_times_and_a_period_on_a_value_query_are_refused(client, bearer):
    trainer = bearer(["datasets:request"], [PURPOSE])
    naive = {**API_BODY, "since": "2026-03-01T00:00:00"}
    refused = client.post("/api/v1/dp/queries", json=naive, headers=trainer)
    assert refused.status_code == 422
    assert refused.get_json()["error"] == "validation_failed"
    stray = {
        "purpose": PURPOSE,
        "statistic": "count",
        "epsilon": "0.25",
        "event_category": "view",
        "since": "2026-03-01T00:00:00Z",
    }
    response = client.post("/api/v1/dp/queries", json=stray, headers=trainer)
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid_query"
