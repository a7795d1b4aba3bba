"""Training jobs as requests: submit (policy and budget first), preview (a dry run), retrain, cancel, and read.

None of these commits: the route owns the transaction. The job itself runs in governance.training.runner.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.access import service as access
from governance.access.principals import Principal
from governance.db import utcnow
from governance.jobs import enqueue, request_cancel
from governance.training.errors import JobNotCancellableError, TrainingJobNotFoundError, TrainingRefusedError
from governance.training.models import TERMINAL_STATUSES, TrainingJob
from governance.training.preview import expected_training_noise
from governance.training.schemas import TrainingJobIn
from governance.training.service.budget import as_decimal, gateway, settle
from governance.training.service.policy import check_request, current_policy, refusal_error
from governance.training.service.views import TrainingJobView, job_view, load_job

__all__ = ["JOB_KIND", "cancel_job", "get_job", "list_jobs", "preview_job", "retrain", "submit_job"]

JOB_KIND = "training.run"


def _actor_label(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


def submit_job(
    session: Session,
    body: TrainingJobIn,
    *,
    actor: Principal,
    retrain_of: uuid.UUID | None = None,
    owner: Principal | None = None,
) -> TrainingJobView:
    """Check the request against policy and the gateway, reserve its (epsilon, delta) and queue it.

    `owner` is the client the job belongs to (default: `actor`): its purposes are checked, its budget share is
    charged and it downloads the model; `actor` (a DPO retraining a client's model, say) is who asked, recorded
    as the job's creator and in the audit log.

    Raises TrainingRefusedError (422, every reason), the gateway's spec errors and BudgetExhaustedError (the
    budget left is in the error). Nothing is stored unless everything passes.
    """
    owner = owner or actor
    refusals = check_request(body, current_policy())
    if refusals:
        raise refusal_error(refusals)
    spec = body.dataset.as_gateway_spec(purpose=body.purpose, kind=body.kind)
    gateway.check_spec(body.purpose, owner, spec)
    job_id = uuid.uuid4()
    epsilon, delta = as_decimal(body.privacy.epsilon), as_decimal(body.privacy.delta)
    reservation = gateway.reserve_budget(
        session,
        purpose=body.purpose,
        client_id=owner.id,
        epsilon=epsilon,
        delta=delta,
        reason=f"training:{body.kind}",
        ref=f"training_job:{job_id}",
    )
    job = TrainingJob(
        id=job_id,
        client_id=owner.id,
        purpose=body.purpose,
        kind=body.kind,
        spec=body.model_dump(mode="json"),
        status="queued",
        target_epsilon=str(epsilon),
        target_delta=str(delta),
        reservation_id=reservation,
        budget_settled=False,
        retrain_of=retrain_of,
        created_by=_actor_label(actor),
    )
    session.add(job)
    session.flush()
    job.queue_job_id = enqueue(
        session,
        JOB_KIND,
        {"training_job_id": str(job_id)},
        max_attempts=current_policy().max_attempts,
        created_by=f"client:{owner.id}" if owner.kind == "client" else _actor_label(actor),
    )
    audit.record(
        session,
        actor=actor,
        action="training.job.submitted",
        target=("training_job", job_id),
        details={
            "kind": body.kind,
            "purpose": body.purpose,
            "epsilon": str(epsilon),
            "delta": str(delta),
            "retrain_of": str(retrain_of) if retrain_of else None,
        },
    )
    session.flush()
    return job_view(session, job)


def preview_job(
    session: Session, body: TrainingJobIn, *, actor: Principal, assumed_people: int | None = None
) -> dict[str, Any]:
    """A dry run of `submit_job`: the (epsilon, delta) it would reserve, the budget before and after, and the
    expected noise (noise multiplier and its standard deviation on the gradient, at the caller's public
    ``assumed_people``), plus the DP counts the card will publish. Reads no personal data, reserves nothing,
    audited (`gateway.preview.run`, kind ``training``). Raises what `submit_job` raises before reserving."""
    policy = current_policy()
    refusals = check_request(body, policy)
    if refusals:
        raise refusal_error(refusals)
    gateway.check_spec(body.purpose, actor, body.dataset.as_gateway_spec(purpose=body.purpose, kind=body.kind))
    t = body.training
    noise = expected_training_noise(
        kind=body.kind,
        epsilon=body.privacy.epsilon - policy.count_epsilon,
        delta=body.privacy.delta,
        epochs=t.epochs,
        batch_size=t.batch_size,
        max_grad_norm=t.max_grad_norm,
        holdout_fraction=t.holdout_fraction,
        assumed_people=assumed_people,
    )
    half = policy.count_epsilon / 2
    noise["card_counts"] = {
        "epsilon": policy.count_epsilon,
        "people_noise_scale": 1 / half,
        "rows_noise_scale": policy.count_max_rows_per_person / half,
        "mechanism": "two-sided geometric",
    }
    user_level = body.kind == "recommender"
    preview = gateway.preview_spend(
        session,
        actor=actor,
        kind="training",
        purpose=body.purpose,
        client_id=actor.id,
        epsilon=as_decimal(body.privacy.epsilon),
        delta=as_decimal(body.privacy.delta),
        accuracy=noise,
        unit_of_privacy="user" if user_level else "example (one row per person)",
        neighbouring="one person's whole (bounded) history added or removed"
        if user_level
        else "one person's example added or removed",
    )
    return preview.as_dict()


def retrain(session: Session, job_id: uuid.UUID, *, actor: Principal) -> TrainingJobView:
    """Submit the same request again: the new job builds its data from a fresh consent snapshot."""
    previous = load_job(session, job_id, actor)
    body = TrainingJobIn.model_validate(previous.spec)
    if actor.kind == "client":
        if previous.client_id != actor.id:
            raise TrainingJobNotFoundError()
        return submit_job(session, body, actor=actor, retrain_of=previous.id)
    # Staff (the DPO, e.g. after an erasure): the new job is the client's, within the client's registration.
    owner = access.client_principal(session, previous.client_id)
    if owner is None:
        raise TrainingRefusedError(
            "The client that owns this model is no longer active; its model cannot be retrained.",
            code="owner_inactive",
            status=409,
        )
    return submit_job(session, body, actor=actor, retrain_of=previous.id, owner=owner)


def cancel_job(session: Session, job_id: uuid.UUID, *, actor: Principal) -> TrainingJobView:
    """Cancel a queued job at once (its reservation is refunded) or ask a running one to stop (the worker then
    commits the epsilon actually spent and refunds the rest). Raises JobNotCancellableError when finished."""
    job = load_job(session, job_id, actor)
    if job.status in TERMINAL_STATUSES:
        raise JobNotCancellableError()
    queue_view = request_cancel(session, job.queue_job_id) if job.queue_job_id else None
    job.cancel_requested = True
    if job.status == "queued" and (queue_view is None or queue_view.status == "cancelled"):
        settle(session, job, epsilon=None, delta=None)
        job.status, job.finished_at = "cancelled", utcnow()
    audit.record(
        session,
        actor=actor,
        action="training.job.cancel_requested",
        target=("training_job", job.id),
        details={"status": job.status},
    )
    session.flush()
    return job_view(session, job)


def get_job(session: Session, job_id: uuid.UUID, *, actor: Principal | None = None) -> TrainingJobView:
    return job_view(session, load_job(session, job_id, actor))


def list_jobs(session: Session, *, actor: Principal, limit: int = 100) -> list[TrainingJobView]:
    query = select(TrainingJob).order_by(TrainingJob.created_at.desc()).limit(limit)
    if actor.kind == "client":
        query = query.where(TrainingJob.client_id == actor.id)
    return [job_view(session, job) for job in session.scalars(query)]
