"""Training jobs end to end: submit (policy, budget), run on the worker, watch, download, cancel, crash,
withdrawal and erasure flags. Real gateway, vault, consent, jobs and Opacus, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from governance.db import transaction, utcnow
from tests.access.conftest import audit_rows
from tests.training.conftest import (
    PURPOSE,
    SYSTEM,
    Population,
    classifier_request,
    db_session,
    naive_bayes_request,
    recommender_request,
)

N = 40


def submit(client: FlaskClient, headers: dict[str, str], body: dict) -> dict:
    response = client.post("/api/v1/training/jobs", json=body, headers=headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def job_of(client: FlaskClient, headers: dict[str, str], job_id: str) -> dict:
    response = client.get(f"/api/v1/training/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def budget(app: Flask) -> tuple[Decimal, int]:
    """(epsilon spent or reserved, open reservations) of the purpose, as the gateway's ledger reports them."""
    from governance.gateway import service as gateway

    with db_session(app) as session:
        view = gateway.budget_status(session, PURPOSE)
    return Decimal(str(view.epsilon_spent)), view.reserved


EXACT_COUNT_KEYS = {"rows_in", "subjects_in", "rows_released", "subjects_released", "rows_suppressed", "k_achieved",
                    "l_achieved", "classes", "classes_released", "bytes", "n_examples", "n_train", "n_test",
                    "users_evaluated"}  # fmt: skip


def exact_count_keys(value: object) -> set[str]:
    """Keys anywhere in a model card or job that would carry an exact count of the training data."""
    if isinstance(value, dict):
        found = {k for k in value if k in EXACT_COUNT_KEYS}
        for item in value.values():
            found |= exact_count_keys(item)
        return found
    if isinstance(value, list):
        return set().union(*(exact_count_keys(v) for v in value)) if value else set()
    return set()


def test_classifier_submit_watch_download(
    app: Flask,
    client: FlaskClient,
    people: Callable[..., Population],
    trainer: dict[str, str],
    drain: Callable[[], int],
) -> None:
    population = people(N)
    job = submit(client, trainer, classifier_request())
    assert job["status"] == "queued"
    assert budget(app) == (Decimal("3.0"), 1)
    assert drain() == 1

    done = job_of(client, trainer, job["id"])
    assert done["status"] == "succeeded", done
    assert isinstance(done["n_subjects"], int)  # a DP count, not N
    assert done["progress"]["epoch"] == done["progress"]["epochs"] == 3
    assert 0 < float(done["epsilon_spent"]) <= 3.0
    assert done["delta_spent"] == "0.000001"
    assert done["release"]["manifest"]["k_anonymity"]["k_required"] == 10
    assert budget(app) == (Decimal(done["epsilon_spent"]), 0)

    card = client.get(f"/api/v1/training/jobs/{job['id']}/model-card", headers=trainer).get_json()
    assert card["privacy"]["accountant"] == "prv"
    assert card["privacy"]["unit_of_privacy"] == "example"
    assert "torchcsprng" in card["privacy"]["rng_statement"]
    assert card["data"]["n_subjects"] == card["data"]["counts"]["people"] == done["n_subjects"]
    assert card["data"]["counts"]["method"] == "dp"
    assert exact_count_keys(card) == set()
    assert exact_count_keys(done) == set()
    assert card["privacy"]["gradient_normalizer"] == 16  # the spec's batch size, a public constant
    assert card["data"]["consent_snapshot_at"]

    link = client.post(f"/api/v1/training/jobs/{job['id']}/download-link", headers=trainer)
    assert link.status_code == 201
    urls = link.get_json()
    weights = client.get(urls["weights_url"].removeprefix("http://localhost"))  # no bearer: the link suffices
    assert weights.status_code == 200
    from safetensors.numpy import load

    tensors = load(weights.data)
    assert set(tensors) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for subject_id, ref in population.refs.items():
        assert str(subject_id).encode() not in weights.data
        assert ref.encode() not in weights.data
    assert client.get(urls["model_card_url"].removeprefix("http://localhost")).status_code == 200


