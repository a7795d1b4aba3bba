"""Training jobs: submit (policy and budget first), run (gateway data -> DP training -> artifact), watch,
cancel, download, retrain, and the lineage flags other domains call (docs/contracts.md).

Transactions: functions taking a ``session`` never commit (the route or handler owns the transaction), except
``run_training_job``, the job handler's body, which commits its phases in short transactions of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef, Principal
from governance.db import utcnow
from governance.errors import DomainError
from governance.outbox import service as outbox
from governance.training.errors import (
    DownloadLinkInvalidError,
    GatewayUnavailableError,
    JobNotCancellableError,
    ModelNotReadyError,
    TrainingJobNotFoundError,
    TrainingRefusedError,
)
from governance.training.ml.limits import PrivacyParametersRefusedError, Refusal, check_privacy_parameters
from governance.training.models import (
    TERMINAL_STATUSES,
    TrainingArtifact,
    TrainingFlag,
    TrainingJob,
    TrainingLineage,
)
from governance.training.policy import POLICY_EXTENSION, TrainingPolicy
from governance.training.schemas import OPACUS_KINDS, TrainingJobIn

if TYPE_CHECKING:  # pragma: no cover - typing only
    from governance.jobs import JobContext
    from governance.training.ml.counts import NoisyCounts
    from governance.training.ml.result import TrainedModel

__all__ = [
    "JOB_KIND",
    "ModelSummary",
    "TrainingJobView",
    "cancel_job",
    "create_download_link",
    "flag_models_for_subject",
    "get_job",
    "list_jobs",
    "model_card",
    "models_including",
    "preview_job",
    "read_download",
    "reconcile_orphaned_jobs",
    "refresh_flags",
    "retrain",
    "run_training_job",
    "submit_job",
]

log = logging.getLogger("governance.training")

JOB_KIND = "training.run"
DOWNLOAD_SALT = "governance.training.download"
EPSILON_QUANTUM = Decimal("0.000001")
WITHDRAWAL_REASONS = frozenset({"withdrawn", "objected"})
LINEAGE_BATCH = 5_000


# ---- views --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingJobView:
    id: uuid.UUID
    kind: str
    purpose: str
    client_id: str
    status: str
    cancel_requested: bool
    target_epsilon: str
    target_delta: str
    epsilon_spent: str | None
    delta_spent: str | None
    progress: dict[str, Any] | None
    metrics: dict[str, Any] | None
    n_subjects: int | None
    consent_snapshot_at: datetime | None
    release: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    retrain_of: uuid.UUID | None
    flagged_people: int
    flag_note: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class ModelSummary:
    """A model (succeeded training job) whose training data included a given person."""

    job_id: uuid.UUID
    kind: str
    purpose: str
    client_id: str
    status: str
    trained_at: datetime | None
    flagged: bool


def _flag_count(session: Session, job_id: uuid.UUID) -> int:
    return int(
        session.scalar(select(func.count(func.distinct(TrainingFlag.subject_id))).where(TrainingFlag.job_id == job_id))
        or 0
    )


def _view(session: Session, job: TrainingJob) -> TrainingJobView:
    flagged = _flag_count(session, job.id)
    cancel_requested = job.cancel_requested and job.status not in TERMINAL_STATUSES
    return TrainingJobView(
        id=job.id,
        kind=job.kind,
        purpose=job.purpose,
        client_id=job.client_id,
        status=job.status,
        cancel_requested=cancel_requested,
        target_epsilon=job.target_epsilon,
        target_delta=job.target_delta,
        epsilon_spent=job.epsilon_spent,
        delta_spent=job.delta_spent,
        progress=job.progress,
        metrics=job.metrics,
        n_subjects=job.n_subjects,
        consent_snapshot_at=job.consent_snapshot_at,
        release=job.release,
        error_code=job.error_code,
        error_message=job.error_message,
        retrain_of=job.retrain_of,
        flagged_people=flagged,
        flag_note=(
            f"trained on data of {flagged} {'person who has' if flagged == 1 else 'people who have'} since "
            "erased their data or withdrawn consent"
            if flagged
            else None
        ),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


# ---- helpers ------------------------------------------------------------------------------------------------


def current_policy() -> TrainingPolicy:
    policy = current_app.extensions.get(POLICY_EXTENSION)
    return policy if isinstance(policy, TrainingPolicy) else TrainingPolicy()


def _gateway() -> Any:
    """The gateway's contract functions (imported late: the gateway sits below training but loads heavier code)."""
    try:
        from governance.gateway import service as gateway_service
    except ImportError as exc:
        raise GatewayUnavailableError() from exc
    return gateway_service


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


# Manifest parts a model card may carry: public choices, never data-dependent counts (rows_in, subjects_in,
# k_achieved, bytes, ...), which would let two cards around one person's withdrawal reveal that person.
_PUBLIC_MANIFEST = ("format", "columns", "generalization", "pseudonyms", "release_mode", "unit_of_privacy")
_EXACT_METRIC_COUNTS = frozenset({"n_test", "users_evaluated"})


