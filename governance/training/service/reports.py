"""The model card: what it may publish of the gateway's manifest and the held-out metrics (never exact counts),
how a finished job's card is put together, and reading it back with its current lineage flags."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from governance.access.principals import Principal
from governance.training.errors import ModelNotReadyError
from governance.training.ml.report import model_card as build_card
from governance.training.models import TrainingArtifact, TrainingJob
from governance.training.schemas import TrainingJobIn
from governance.training.service.views import flag_count, load_job

if TYPE_CHECKING:  # pragma: no cover - typing only
    from governance.training.ml.counts import NoisyCounts
    from governance.training.ml.result import TrainedModel

__all__ = ["finished_card", "model_card", "public_manifest", "public_metrics"]

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


def finished_card(
    job: TrainingJob,
    model: TrainedModel,
    *,
    release: dict[str, Any],
    snapshot_at: datetime,
    body: TrainingJobIn,
    counts: NoisyCounts,
) -> dict[str, Any]:
    """The card of a job that just succeeded (its budget already settled: the card names what was committed)."""
    card = build_card(
        model,
        dataset=release,
        consent_snapshot_at=snapshot_at,
        counts=counts.as_card(),
        purpose=job.purpose,
        label=body.label.event_category if body.label else None,
    )
    card["metrics"] = public_metrics(model.metrics)
    card["training_job_id"] = str(job.id)
    card["budget"] = {"epsilon_committed": job.epsilon_spent, "delta_committed": job.delta_spent}
    return card


def model_card(session: Session, job_id: uuid.UUID, *, actor: Principal | None = None) -> dict[str, Any]:
    """The stored card plus the model's current lineage flags. Raises ModelNotReadyError before success."""
    job = load_job(session, job_id, actor)
    artifact = session.get(TrainingArtifact, job.id)
    if artifact is None:
        raise ModelNotReadyError()
    card = dict(artifact.model_card)
    flagged = flag_count(session, job.id)
    card["lineage_flags"] = {"people_erased_or_withdrawn_since": flagged}
    return card
