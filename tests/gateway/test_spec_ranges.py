"""Dataset specs with absurd windows (issue 18, finding 9): refused at the API, and a job whose stored spec cannot
be read fails once with a stable reason instead of crashing on every retry while the release stays open."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from governance.jobs.worker import drain
from tests.gateway.conftest import PURPOSE

SPEC = {"purpose": PURPOSE, "profile_fields": ["country"], "event_categories": ["view"]}


@pytest.fixture
def trainer(bearer):
    return bearer(["datasets:request", "training:submit"], [PURPOSE])


@pytest.mark.parametrize(
    "window",
    [
        {"since": 1e12},
        {"since": "9999-01-01T00:00:00Z"},
        {"until": "9999-12-31T23:00:00-05:00"},
        {"since": "1969-12-31T23:59:59Z"},
        {"since": "2026-01-01T00:00:00"},
    ],
)
def test_absurd_windows_are_refused_at_the_api(client, trainer, window) -> None:
    response = client.post("/api/v1/datasets", json={**SPEC, **window}, headers=trainer)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["fields"]) <= {"since", "until"}


def test_a_release_whose_stored_spec_cannot_be_read_fails_once(app, client, trainer, populate) -> None:
    from governance.gateway.models import Release
    from governance.jobs.models import Job

    populate(3)
    created = client.post("/api/v1/datasets", json=SPEC, headers=trainer)
    assert created.status_code == 202, created.get_json()
    release_id = uuid.UUID(created.get_json()["release_id"])
    engine = app.extensions["governance.db"].engine
    with app.app_context(), sa.orm.Session(engine) as session, session.begin():
        release = session.get(Release, release_id)
        release.spec = {**release.spec, "since": "9999-12-31T23:00:00-05:00"}  # as an older version stored it
    drain(app)
    with app.app_context(), sa.orm.Session(engine) as session:
        release = session.get(Release, release_id)
        job = session.get(Job, release.job_id)
        assert (job.status, job.attempts, job.error_code) == ("failed", 1, "invalid_spec")
        assert (release.status, release.error_code) == ("failed", "invalid_spec")
    shown = client.get(f"/api/v1/datasets/{release_id}", headers=trainer).get_json()
    assert shown["status"] == "failed"


def test_a_permanent_job_error_is_never_retried(app) -> None:
    """The jobs framework's non-retryable class: fails once with its code."""
    from governance.jobs import PermanentJobError, enqueue, register
    from governance.jobs.models import Job

    calls: list[int] = []

    @register("tests.always_invalid", max_attempts=5)
    def always_invalid(ctx) -> dict:  # type: ignore[no-untyped-def,type-arg]
        calls.append(ctx.attempt)
        raise PermanentJobError(code="input_out_of_range")

    engine = app.extensions["governance.db"].engine
    with app.app_context(), sa.orm.Session(engine) as session, session.begin():
        job_id = enqueue(session, "tests.always_invalid", {})
    drain(app, kinds=["tests.always_invalid"])
    with app.app_context(), sa.orm.Session(engine) as session:
        job = session.get(Job, job_id)
        assert (job.status, job.attempts, job.error_code) == ("failed", 1, "input_out_of_range")
    assert calls == [1]