def public_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The gateway manifest without exact counts (the card publishes DP counts instead)."""
    out = {key: manifest[key] for key in _PUBLIC_MANIFEST if key in manifest}
    k = manifest.get("k_anonymity") or {}
    out["k_anonymity"] = {key: k[key] for key in ("k_required", "unit", "quasi_identifiers") if key in k}
    diversity = manifest.get("l_diversity")
    if isinstance(diversity, dict):
        out["l_diversity"] = {key: v for key, v in diversity.items() if key != "l_achieved"}
    out["counts"] = "not published exactly: see data.counts (differentially private)"
    return out


def public_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Held-out metrics without the exact held-out sizes (which are fractions of the exact N)."""
    return {
        key: public_metrics(value) if isinstance(value, dict) else value
        for key, value in metrics.items()
        if key not in _EXACT_METRIC_COUNTS
    }


def _spent_epsilon(epsilon: float, target: Decimal) -> Decimal:
    """The spend to commit: the accountant's epsilon rounded UP to 1e-6, never above what was reserved."""
    return min(Decimal(repr(float(epsilon))).quantize(EPSILON_QUANTUM, rounding=ROUND_CEILING), target)


def _actor_label(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


def _load(session: Session, job_id: uuid.UUID, principal: Principal | None = None) -> TrainingJob:
    job = session.get(TrainingJob, job_id)
    if job is None or (principal is not None and principal.kind == "client" and job.client_id != principal.id):
        raise TrainingJobNotFoundError()
    return job


def _refuse(refusals: list[Refusal]) -> TrainingRefusedError:
    return TrainingRefusedError(
        "; ".join(r.reason for r in refusals),
        code=refusals[0].code,
        extra={"reasons": [{"code": r.code, "reason": r.reason} for r in refusals]},
    )


def check_request(body: TrainingJobIn, policy: TrainingPolicy) -> list[Refusal]:
    """Every reason the request breaks policies/training.yaml or the DP rules knowable before data is built."""
    refusals: list[Refusal] = []
    pure = body.kind not in OPACUS_KINDS
    # N is not known until the data set is built: check epsilon and delta's form now, 1/(10 N) in the job.
    refusals += [
        r
        for r in check_privacy_parameters(
            epsilon=body.privacy.epsilon,
            delta=body.privacy.delta,
            n_examples=0,
            epsilon_cap=policy.epsilon_cap,
            delta_required=not pure,
        )
        if r.code != "too_few_examples"
    ]
    if body.privacy.epsilon <= policy.count_epsilon:
        refusals.append(
            Refusal(
                "epsilon_below_count_share",
                f"epsilon must exceed the {policy.count_epsilon:g} the model card's DP counts take from it",
            )
        )
    if not pure and body.privacy.delta > policy.max_delta:
        refusals.append(Refusal("delta_above_cap", f"delta exceeds the policy maximum of {policy.max_delta:g}"))
    t = body.training
    if t.epochs > policy.max_epochs:
        refusals.append(Refusal("epochs_above_cap", f"at most {policy.max_epochs} epochs"))
    if t.batch_size > policy.max_batch_size or t.max_physical_batch_size > policy.max_physical_batch_size:
        refusals.append(Refusal("batch_above_cap", "batch size above the policy maximum"))
    if body.kind == "recommender":
        if not body.items or len(body.items) < 2:
            refusals.append(Refusal("items_required", "a recommender needs the public item catalogue (2+ items)"))
        elif len(body.items) > policy.max_items or len(set(body.items)) != len(body.items):
            refusals.append(Refusal("items_invalid", f"items must be distinct, at most {policy.max_items}"))
        if (t.max_interactions or policy.max_interactions) > policy.max_interactions:
            refusals.append(
                Refusal("interactions_above_cap", f"at most {policy.max_interactions} interactions per person")
            )
        if not body.dataset.event_categories:
            refusals.append(Refusal("event_categories_required", "a recommender trains on events"))
    else:
        if body.label is None:
            refusals.append(Refusal("label_required", "this model kind needs a label (an event category)"))
        elif body.label.event_category not in body.dataset.event_categories:
            refusals.append(Refusal("label_not_in_dataset", "the label's event category must be in the dataset"))
    return refusals


# ---- submit, cancel, retrain --------------------------------------------------------------------------------


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
        raise _refuse(refusals)
    gateway = _gateway()
    spec = body.dataset.as_gateway_spec(purpose=body.purpose, kind=body.kind)
    gateway.check_spec(body.purpose, owner, spec)
    job_id = uuid.uuid4()
    epsilon, delta = _decimal(body.privacy.epsilon), _decimal(body.privacy.delta)
    reservation = gateway.reserve_budget(
        session,
        purpose=body.purpose,
        client_id=owner.id,
        epsilon=epsilon,
        delta=delta,
        reason=f"training:{body.kind}",
        ref=f"training_job:{job_id}",
    )
    from governance.jobs import enqueue

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
    return _view(session, job)


def preview_job(
    session: Session, body: TrainingJobIn, *, actor: Principal, assumed_people: int | None = None
) -> dict[str, Any]:
    """A dry run of `submit_job`: the (epsilon, delta) it would reserve, the budget before and after, and the
    expected noise (noise multiplier and its standard deviation on the gradient, at the caller's public
    ``assumed_people``), plus the DP counts the card will publish. Reads no personal data, reserves nothing,
    audited (`gateway.preview.run`, kind ``training``). Raises what `submit_job` raises before reserving."""
    from governance.training.preview import expected_training_noise

    policy = current_policy()
    refusals = check_request(body, policy)
    if refusals:
        raise _refuse(refusals)
    gateway = _gateway()
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
        epsilon=_decimal(body.privacy.epsilon),
        delta=_decimal(body.privacy.delta),
        accuracy=noise,
        unit_of_privacy="user" if user_level else "example (one row per person)",
        neighbouring="one person's whole (bounded) history added or removed"
        if user_level
        else "one person's example added or removed",
    )
    return preview.as_dict()