def test_recommender_job_is_user_level(
    client: FlaskClient, people: Callable[..., Population], trainer: dict[str, str], drain: Callable[[], int]
) -> None:
    people(N, seed=3)
    job = submit(client, trainer, recommender_request())
    drain()
    done = job_of(client, trainer, job["id"])
    assert done["status"] == "succeeded", done
    card = client.get(f"/api/v1/training/jobs/{job['id']}/model-card", headers=trainer).get_json()
    assert card["privacy"]["unit_of_privacy"] == "user"
    assert "n_examples" not in card["privacy"]  # one example per person, but the exact number is not published
    assert card["privacy"]["public_examples"] == max(card["data"]["counts"]["people"], 1)  # the DP count
    assert card["privacy"]["max_interactions_per_user"] == 20
    assert set(done["metrics"]) == {"k", "model", "popularity_baseline"}


def test_requests_outside_policy_are_refused_with_reasons(client: FlaskClient, trainer: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/training/jobs", json=classifier_request(privacy={"epsilon": 12, "delta": 5e-4}), headers=trainer
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "epsilon_above_cap"
    assert {r["code"] for r in body["reasons"]} == {"epsilon_above_cap", "delta_above_cap"}
    no_items = recommender_request(items=None)
    assert client.post("/api/v1/training/jobs", json=no_items, headers=trainer).get_json()["error"] == (
        "items_required"
    )


def test_budget_exhausted_is_refused(
    client: FlaskClient, trainer: dict[str, str], people: Callable[..., Population]
) -> None:
    submit(client, trainer, naive_bayes_request(privacy={"epsilon": 6.0, "delta": 0.0}))
    response = client.post(
        "/api/v1/training/jobs", json=naive_bayes_request(privacy={"epsilon": 6.0, "delta": 0.0}), headers=trainer
    )
    assert response.status_code in (409, 422, 429)
    assert response.get_json()["error"] == "budget_exhausted"
    listed = client.get("/api/v1/training/jobs", headers=trainer).get_json()["jobs"]
    assert len(listed) == 1  # nothing stored for the refused job


def test_two_jobs_racing_for_the_last_budget_cannot_both_run(app: Flask, trainer: dict[str, str]) -> None:
    results: list[int] = []

    def attempt() -> None:
        with app.test_client() as own:
            body = naive_bayes_request(privacy={"epsilon": 6.0, "delta": 0.0})
            results.append(own.post("/api/v1/training/jobs", json=body, headers=trainer).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results)[0] == 202
    assert sorted(results)[1] != 202
    assert budget(app) == (Decimal("6.0"), 1)


def test_cancelled_queued_job_refunds_everything(app: Flask, client: FlaskClient, trainer: dict[str, str]) -> None:
    job = submit(client, trainer, classifier_request())
    cancelled = client.post(f"/api/v1/training/jobs/{job['id']}/cancel", headers=trainer).get_json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["epsilon_spent"] == "0"
    assert budget(app) == (Decimal(0), 0)
    again = client.post(f"/api/v1/training/jobs/{job['id']}/cancel", headers=trainer)
    assert again.status_code == 409


@pytest.mark.slow
def test_cancelled_running_job_commits_the_partial_spend(
    app: Flask,
    client: FlaskClient,
    people: Callable[..., Population],
    trainer: dict[str, str],
    drain: Callable[[], int],
) -> None:
    people(N)
    long_run = classifier_request(training={"epochs": 100, "batch_size": 4, "seed": 1})
    job = submit(client, trainer, long_run)
    worker = threading.Thread(target=drain)
    worker.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        progress = job_of(client, trainer, job["id"])["progress"] or {}
        if progress.get("stage") == "training" and progress.get("epoch", 0) >= 2:
            break
        time.sleep(0.1)
    response = client.post(f"/api/v1/training/jobs/{job['id']}/cancel", headers=trainer)
    assert response.status_code == 200
    worker.join(timeout=120)
    done = job_of(client, trainer, job["id"])
    assert done["status"] == "cancelled", done
    spent = Decimal(done["epsilon_spent"])
    assert Decimal(0) < spent < Decimal("3.0")
    assert budget(app) == (spent, 0)  # the rest was refunded


def _abandon_claim(app: Flask) -> None:
    """A worker claims the job and dies: its lease is left to expire."""
    from governance.jobs import service as jobs_service
    from governance.jobs.models import Job

    db = app.extensions["governance.db"]
    with db.session() as s:
        claim = jobs_service.claim_next(s, worker_id="doomed-worker", kinds=["training.run"])
    assert claim is not None
    with db.session() as s, s.begin():
        s.execute(update(Job).where(Job.id == claim.job_id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))


def test_crashed_worker_job_is_resumed(
    app: Flask,
    client: FlaskClient,
    people: Callable[..., Population],
    trainer: dict[str, str],
    drain: Callable[[], int],
) -> None:
    people(N)
    job = submit(client, trainer, naive_bayes_request())
    _abandon_claim(app)
    drain()
    done = job_of(client, trainer, job["id"])
    assert done["status"] == "succeeded"
    assert done["epsilon_spent"] == "1.000000"


def test_crashed_worker_on_last_attempt_fails_cleanly_with_refund(
    app: Flask, client: FlaskClient, trainer: dict[str, str]
) -> None:
    from governance.training import service

    job = submit(client, trainer, naive_bayes_request())
    for _ in range(3):  # policies/training.yaml: max_attempts 3
        _abandon_claim(app)
    from governance.jobs import service as jobs_service

    with app.extensions["governance.db"].session() as s:
        assert jobs_service.claim_next(s, worker_id="next", kinds=["training.run"]) is None  # gave up
    with db_session(app) as session, transaction(session):
        assert service.reconcile_orphaned_jobs(session) == 1
    failed = job_of(client, trainer, job["id"])
    assert failed["status"] == "failed"
    assert failed["error_code"] == "worker_lost"
    assert budget(app) == (Decimal(0), 0)


def test_withdrawn_subject_is_absent_from_the_next_job_and_flags_the_model(
    app: Flask,
    client: FlaskClient,
    people: Callable[..., Population],
    trainer: dict[str, str],
    drain: Callable[[], int],
) -> None:
    from governance.consent import service as consent
    from governance.training import service

    population = people(N)
    first = submit(client, trainer, naive_bayes_request())
    drain()
    leaver = population.ids[0]
    with db_session(app) as session, transaction(session):
        consent.record_decisions(
            session,
            leaver,
            [{"purpose": PURPOSE, "decision": "withdrawn"}],
            method="api",
            actor=SYSTEM,
            jurisdiction="EU",
        )
    retrained = client.post(f"/api/v1/training/jobs/{first['id']}/retrain", headers=trainer)
    assert retrained.status_code == 202
    second = retrained.get_json()
    assert second["retrain_of"] == first["id"]
    drain()
    # finding 3 of issue 15: the two cards around the withdrawal no longer publish exact counts whose difference
    # is the leaver's event count (rows_in) and presence (subjects_in); only DP counts charged to each job
    for job in (first, second):
        card = client.get(f"/api/v1/training/jobs/{job['id']}/model-card", headers=trainer).get_json()
        assert exact_count_keys(card) == set()
        assert card["data"]["counts"]["method"] == "dp"
        assert card["data"]["counts"]["epsilon"] == 0.05
    assert exact_count_keys(job_of(client, trainer, second["id"])) == set()
    with db_session(app) as session:
        including = service.models_including(session, leaver)
        session.rollback()
        assert [m.job_id for m in including] == [uuid.UUID(first["id"])]
        with transaction(session):
            assert service.refresh_flags(session) == 1
        from governance.outbox.models import OutboxMessage  # the new flag is announced to the broker

        flagged = session.scalars(select(OutboxMessage).where(OutboxMessage.event == "training.model.flagged")).all()
        assert [(m.subject_id, m.data) for m in flagged] == [
            (leaver, {"reason": "withdrawn", "model_ids": [first["id"]]})
        ]
        session.rollback()
    flagged = job_of(client, trainer, first["id"])
    assert flagged["flagged_people"] == 1
    assert flagged["flag_note"] == ("trained on data of 1 person who has since erased their data or withdrawn consent")
    assert job_of(client, trainer, second["id"])["flagged_people"] == 0


def test_erasure_flags_the_model(
    app: Flask,
    client: FlaskClient,
    people: Callable[..., Population],
    trainer: dict[str, str],
    drain: Callable[[], int],
) -> None:
    from governance.training import service

    population = people(N)
    job = submit(client, trainer, naive_bayes_request())
    drain()
    erased = population.ids[1]
    with db_session(app) as session:
        with transaction(session):
            assert service.flag_models_for_subject(session, erased, reason="erased") == 1
        with transaction(session):
            assert service.flag_models_for_subject(session, erased, reason="erased") == 1  # idempotent
        assert service.models_including(session, erased)[0].flagged
        assert service.flag_models_for_subject(session, uuid.uuid4(), reason="erased") == 0
        from governance.outbox.models import OutboxMessage  # the flag is announced to the broker, once

        flagged = session.scalars(select(OutboxMessage).where(OutboxMessage.event == "training.model.flagged")).all()
        assert [(m.subject_id, m.data) for m in flagged] == [(erased, {"reason": "erased", "model_ids": [job["id"]]})]
        session.rollback()
    assert job_of(client, trainer, job["id"])["flagged_people"] == 1


def test_other_clients_cannot_see_or_touch_a_job(
    client: FlaskClient, trainer: dict[str, str], bearer: Callable[..., dict[str, str]]
) -> None:
    job = submit(client, trainer, naive_bayes_request())
    other = bearer(["training:submit"], [PURPOSE])
    assert client.get(f"/api/v1/training/jobs/{job['id']}", headers=other).status_code == 404
    assert client.post(f"/api/v1/training/jobs/{job['id']}/cancel", headers=other).status_code == 404
    assert client.get(f"/api/v1/training/jobs/{uuid.uuid4()}", headers=trainer).status_code == 404
    assert client.get("/api/v1/training/jobs/not-a-uuid", headers=trainer).status_code in (404, 422)
    assert client.get(f"/api/v1/training/jobs/{job['id']}").status_code == 401


def test_unregistered_purpose_and_missing_scope_are_forbidden(
    client: FlaskClient, bearer: Callable[..., dict[str, str]]
) -> None:
    elsewhere = bearer(["training:submit"], ["product_analytics"])
    assert client.post("/api/v1/training/jobs", json=naive_bayes_request(), headers=elsewhere).status_code == 403
    reader = bearer(["datasets:request"], [PURPOSE])
    assert client.post("/api/v1/training/jobs", json=naive_bayes_request(), headers=reader).status_code == 403


def test_bad_download_links_are_gone(client: FlaskClient) -> None:
    response = client.get("/api/v1/training/downloads/not-a-token/weights")
    assert response.status_code == 410
    assert response.get_json()["error"] == "download_link_invalid"


def test_refusal_once_the_data_is_built_fails_the_job_and_refunds(
    app: Flask,
    client: FlaskClient,
    people: Callable[..., Population],
    trainer: dict[str, str],
    drain: Callable[[], int],
) -> None:
    people(12)  # 5 withdraw before the job runs: 7 are left, too few to train on (the minimum is 10)
    job = submit(
        client, trainer, naive_bayes_request(dataset={"fields": ["country"], "event_categories": ["view", "purchase"]})
    )
    with db_session(app) as session:
        from governance.consent import service as consent

        for subject_id in list(consent.iter_permitted_subjects(session, PURPOSE))[:5]:
            consent.record_decisions(
                session,
                subject_id,
                [{"purpose": PURPOSE, "decision": "withdrawn"}],
                method="api",
                actor=SYSTEM,
                jurisdiction="EU",
            )
        session.commit()
    drain()
    failed = job_of(client, trainer, job["id"])
    assert failed["status"] == "failed"
    assert failed["error_code"] == "too_few_examples"
    assert "at least 10" in failed["error_message"]
    assert budget(app) == (Decimal(0), 0)


def test_erased_people_are_flagged_by_the_periodic_refresh(
    app: Flask,
    client: FlaskClient,
    people: Callable[..., Population],
    trainer: dict[str, str],
    drain: Callable[[], int],
) -> None:
    from governance.training import service
    from governance.vault import service as vault

    population = people(N)
    job = submit(client, trainer, naive_bayes_request())
    drain()
    with db_session(app) as session, transaction(session):
        vault.shred_subject(session, population.ids[2], actor=SYSTEM, reason="erasure request")
    with db_session(app) as session, transaction(session):
        assert service.refresh_flags(session) == 1
    with db_session(app) as session, transaction(session):
        assert service.refresh_flags(session) == 0  # already flagged
    assert job_of(client, trainer, job["id"])["flagged_people"] == 1


def test_a_job_that_keeps_crashing_fails_cleanly_with_refund(
    app: Flask, client: FlaskClient, trainer: dict[str, str], drain: Callable[[], int]
) -> None:
    from governance.jobs.models import Job
    from governance.training.models import TrainingJob

    job = submit(client, trainer, naive_bayes_request())
    with db_session(app) as session, transaction(session):
        # a stored request the current code cannot read: every attempt raises
        session.execute(update(TrainingJob).where(TrainingJob.id == uuid.UUID(job["id"])).values(spec={"kind": 1}))
    for attempt in range(1, 4):
        assert drain() == 1
        state = job_of(client, trainer, job["id"])
        if attempt < 3:
            assert state["status"] == "running"
            assert state["error_code"] == "ValidationError"
            with db_session(app) as session, transaction(session):  # skip the retry backoff
                session.execute(update(Job).where(Job.kind == "training.run").values(run_after=utcnow()))
    assert state["status"] == "failed"
    assert state["error_code"] == "training_crashed"
    assert budget(app) == (Decimal(0), 0)


def test_a_dpo_retrains_a_clients_model_which_stays_the_clients(
    app: Flask,
    client: FlaskClient,
    people: Callable[..., Population],
    trainer: dict[str, str],
    drain: Callable[[], int],
    login_staff,
) -> None:
    """Issue 19, finding 8: docs/access.md gives the DPO `training.retrain` (e.g. after an erasure). The new
    job belongs to the client that owns the model (its purposes, its budget share, it downloads the model);
    the DPO is recorded as who asked. Other staff roles stay refused."""
    import sqlalchemy as sa

    from tests.fixtures.access import csrf_token_from

    people(N)
    first = submit(client, trainer, naive_bayes_request())
    drain()
    dpo = app.test_client()
    dpo_id = login_staff(dpo, "dpo")
    csrf = {"X-CSRFToken": csrf_token_from(dpo.get("/login").get_data(as_text=True))}
    retrained = dpo.post(f"/api/v1/training/jobs/{first['id']}/retrain", headers=csrf)
    assert retrained.status_code == 202, retrained.get_json()
    second = retrained.get_json()
    assert second["retrain_of"] == first["id"]
    drain()
    owned = job_of(client, trainer, second["id"])  # the owning client follows (and may download) it
    assert owned["status"] == "succeeded", owned
    with app.extensions["governance.db"].engine.connect() as conn:
        actors = conn.execute(
            sa.text("SELECT actor_kind, actor_id FROM audit_entries WHERE action = 'training.job.submitted'")
        ).all()
    assert sorted(kind for kind, _ in actors) == ["client", "staff"]
    assert ("staff", str(dpo_id)) in {tuple(a) for a in actors}
    for role in ("admin", "support", "auditor"):
        other = app.test_client()
        login_staff(other, role)
        token = {"X-CSRFToken": csrf_token_from(other.get("/login").get_data(as_text=True))}
        assert other.post(f"/api/v1/training/jobs/{first['id']}/retrain", headers=token).status_code == 403, role


def test_a_budget_with_many_digits_is_accepted_and_audited_as_given(app: Flask, client: FlaskClient, trainer) -> None:  # type: ignore[no-untyped-def]
    """str(Decimal) of 1.23456789 reads like a phone number to the audit screen: the submission answered 500."""
    job = submit(client, trainer, classifier_request(privacy={"epsilon": 1.23456789, "delta": 1e-5}))
    assert job["target_epsilon"] == "1.23456789"
    assert audit_rows(app, "training.job.submitted")[-1]["details"]["epsilon"] == "1.23456789"
