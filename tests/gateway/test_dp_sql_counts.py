"""DP counts of events run as SQL aggregates (category and time are stored in clear): the per-person bound is
applied in SQL and nothing is decrypted, yet the exact count equals the decrypting path's on both databases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from governance.db import transaction, utcnow
from tests.gateway.conftest import ALL_CATEGORIES, PURPOSE, SYSTEM, client_principal


def _add_events(app, subject_id, category: str, count: int) -> None:
    from governance.vault import service as vault

    base = dt.datetime(2026, 2, 1, 8, tzinfo=dt.UTC)
    batch = [
        {
            "event_id": f"{category}-{j}",
            "category": category,
            "occurred_at": (base + dt.timedelta(hours=j)).isoformat(),
            "item_id": "item-1",
            "value": 3.0,
        }
        for j in range(count)
    ]
    with app.app_context(), app.extensions["governance.db"].session() as session, transaction(session):
        report = vault.ingest_events(session, subject_id, batch, actor=SYSTEM, lawful_categories=ALL_CATEGORIES)
    assert report.accepted == count


@pytest.fixture
def world(app, populate):
    """5 permitted subjects with 5 views, 3 with 1 view, one with 4 purchases only, one without consent (4
    views), one erased whose views were kept under a retention exception (4 views)."""
    from governance.vault import service as vault

    many = populate(5, events=5)
    few = populate(3, events=1)
    buyer = populate(1, events=0)
    _add_events(app, buyer.ids[0], "purchase", 4)
    populate(1, events=4, grant=False)
    erased = populate(1, events=4)
    with app.app_context(), app.extensions["governance.db"].session() as session, transaction(session):
        vault.shred_subject(session, erased.ids[0], actor=SYSTEM, reason="test", keep_categories={"view"})
    return many, few


def _decrypting_count(app, query) -> int:
    import random

    from governance.gateway.dp import bound_contributions
    from governance.gateway.dpqueries import collect_values

    values = collect_values(app.extensions["governance.db"].session, query, now=utcnow())
    bounded = bound_contributions(values, max_rows=query.max_rows_per_subject, bounds=None, rng=random.Random(1))
    return sum(len(person) for person in bounded)


@pytest.mark.parametrize(
    ("category", "max_rows", "expected"),
    [("view", 3, 5 * 3 + 3), ("view", 1, 8), ("view", 10, 28), ("purchase", 2, 2), ("click", 5, 0)],
)
def test_sql_count_equals_the_decrypting_paths_exact_count(app, world, category, max_rows, expected):
    from governance.gateway.dpqueries import DPQueryRequest, bounded_count

    query = DPQueryRequest(
        purpose=PURPOSE,
        statistic="count",
        epsilon=Decimal("0.5"),
        event_category=category,
        max_rows_per_subject=max_rows,
    )
    from governance.consent import service as consent
    from governance.vault import service as vault

    db = app.extensions["governance.db"]
    with app.app_context():
        sql = bounded_count(db.session, query, now=utcnow())  # consent's SELECT inside the aggregate
        decrypted = _decrypting_count(app, query)
        with db.session() as session:  # the id-list form (purposes without consent), chunked
            ids = list(consent.iter_permitted_subjects(session, PURPOSE))
            listed = vault.bounded_event_count(session, ids, category=category, max_rows_per_subject=max_rows)
    assert sql == decrypted == listed == expected


def test_a_dp_count_reads_no_ciphertext_and_charges_as_before(app, world):
    """The statements a DP count runs never select an event's ciphertext or a data key; the result and charge
    are the ones `run_query` gives for the same exact count and seed."""
    from governance.gateway.dp import DPQuery, run_query
    from governance.gateway.dpqueries import DPQueryRequest, run_dp_query

    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lower())

    query = DPQueryRequest(
        purpose=PURPOSE, statistic="count", epsilon=Decimal("0.5"), event_category="view", max_rows_per_subject=3
    )
    engine = app.extensions["governance.db"].engine
    with app.app_context():
        sa.event.listen(engine, "before_cursor_execute", remember)
        try:
            record = run_dp_query(
                app.extensions["governance.db"].session, client=client_principal(), query=query, random_state=11
            )
        finally:
            sa.event.remove(engine, "before_cursor_execute", remember)
    reads = [s for s in statements if "vault_events" in s or "vault_data_keys" in s]
    assert reads, "the count reads the events table"
    assert not [s for s in reads if "ciphertext" in s or "wrapped" in s]
    same = run_query(
        DPQuery("count", Decimal("0.5"), max_rows_per_subject=3), [[1.0] * 3] * 5 + [[1.0]] * 3, random_state=11
    )
    assert record.result == same.as_dict()
    assert record.epsilon_micro == 500_000