def retrain(session: Session, job_id: uuid.UUID, *, actor: Principal) -> TrainingJobView:
    """Submit the same request again: the new job builds its data from a fresh consent snapshot."""
    previous = _load(session, job_id, actor)
    body = TrainingJobIn.model_validate(previous.spec)
    if actor.kind == "client":
        if previous.client_id != actor.id:
            raise TrainingJobNotFoundError()
        return submit_job(session, body, actor=actor, retrain_of=previous.id)
    # Staff (the DPO, e.g. after an erasure): the new job is the client's, within the client's registration.
    from governance.access import service as access

    owner = access.client_principal(session, previous.client_id)
    if owner is None:
        raise TrainingRefusedError(
            "The client that owns this model is no longer active; its model cannot be retrained.",
            code="owner_inactive",
            status=409,
        )
    return submit_job(session, body, actor=actor, retrain_of=previous.id, owner=owner)


def _settle(session: Session, job: TrainingJob, *, epsilon: Decimal | None, delta: Decimal | None) -> None:
    """Commit the spend (or refund the whole reservation when nothing was spent) exactly once."""
    if job.budget_settled or job.reservation_id is None:
        return
    gateway = _gateway()
    if epsilon is None or epsilon <= 0:
        gateway.refund_budget(session, job.reservation_id)
        job.epsilon_spent, job.delta_spent = "0", "0"
    else:
        gateway.commit_budget(session, job.reservation_id, epsilon_spent=epsilon, delta_spent=delta or Decimal(0))
        job.epsilon_spent, job.delta_spent = str(epsilon), str(delta or Decimal(0))
    job.budget_settled = True


def cancel_job(session: Session, job_id: uuid.UUID, *, actor: Principal) -> TrainingJobView:
    """Cancel a queued job at once (its reservation is refunded) or ask a running one to stop (the worker then
    commits the epsilon actually spent and refunds the rest). Raises JobNotCancellableError when finished."""
    from governance.jobs import request_cancel

    job = _load(session, job_id, actor)
    if job.status in TERMINAL_STATUSES:
        raise JobNotCancellableError()
    queue_view = request_cancel(session, job.queue_job_id) if job.queue_job_id else None
    job.cancel_requested = True
    if job.status == "queued" and (queue_view is None or queue_view.status == "cancelled"):
        _settle(session, job, epsilon=None, delta=None)
        job.status, job.finished_at = "cancelled", utcnow()
    audit.record(
        session,
        actor=actor,
        action="training.job.cancel_requested",
        target=("training_job", job.id),
        details={"status": job.status},
    )
    session.flush()
    return _view(session, job)


# ---- reads --------------------------------------------------------------------------------------------------


def get_job(session: Session, job_id: uuid.UUID, *, actor: Principal | None = None) -> TrainingJobView:
    return _view(session, _load(session, job_id, actor))


def list_jobs(session: Session, *, actor: Principal, limit: int = 100) -> list[TrainingJobView]:
    query = select(TrainingJob).order_by(TrainingJob.created_at.desc()).limit(limit)
    if actor.kind == "client":
        query = query.where(TrainingJob.client_id == actor.id)
    return [_view(session, job) for job in session.scalars(query)]


def model_card(session: Session, job_id: uuid.UUID, *, actor: Principal | None = None) -> dict[str, Any]:
    job = _load(session, job_id, actor)
    artifact = session.get(TrainingArtifact, job.id)
    if artifact is None:
        raise ModelNotReadyError()
    card = dict(artifact.model_card)
    flagged = _flag_count(session, job.id)
    card["lineage_flags"] = {"people_erased_or_withdrawn_since": flagged}
    return card


