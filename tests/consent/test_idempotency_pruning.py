"""Idempotency keys are kept for at least GOVERNANCE_IDEMPOTENCY_KEY_HOURS (24), then deleted by the hourly job
`consent.prune_idempotency_keys`: every keyed consent write stores one, so the table must not grow for ever. A key
within the window still replays; one past it is gone, and a retry with it is a new write."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from governance.consent import service
from governance.consent.models import ConsentEvent, ConsentIdempotencyKey
from governance.consent.tasks import PRUNE_KEYS_JOB
from governance.db import utcnow
from governance.jobs.registry import periodic_specs
from governance.jobs.service import enqueue
from governance.jobs.worker import drain
from governance.settings import ConfigError
from tests.consent.conftest import count
from tests.consent.test_api import RECS, post

GRANT = {"decisions": [{"purpose": RECS, "decision": "granted"}]}


def _age(app: Flask, key: str, hours: float) -> None:
    """Backdate a stored key as if it had been written `hours` ago."""
    t = ConsentIdempotencyKey.__table__
    with app.extensions["governance.db"].engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.key == key).values(created_at=utcnow() - timedelta(hours=hours)))


def _keys(app: Flask) -> set[str]:
    t = ConsentIdempotencyKey.__table__
    with app.extensions["governance.db"].engine.connect() as conn:
        return set(conn.execute(sa.select(t.c.key)).scalars())


def _run_prune(app: Flask) -> None:
    with app.extensions["governance.db"].session() as session:
        enqueue(session, PRUNE_KEYS_JOB, {})
        session.commit()
    assert drain(app, kinds=[PRUNE_KEYS_JOB]) == 1


def test_the_job_deletes_keys_past_the_window_and_keeps_the_rest(
    app: Flask, client: FlaskClient, make_subject, bearer
) -> None:  # type: ignore[no-untyped-def]
    product = bearer(["consents:write", "consents:read"])
    subject = make_subject()
    first = {key: post(client, subject, GRANT, product, key=key) for key in ("old", "recent")}
    assert [r.status_code for r in first.values()] == [201, 201]
    _age(app, "old", 25)
    _age(app, "recent", 23)

    _run_prune(app)
    assert _keys(app) == {"recent"}
    replay = post(client, subject, GRANT, product, key="recent")
    assert (replay.status_code, replay.get_json()) == (200, first["recent"].get_json())  # still a replay
    events = count(app, ConsentEvent)
    retry = post(client, subject, GRANT, product, key="old")
    assert retry.status_code == 201  # past the window: a new write, recorded as one
    assert count(app, ConsentEvent) == events + 1


def test_the_window_is_a_setting_of_at_least_an_hour(make_app, make_subject, bearer) -> None:  # type: ignore[no-untyped-def]
    app = make_app(IDEMPOTENCY_KEY_HOURS="48")  # the same database as the other fixtures' app
    client = app.test_client()
    subject = make_subject()
    product = bearer(["consents:write"])
    assert post(client, subject, GRANT, product, key="day-old").status_code == 201
    _age(app, "day-old", 25)
    _run_prune(app)
    assert "day-old" in _keys(app)

    tight = make_app(IDEMPOTENCY_KEY_HOURS="0")  # taken as one hour: retries of one write must find the key
    assert post(client, subject, GRANT, product, key="minutes-old").status_code == 201
    _age(app, "minutes-old", 0.5)
    _run_prune(tight)
    assert "minutes-old" in _keys(app)


def test_a_window_that_is_not_a_number_stops_start_up(make_app) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="GOVERNANCE_IDEMPOTENCY_KEY_HOURS must be an integer"):
        make_app(IDEMPOTENCY_KEY_HOURS="a day")  # found at start-up, not an hour later by the job's first run


def test_pruning_goes_in_batches_and_runs_hourly(app: Flask, session) -> None:  # type: ignore[no-untyped-def]
    t = ConsentIdempotencyKey.__table__
    old = utcnow() - timedelta(days=3)
    rows = [
        {"actor": "client:c", "key": f"k{i}", "request_sha256": "0" * 64, "subject_id": uuid.uuid4(),
         "response": {}, "created_at": old}
        for i in range(5)
    ]  # fmt: skip
    with session.begin():
        session.execute(sa.insert(t), rows)
    with session.begin():
        assert service.prune_idempotency_keys(session, limit=2) == 2
    with session.begin():
        assert service.prune_idempotency_keys(session, limit=10) == 3
        assert service.prune_idempotency_keys(session, limit=10) == 0
    assert {spec.kind: spec.every_seconds for spec in periodic_specs()}[PRUNE_KEYS_JOB] == 3600
