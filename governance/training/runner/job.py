"""The ``training.run`` handler: start, build the data, check its size, train, then store the outcome and settle
the budget. Each phase commits in a short transaction of its own (the service functions it calls never commit).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, NoReturn

from flask import current_app
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.db import utcnow
from governance.errors import DomainError
from governance.jobs import JobCancelledError, JobContext
from governance.jobs import get_job as get_queue_job
from governance.jobs.worker import LeaseLostError
from governance.training.errors import TrainingRefusedError
from governance.training.ml.counts import NoisyCounts, noisy_counts
from governance.training.ml.dpsgd import Progress, TrainingHooks
from governance.training.ml.limits import PrivacyParametersRefusedError, check_privacy_parameters
from governance.training.ml.result import TrainedModel
from governance.training.models import TERMINAL_STATUSES, TrainingJob
from governance.training.policy import TrainingPolicy
from governance.training.runner.data import TrainingData, build_training_data
from governance.training.runner.pacing import Throttle
from governance.training.runner.trainers import train_model
from governance.training.schemas import OPACUS_KINDS, TrainingJobIn
from governance.training.service.outcomes import finish_cancelled, finish_failed, finish_succeeded
from governance.training.service.policy import current_policy, refusal_error

__all__ = ["run_training_job"]

log = logging.getLogger("governance.training")


def run_training_job(ctx: JobContext) -> dict[str, Any]:
    """The ``training.run`` handler. Idempotent: a finished job returns its outcome; a job whose worker crashed
    starts again from a fresh data build under the same reservation; the last failed attempt refunds."""
    job_id = uuid.UUID(ctx.payload["training_job_id"])
    finished = _start(ctx, job_id)
    if finished is not None:
        return finished
    try:
        return _run(ctx, job_id)
    except (JobCancelledError, TrainingRefusedError, LeaseLostError):
        raise  # finished on purpose, or another worker owns the job now: leave its row alone
    except DomainError as exc:  # refused by another domain (e.g. the spec no longer allowed): no retry
        with ctx.session() as session:
            job = session.get(TrainingJob, job_id)
            if job is not None and job.status not in TERMINAL_STATUSES:
                finish_failed(session, job, code=exc.code, message=exc.message)
                session.commit()
        raise
    except Exception as exc:
        _record_crash(ctx, job_id, exc)
        raise


def _start(ctx: JobContext, job_id: uuid.UUID) -> dict[str, Any] | None:
    """Mark the job running (audited) and return None; or the outcome of a job missing or already finished."""
    with ctx.session() as session:
        job = session.get(TrainingJob, job_id)
        if job is None:
            return {"status": "missing"}
        if job.status in TERMINAL_STATUSES:
            return {"status": job.status}
        job.status = "running"
        job.started_at = job.started_at or utcnow()
        job.progress = {"stage": "building_dataset", "attempt": ctx.attempt}
        audit.record(
            session,
            actor=Principal.system("training"),
            action="training.job.started",
            target=("training_job", job.id),
            details={"attempt": ctx.attempt},
        )
        session.commit()
    return None


def _record_crash(ctx: JobContext, job_id: uuid.UUID, exc: Exception) -> None:
    """A crash: retried by the queue; on the last attempt, fail cleanly and give the reservation back."""
    with ctx.session() as session:
        job = session.get(TrainingJob, job_id)
        if job is not None and job.status not in TERMINAL_STATUSES:
            if ctx.attempt >= _max_attempts(session, job):
                finish_failed(session, job, code="training_crashed", message="training failed; budget refunded")
            else:
                job.error_code = type(exc).__name__[:100]
            session.commit()


def _fail_now(ctx: JobContext, job_id: uuid.UUID, error: TrainingRefusedError) -> NoReturn:
    """Fail the job for good (no retry), refunding its reservation, and raise ``error``."""
    with ctx.session() as session:
        job = session.get(TrainingJob, job_id)
        if job is not None and job.status not in TERMINAL_STATUSES:
            finish_failed(session, job, code=error.code, message=error.message)
            session.commit()
    raise error


def _max_attempts(session: Session, job: TrainingJob) -> int:
    return get_queue_job(session, job.queue_job_id).max_attempts if job.queue_job_id else 1


def _run(ctx: JobContext, job_id: uuid.UUID) -> dict[str, Any]:
    policy = current_policy()
    if ctx.cancelled():
        _cancel_before_training(ctx, job_id)

    # 1. the data, through the gateway (consent-filtered, minimized, pseudonymized, generalized, k-anonymous)
    started = time.perf_counter()
    body, purpose, client_id = _request_of(ctx, job_id)
    data = build_training_data(ctx, body, purpose=purpose, client_id=client_id)
    data_seconds = time.perf_counter() - started

    # 2. the DP counts the card publishes (and the job's public dataset size), then the delta <= 1/(10 N) check
    counts = noisy_counts(
        [max(len(p.events), 1) for p in data.people],
        epsilon=policy.count_epsilon,
        max_rows_per_person=policy.count_max_rows_per_person,
    )
    _check_dataset_size(ctx, job_id, body, policy, n_people=len(data.people))

    model, train_seconds = _train(ctx, job_id, body, data, policy, public_people=counts.people)
    model.timings = {**model.timings, "data_seconds": data_seconds, "job_training_seconds": train_seconds}

    # 3. settle the budget and store the outcome, in one transaction
    return _store_outcome(ctx, job_id, model, data, body, counts, policy)


def _cancel_before_training(ctx: JobContext, job_id: uuid.UUID) -> NoReturn:
    """Cancelled before any data was read: refund everything and stop."""
    with ctx.session() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        finish_cancelled(session, job, None)
        session.commit()
    raise JobCancelledError()


def _request_of(ctx: JobContext, job_id: uuid.UUID) -> tuple[TrainingJobIn, str, str]:
    """The stored request, its purpose and its client (read in a transaction of its own)."""
    with ctx.session() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        return TrainingJobIn.model_validate(job.spec), job.purpose, job.client_id


def _check_dataset_size(
    ctx: JobContext, job_id: uuid.UUID, body: TrainingJobIn, policy: TrainingPolicy, *, n_people: int
) -> None:
    """The checks that need N (at least 10 people, delta <= 1/(10 N)); a refusal fails the job for good."""
    refusals = check_privacy_parameters(
        epsilon=body.privacy.epsilon,
        delta=body.privacy.delta,
        n_examples=n_people,
        epsilon_cap=policy.epsilon_cap,
        min_examples=10,
        delta_required=body.kind in OPACUS_KINDS,
    )
    if refusals:
        _fail_now(ctx, job_id, refusal_error(refusals))


def _train(
    ctx: JobContext,
    job_id: uuid.UUID,
    body: TrainingJobIn,
    data: TrainingData,
    policy: TrainingPolicy,
    *,
    public_people: int,
) -> tuple[TrainedModel, float]:
    """Train (reporting progress, polling cancellation); return the model and the seconds training took. A
    refusal or unusable data fails the job for good: a retry would fail the same way."""
    settings = current_app.extensions["governance.settings"]
    throttle = Throttle(ctx, seconds=settings.get_float("TRAINING_CANCEL_POLL_SECONDS", 1.0))
    hooks = TrainingHooks(progress=_progress_reporter(ctx, job_id), should_stop=throttle.should_stop)
    train_started = time.perf_counter()
    try:
        model = train_model(body, data.people, policy, hooks, public_people=public_people)
    except PrivacyParametersRefusedError as exc:  # e.g. delta > 1/(10 N_train) after the held-out split
        _fail_now(ctx, job_id, refusal_error(exc.refusals))
    except ValueError as exc:  # deterministic (unusable data): a retry would fail the same way
        log.warning("training data unusable", extra={"training_job_id": str(job_id), "error_type": "ValueError"})
        _fail_now(
            ctx,
            job_id,
            TrainingRefusedError("The training data cannot be used for this model.", code="training_data_unusable"),
        )
        raise AssertionError("unreachable") from exc
    return model, time.perf_counter() - train_started


def _progress_reporter(ctx: JobContext, job_id: uuid.UUID) -> Callable[[Progress], None]:
    """Store each epoch's progress on the job (committed at once, so watchers see it) and renew the lease."""

    def on_progress(p: Progress) -> None:
        with ctx.session() as session:
            row = session.get(TrainingJob, job_id)
            if row is not None:
                row.progress = {
                    "stage": "training",
                    "epoch": p.epoch,
                    "epochs": p.epochs,
                    "step": p.step,
                    "total_steps": p.total_steps,
                    "loss": None if p.loss != p.loss else round(p.loss, 6),  # NaN (an empty epoch) is not JSON
                    "epsilon_spent": p.epsilon_spent,
                }
                session.commit()
        ctx.progress(p.epoch, p.epochs, f"epoch {p.epoch}/{p.epochs}")

    return on_progress


def _store_outcome(
    ctx: JobContext,
    job_id: uuid.UUID,
    model: TrainedModel,
    data: TrainingData,
    body: TrainingJobIn,
    counts: NoisyCounts,
    policy: TrainingPolicy,
) -> dict[str, Any]:
    """Settle the budget and store the model (or the partial spend of a run stopped early) in one transaction."""
    with ctx.session() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        if job.status in TERMINAL_STATUSES:  # another worker finished it after our lease ran out
            return {"status": job.status}
        if model.stopped_early:
            finish_cancelled(session, job, model, count_epsilon=policy.count_epsilon)
            session.commit()
            raise JobCancelledError()
        finish_succeeded(session, job, model, data.parts, data.pseudonyms, body, counts)
        session.commit()
        return {"status": "succeeded", "epsilon_spent": job.epsilon_spent, "n_subjects": job.n_subjects}