def models_including(session: Session, subject_id: uuid.UUID) -> list[ModelSummary]:
    """Models whose training data included ``subject_id`` (contract: export, erasure and the dashboard)."""
    flagged_jobs = set(session.scalars(select(TrainingFlag.job_id).where(TrainingFlag.subject_id == subject_id)))
    jobs = session.scalars(
        select(TrainingJob)
        .join(TrainingLineage, TrainingLineage.job_id == TrainingJob.id)
        .where(TrainingLineage.subject_id == subject_id)
        .order_by(TrainingJob.created_at)
    )
    return [
        ModelSummary(j.id, j.kind, j.purpose, j.client_id, j.status, j.finished_at, j.id in flagged_jobs) for j in jobs
    ]


# ---- lineage flags ------------------------------------------------------------------------------------------


def flag_models_for_subject(session: Session, subject_id: uuid.UUID, *, reason: Literal["erased", "withdrawn"]) -> int:
    """Flag every model trained on ``subject_id``'s data; returns how many models carry the flag (idempotent)."""
    if reason not in ("erased", "withdrawn"):
        raise ValueError("reason must be 'erased' or 'withdrawn'")
    job_ids = list(session.scalars(select(TrainingLineage.job_id).where(TrainingLineage.subject_id == subject_id)))
    if not job_ids:
        return 0
    already = set(
        session.scalars(
            select(TrainingFlag.job_id).where(
                TrainingFlag.subject_id == subject_id, TrainingFlag.reason == reason, TrainingFlag.job_id.in_(job_ids)
            )
        )
    )
    new = [j for j in job_ids if j not in already]
    for job_id in new:
        session.add(TrainingFlag(job_id=job_id, subject_id=subject_id, reason=reason, flagged_at=utcnow()))
    if new:
        outbox.write(session, [_flag_message(subject_id, reason, new)])
        audit.record(
            session,
            actor=Principal.system("training"),
            action="training.model.flagged",
            target=("subject", subject_id),
            details={"reason": reason, "models": len(new), "model_ids": [str(j) for j in new][:50]},
        )
    session.flush()
    return len(job_ids)


def _flag_message(subject_id: uuid.UUID, reason: str, job_ids: Iterable[uuid.UUID]) -> outbox.OutboxEvent:
    """The broker's announcement of new model flags (the models' ids and why; the outbox relays it)."""
    return outbox.OutboxEvent(
        "training.model.flagged", subject_id, {"reason": reason, "model_ids": sorted(str(j) for j in job_ids)}
    )


def refresh_flags(session: Session, *, job_id: uuid.UUID | None = None) -> int:
    """Compare each model's lineage with consent's current ``check_many`` (and the vault's erasures); flag the
    people who have since withdrawn (or objected) or been erased. Returns the number of new flags."""
    from governance.consent import service as consent_service

    try:
        from governance.vault import service as vault_service
    except ImportError:  # pragma: no cover - vault is part of every deployment
        vault_service = None
    query = select(TrainingJob).where(TrainingJob.status == "succeeded")
    if job_id is not None:
        query = query.where(TrainingJob.id == job_id)
    added = 0
    new_flags: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = {}
    for job in list(session.scalars(query)):
        flagged = {
            (s, r)
            for s, r in session.execute(
                select(TrainingFlag.subject_id, TrainingFlag.reason).where(TrainingFlag.job_id == job.id)
            )
        }
        for batch in _batches(
            session.scalars(select(TrainingLineage.subject_id).where(TrainingLineage.job_id == job.id))
        ):
            erased = set(vault_service.erased_ids(session, batch)) if vault_service is not None else set()
            permissions = consent_service.check_many(session, [s for s in batch if s not in erased], job.purpose)
            for subject_id in batch:
                if subject_id in erased:
                    reason = "erased"
                elif not permissions[subject_id].allowed and permissions[subject_id].reason in WITHDRAWAL_REASONS:
                    reason = "withdrawn"
                else:
                    continue
                if (subject_id, reason) not in flagged:
                    session.add(TrainingFlag(job_id=job.id, subject_id=subject_id, reason=reason, flagged_at=utcnow()))
                    new_flags.setdefault((subject_id, reason), []).append(job.id)
                    added += 1
    if added:
        outbox.write(session, [_flag_message(s, r, ids) for (s, r), ids in new_flags.items()])
        audit.record(
            session,
            actor=Principal.system("training"),
            action="training.flags.refreshed",
            target=("training_job", job_id) if job_id else None,
            details={"new_flags": added},
        )
    session.flush()
    return added


def _batches(ids: Iterable[uuid.UUID], size: int = 1000) -> Iterator[list[uuid.UUID]]:
    batch: list[uuid.UUID] = []
    for item in ids:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---- downloads ----------------------------------------------------------------------------------------------


def _serializer() -> Any:
    from itsdangerous import URLSafeTimedSerializer

    keys = current_app.extensions["governance.keys"]
    return URLSafeTimedSerializer(keys.secret("training_download"), salt=DOWNLOAD_SALT)


def create_download_link(session: Session, job_id: uuid.UUID, *, actor: Principal) -> dict[str, Any]:
    """A signed link to the weights and the model card, valid ``download_link_minutes`` (policy)."""
    job = _load(session, job_id, actor)
    artifact = session.get(TrainingArtifact, job.id)
    if job.status != "succeeded" or artifact is None:
        raise ModelNotReadyError()
    token = _serializer().dumps({"j": str(job.id), "h": artifact.weights_sha256[:16]})
    minutes = current_policy().download_link_minutes
    audit.record(
        session,
        actor=actor,
        action="training.model.link_created",
        target=("training_job", job.id),
        details={"valid_minutes": minutes},
    )
    base = current_app.extensions["governance.settings"].base_url.rstrip("/")
    return {
        "weights_url": f"{base}/api/v1/training/downloads/{token}/weights",
        "model_card_url": f"{base}/api/v1/training/downloads/{token}/model-card",
        "expires_at": utcnow() + timedelta(minutes=minutes),
        "weights_sha256": artifact.weights_sha256,
    }


def read_download(session: Session, token: str, *, what: Literal["weights", "model_card"]) -> tuple[Any, str]:
    """Check a download token and return (weights bytes or model card, job id). Raises DownloadLinkInvalidError."""
    from itsdangerous import BadSignature, SignatureExpired

    try:
        data = _serializer().loads(token, max_age=current_policy().download_link_minutes * 60)
        job_id = uuid.UUID(str(data["j"]))
    except (SignatureExpired, BadSignature, KeyError, TypeError, ValueError):
        raise DownloadLinkInvalidError() from None
    job = session.get(TrainingJob, job_id)
    artifact = session.get(TrainingArtifact, job_id)
    if job is None or artifact is None or artifact.weights_sha256[:16] != data.get("h"):
        raise DownloadLinkInvalidError()
    audit.record(
        session,
        actor=ActorRef("client", job.client_id),
        action="training.model.downloaded",
        target=("training_job", job.id),
        details={"what": what},
    )
    if what == "weights":
        return artifact.weights, str(job.id)
    return model_card(session, job.id), str(job.id)


# ---- the job ------------------------------------------------------------------------------------------------


class _Throttle:
    """Poll cancellation at most every ``seconds`` while training, and renew the lease every ``renew_seconds``
    (an epoch may outlast the lease; losing it raises LeaseLostError, which stops this worker's run)."""

    def __init__(self, ctx: JobContext, seconds: float = 2.0, renew_seconds: float = 30.0) -> None:
        self.ctx, self.seconds, self.renew_seconds = ctx, seconds, renew_seconds
        self.last = self.last_renewal = time.monotonic()

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_renewal >= self.renew_seconds:
            self.last_renewal = now
            self.ctx.progress(None, None, "training")
        if now - self.last < self.seconds:
            return False
        self.last = now
        return self.ctx.cancelled()


def _finish_failed(session: Session, job: TrainingJob, *, code: str, message: str) -> None:
    _settle(session, job, epsilon=None, delta=None)
    job.status, job.finished_at = "failed", utcnow()
    job.error_code, job.error_message = code[:100], message[:500]
    audit.record(
        session,
        actor=Principal.system("training"),
        action="training.job.failed",
        target=("training_job", job.id),
        details={"error_code": job.error_code, "refunded": True},
    )


def run_training_job(ctx: JobContext) -> dict[str, Any]:
    """The ``training.run`` handler. Idempotent: a finished job returns its outcome; a job whose worker crashed
    starts again from a fresh data build under the same reservation; the last failed attempt refunds."""
    from governance.jobs import JobCancelledError
    from governance.jobs.worker import LeaseLostError

    job_id = uuid.UUID(ctx.payload["training_job_id"])
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
    try:
        return _run(ctx, job_id)
    except (JobCancelledError, TrainingRefusedError, LeaseLostError):
        raise  # finished on purpose, or another worker owns the job now: leave its row alone
    except DomainError as exc:  # refused by another domain (e.g. the spec no longer allowed): no retry
        with ctx.session() as session:
            job = session.get(TrainingJob, job_id)
            if job is not None and job.status not in TERMINAL_STATUSES:
                _finish_failed(session, job, code=exc.code, message=exc.message)
                session.commit()
        raise
    except Exception as exc:
        # A crash: retried by the queue; on the last attempt, fail cleanly and give the reservation back.
        with ctx.session() as session:
            job = session.get(TrainingJob, job_id)
            if job is not None and job.status not in TERMINAL_STATUSES:
                if ctx.attempt >= _max_attempts(session, job):
                    _finish_failed(session, job, code="training_crashed", message="training failed; budget refunded")
                else:
                    job.error_code = type(exc).__name__[:100]
                session.commit()
        raise


def _fail_now(ctx: JobContext, job_id: uuid.UUID, error: TrainingRefusedError) -> NoReturn:
    """Fail the job for good (no retry), refunding its reservation, and raise ``error``."""
    with ctx.session() as session:
        job = session.get(TrainingJob, job_id)
        if job is not None and job.status not in TERMINAL_STATUSES:
            _finish_failed(session, job, code=error.code, message=error.message)
            session.commit()
    raise error


def _max_attempts(session: Session, job: TrainingJob) -> int:
    from governance.jobs import get_job as get_queue_job

    return get_queue_job(session, job.queue_job_id).max_attempts if job.queue_job_id else 1


def _run(ctx: JobContext, job_id: uuid.UUID) -> dict[str, Any]:
    from governance.jobs import JobCancelledError
    from governance.training import features
    from governance.training.ml.dpsgd import TrainingHooks

    policy = current_policy()
    if ctx.cancelled():
        with ctx.session() as session:
            job = session.get(TrainingJob, job_id)
            assert job is not None
            _finish_cancelled(session, job, None)
            session.commit()
        raise JobCancelledError()

    # 1. the data, through the gateway (consent-filtered, minimized, pseudonymized, generalized, k-anonymous)
    started = time.perf_counter()
    with ctx.session() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        body = TrainingJobIn.model_validate(job.spec)
        purpose, client_id = job.purpose, job.client_id
    renew = _LeaseRenewer(ctx)
    with tempfile.TemporaryDirectory(prefix="training-data-") as workdir:
        as_of = utcnow()
        with ctx.session() as session:
            build = _gateway().build_dataset(
                session,
                purpose=purpose,
                client_id=client_id,
                spec=body.dataset.as_gateway_spec(purpose=purpose, kind=body.kind),
                as_of=as_of,
                output_dir=Path(workdir),
                session_factory=ctx.session,
                progress=lambda done, message: renew(),
            )
            session.rollback()
        parts = _build_parts(build, as_of)
        pseudonyms: set[str] = set()
        people = features.group_by_person(
            _collect_pseudonyms(_read_rows(build), pseudonyms), profile_fields=body.dataset.fields
        )
    data_seconds = time.perf_counter() - started

    # 2. the DP counts the card publishes (and the job's public dataset size), then the delta <= 1/(10 N) check
    from governance.training.ml.counts import noisy_counts

    counts = noisy_counts(
        [max(len(p.events), 1) for p in people],
        epsilon=policy.count_epsilon,
        max_rows_per_person=policy.count_max_rows_per_person,
    )
    n_people = len(people)
    refusals = check_privacy_parameters(
        epsilon=body.privacy.epsilon,
        delta=body.privacy.delta,
        n_examples=n_people,
        epsilon_cap=policy.epsilon_cap,
        min_examples=10,
        delta_required=body.kind in OPACUS_KINDS,
    )
    if refusals:
        _fail_now(ctx, job_id, _refuse(refusals))

    def on_progress(p: Any) -> None:
        with ctx.session() as session:
            row = session.get(TrainingJob, job_id)
            if row is not None:
                row.progress = {
                    "stage": "training",
                    "epoch": p.epoch,
                    "epochs": p.epochs,
                    "step": p.step,
                    "total_steps": p.total_steps,
                    "loss": None if p.loss != p.loss else round(p.loss, 6),
                    "epsilon_spent": p.epsilon_spent,
                }
                session.commit()
        ctx.progress(p.epoch, p.epochs, f"epoch {p.epoch}/{p.epochs}")

    settings = current_app.extensions["governance.settings"]
    throttle = _Throttle(ctx, seconds=settings.get_float("TRAINING_CANCEL_POLL_SECONDS", 1.0))
    hooks = TrainingHooks(progress=on_progress, should_stop=throttle.should_stop)
    train_started = time.perf_counter()
    try:
        model = _train(body, people, policy, hooks, public_people=counts.people)
    except PrivacyParametersRefusedError as exc:  # e.g. delta > 1/(10 N_train) after the held-out split
        _fail_now(ctx, job_id, _refuse(exc.refusals))
    except ValueError as exc:  # deterministic (unusable data): a retry would fail the same way
        log.warning("training data unusable", extra={"training_job_id": str(job_id), "error_type": "ValueError"})
        _fail_now(
            ctx,
            job_id,
            TrainingRefusedError("The training data cannot be used for this model.", code="training_data_unusable"),
        )
        raise AssertionError("unreachable") from exc
    train_seconds = time.perf_counter() - train_started
    model.timings = {**model.timings, "data_seconds": data_seconds, "job_training_seconds": train_seconds}

    # 3. settle the budget and store the outcome, in one transaction
    with ctx.session() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        if job.status in TERMINAL_STATUSES:  # another worker finished it after our lease ran out
            return {"status": job.status}
        if model.stopped_early:
            _finish_cancelled(session, job, model, count_epsilon=policy.count_epsilon)
            session.commit()
            raise JobCancelledError()
        _finish_succeeded(session, job, model, parts, pseudonyms, body, counts)
        session.commit()
        return {"status": "succeeded", "epsilon_spent": job.epsilon_spent, "n_subjects": job.n_subjects}


class _LeaseRenewer:
    """Renew the job's lease while the gateway builds (it reports progress per chunk), at most every 10 s."""

    def __init__(self, ctx: JobContext, seconds: float = 10.0) -> None:
        self.ctx, self.seconds, self.last = ctx, seconds, time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last >= self.seconds:
            self.last = time.monotonic()
            self.ctx.progress(None, None, "building the training data")


@dataclass
class _BuildParts:
    subject_ids: list[uuid.UUID]
    release_id: Any
    manifest: dict[str, Any]
    snapshot_at: datetime


def _build_parts(build: Any, as_of: datetime) -> _BuildParts:
    """The lineage and provenance of the gateway's DatasetBuild (governance.gateway.service)."""
    return _BuildParts(
        subject_ids=list(build.subject_ids),
        release_id=getattr(build, "release_id", None),
        manifest=dict(build.manifest),
        snapshot_at=build.consent_snapshot_at or as_of,
    )


def _read_rows(build: Any) -> Iterator[dict[str, Any]]:
    """Stream the build's JSON-lines file (the training job asks for jsonl)."""
    if build.format != "jsonl":
        raise GatewayUnavailableError("The training data must be built as jsonl.")
    with Path(build.path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _collect_pseudonyms(rows: Iterable[dict[str, Any]], into: set[str]) -> Iterator[dict[str, Any]]:
    """Pass rows through, remembering their pseudonyms (the artifact check makes sure none reaches the weights)."""
    from governance.training.features import PSEUDONYM_COLUMNS

    for row in rows:
        for column in PSEUDONYM_COLUMNS:
            if row.get(column) is not None:
                into.add(str(row[column]))
        yield row


def _train(
    body: TrainingJobIn, people: list[Any], policy: TrainingPolicy, hooks: Any, *, public_people: int
) -> TrainedModel:
    """Train with the job's epsilon minus the card counts' share, on the public (DP) dataset size."""
    from governance.training import features
    from governance.training.ml.dpsgd import DPSGDConfig

    t = body.training
    epsilon = body.privacy.epsilon - policy.count_epsilon
    if body.kind == "recommender":
        from governance.training.ml.recommender import train_recommender

        histories = features.interaction_histories(people, items=body.items or [])
        config = DPSGDConfig(
            target_epsilon=epsilon,
            target_delta=body.privacy.delta,
            epochs=t.epochs,
            batch_size=t.batch_size,
            max_grad_norm=t.max_grad_norm,
            learning_rate=t.learning_rate or 0.05,
            max_physical_batch_size=t.max_physical_batch_size,
            seed=t.seed,
            public_examples=max(public_people, 1),
        )
        return train_recommender(
            histories,
            n_items=len(body.items or []),
            config=config,
            max_interactions=t.max_interactions or policy.max_interactions,
            embedding_dim=t.embedding_dim,
            holdout_fraction=t.holdout_fraction,
            k=t.k,
            epsilon_cap=policy.epsilon_cap,
            hooks=hooks,
        )
    assert body.label is not None
    arrays = features.classification_arrays(
        people,
        profile_fields=body.dataset.fields,
        count_categories=body.dataset.event_categories,
        label_category=body.label.event_category,
        buckets=policy.feature_buckets,
    )
    if body.kind == "classifier":
        from governance.training.ml.classifier import train_classifier

        config = DPSGDConfig(
            target_epsilon=epsilon,
            target_delta=body.privacy.delta,
            epochs=t.epochs,
            batch_size=t.batch_size,
            max_grad_norm=t.max_grad_norm,
            learning_rate=t.learning_rate or 0.02,
            max_physical_batch_size=t.max_physical_batch_size,
            seed=t.seed,
            public_examples=max(round(public_people * (1 - t.holdout_fraction)), 1),
        )
        return train_classifier(
            arrays.features,
            arrays.labels,
            n_classes=2,
            config=config,
            hidden_units=t.hidden_units,
            test_fraction=t.holdout_fraction,
            epsilon_cap=policy.epsilon_cap,
            hooks=hooks,
        )
    if body.kind == "dpl_logistic":
        from governance.training.ml.dpl import train_dpl_logistic

        return train_dpl_logistic(
            arrays.features,
            arrays.labels,
            epsilon=epsilon,
            data_norm=arrays.data_norm,
            seed=t.seed,
            test_fraction=t.holdout_fraction,
            epsilon_cap=policy.epsilon_cap,
        )
    from governance.training.ml.dpl import train_dpl_naive_bayes

    width = arrays.features.shape[1]
    return train_dpl_naive_bayes(
        arrays.features,
        arrays.labels,
        epsilon=epsilon,
        lower=[0.0] * width,
        upper=[1.0] * width,
        n_classes=2,
        seed=t.seed,
        test_fraction=t.holdout_fraction,
        epsilon_cap=policy.epsilon_cap,
    )


def _finish_cancelled(
    session: Session, job: TrainingJob, model: TrainedModel | None, *, count_epsilon: float = 0.0
) -> None:
    """Commit the epsilon the completed steps actually spent plus the DP counts' share (none if training never
    started), refund the rest."""
    if model is None or model.privacy.get("steps", 0) == 0:
        _settle(session, job, epsilon=None, delta=None)
    else:
        spent = _spent_epsilon(model.privacy["epsilon"] + count_epsilon, Decimal(job.target_epsilon))
        _settle(session, job, epsilon=spent, delta=Decimal(job.target_delta))
        job.privacy_report = model.privacy
    job.status, job.finished_at = "cancelled", utcnow()
    audit.record(
        session,
        actor=Principal.system("training"),
        action="training.job.cancelled",
        target=("training_job", job.id),
        details={"epsilon_spent": job.epsilon_spent, "delta_spent": job.delta_spent},
    )


def _finish_succeeded(
    session: Session,
    job: TrainingJob,
    model: TrainedModel,
    parts: _BuildParts,
    pseudonyms: set[str],
    body: TrainingJobIn,
    counts: NoisyCounts,
) -> None:
    from governance.training.ml.artifacts import weights_to_bytes
    from governance.training.ml.report import model_card as build_card

    subject_ids = {s if isinstance(s, uuid.UUID) else uuid.UUID(str(s)) for s in parts.subject_ids}
    forbidden = pseudonyms | {str(s) for s in subject_ids}
    weights = weights_to_bytes(model.weights, architecture=model.architecture, kind=model.kind, forbidden=forbidden)
    pure = body.kind not in OPACUS_KINDS
    # basic composition: the training's epsilon plus the card counts' share, within the reservation
    spent = _spent_epsilon(model.privacy["epsilon"] + counts.epsilon, Decimal(job.target_epsilon))
    delta = Decimal(0) if pure else Decimal(job.target_delta)
    _settle(session, job, epsilon=spent, delta=delta)
    release = {
        "release_id": str(parts.release_id) if parts.release_id is not None else None,
        "manifest": public_manifest(parts.manifest),
        "dataset_spec": body.dataset.as_gateway_spec(purpose=job.purpose, kind=job.kind),
    }
    card = build_card(
        model,
        dataset=release,
        consent_snapshot_at=parts.snapshot_at,
        counts=counts.as_card(),
        purpose=job.purpose,
        label=body.label.event_category if body.label else None,
    )
    card["metrics"] = public_metrics(model.metrics)
    card["training_job_id"] = str(job.id)
    card["budget"] = {"epsilon_committed": job.epsilon_spent, "delta_committed": job.delta_spent}
    session.add(
        TrainingArtifact(
            job_id=job.id, weights=weights, weights_sha256=hashlib.sha256(weights).hexdigest(), model_card=card
        )
    )
    ids = sorted(subject_ids)
    for start in range(0, len(ids), LINEAGE_BATCH):
        session.add_all(TrainingLineage(job_id=job.id, subject_id=s) for s in ids[start : start + LINEAGE_BATCH])
        session.flush()
    job.release = release
    job.consent_snapshot_at = parts.snapshot_at
    job.n_subjects = counts.people  # the DP count: the exact number is not shown to the client either
    job.metrics = public_metrics(model.metrics)
    job.privacy_report = model.privacy
    job.timings = model.timings
    job.progress = {**(job.progress or {}), "stage": "done"}
    job.status, job.finished_at = "succeeded", utcnow()
    job.error_code = None
    audit.record(
        session,
        actor=Principal.system("training"),
        action="training.job.succeeded",
        target=("training_job", job.id),
        details={
            "kind": job.kind,
            "epsilon_spent": job.epsilon_spent,
            "delta_spent": job.delta_spent,
            "n_subjects": len(subject_ids),  # exact, for auditors only (the card and the job show the DP count)
            "release_id": release["release_id"],
        },
    )


def reconcile_orphaned_jobs(session: Session) -> int:
    """Fail (and refund) training jobs whose queue job ended without the handler finishing them, e.g. a worker
    that died on the last allowed attempt. Returns how many were reconciled."""
    from governance.jobs import get_job as get_queue_job

    reconciled = 0
    open_jobs = session.scalars(
        select(TrainingJob).where(TrainingJob.status.in_(("queued", "running")), TrainingJob.queue_job_id.is_not(None))
    )
    for job in list(open_jobs):
        queue_status = get_queue_job(session, job.queue_job_id).status
        if queue_status == "cancelled":
            _finish_cancelled(session, job, None)
        elif queue_status == "failed":
            _finish_failed(session, job, code="worker_lost", message="the worker stopped; budget refunded")
        else:
            continue
        reconciled += 1
    session.flush()
    return reconciled
