"""Releases and models: the newest dataset releases and the trained models, with why a training job failed."""

from __future__ import annotations

import json
from typing import Any

from governance.access.decorators import current_principal, requires
from governance.db import get_session
from governance.gateway import service as gateway
from governance.training import service as training
from governance.web import present
from governance.web.blueprint import bp
from governance.web.console.chrome import may, render

RELEASES_SHOWN = 100


def _release_row(release: Any) -> dict[str, Any]:
    mode = gateway.release_mode_info(release)
    facts = [
        ("Kind of data", mode.label),
        ("Status", release.status),
        ("Format", release.format),
        ("Pseudonyms", release.pseudonym_mode),
        ("k required / achieved", f"{release.k_required} / {release.k_achieved or '—'}"),
        ("People / rows released", f"{release.subjects_released or 0} / {release.rows_released or 0}"),
        ("Rows suppressed for k-anonymity", release.rows_suppressed or 0),
        ("Consent snapshot", release.consent_snapshot_at.isoformat() if release.consent_snapshot_at else "—"),
        ("Policy version", release.policy_version),
        ("SHA-256", release.checksum_sha256 or "—"),
    ]
    if release.error_code:
        facts.append(("Error", release.error_code))
    return {
        "short_id": str(release.id)[:8],
        "anchor": f"release-{release.id}",
        "k_required": release.k_required,
        "k_achieved": release.k_achieved,
        "people": release.subjects_released or 0,
        "suppressed": release.rows_suppressed or 0,
        "title": f"Release {str(release.id)[:8]}",
        "data_classification": mode.data_classification,
        "kind_of_data": mode.label,
        "purpose": release.purpose,
        "client": release.client_id,
        "at": release.created_at,
        "status": release.status,
        "facts": facts,
        "manifest": json.dumps(release.manifest, indent=2, default=str) if release.manifest else None,
    }


def _model_row(session: Any, job: Any) -> dict[str, Any]:
    report = None
    if job.status == "succeeded":
        report = json.dumps(training.model_card(session, job.id).get("privacy"), indent=2, default=str)
    return {
        "failure": _training_failure(job) if job.status == "failed" else None,
        "anchor": f"model-{job.id}",
        "epsilon": present.decimal_text(job.epsilon_spent) if job.epsilon_spent else "—",
        "people": job.n_subjects or "—",
        "title": f"{present.MODEL_KIND_LABELS.get(job.kind, present.humanize(job.kind))} {str(job.id)[:8]}",
        "purpose": job.purpose,
        "at": job.finished_at or job.created_at,
        "status": job.status,
        "flagged": job.flagged_people > 0,
        "facts": [
            ("Client", job.client_id),
            ("Target ε / δ", f"{job.target_epsilon} / {job.target_delta}"),
            ("ε / δ spent", f"{job.epsilon_spent or '—'} / {job.delta_spent or '—'}"),
            ("People in training data", job.n_subjects or "—"),
            ("People erased or withdrawn since", job.flagged_people),
            ("Retrain of", str(job.retrain_of)[:8] if job.retrain_of else "—"),
        ]
        + ([("Note", job.flag_note)] if job.flag_note else []),
        "report": report,
    }


@bp.get("/console/releases")
@requires("dataset.read")
def console_releases() -> str:
    """The newest releases (from the gateway's own table, one query) and the trained models."""

    session = get_session()
    releases = [_release_row(release) for release in gateway.recent_releases(session, RELEASES_SHOWN)]
    jobs = training.list_jobs(session, actor=current_principal()) if may("training.read") else []
    models = [_model_row(session, job) for job in jobs]
    return render(
        "web/console/releases.html",
        "web.console_releases",
        releases=releases,
        models=models,
        flagged_count=sum(m["flagged"] for m in models),
    )


#: What staff can do about each stable reason a training job fails with (the job's `error_code`).
TRAINING_FAILURE_ADVICE = {
    "too_few_examples": "Too few people consented to this purpose for the model to be trained privately. Wait "
    "until more people have consented, or train with fewer required examples if the policy allows it.",
    "delta_too_large": "δ is too large for the number of people in the data. Submit the job again with a "
    "smaller δ (at most 1 divided by 10 times the number of people).",
    "delta_invalid": "δ is not usable for this model kind. Submit again with a δ between 0 and 1.",
    "delta_not_zero": "This model kind gives pure ε-privacy: submit again with δ = 0.",
    "epsilon_invalid": "ε must be a positive number. Submit again with a valid ε.",
    "epsilon_above_cap": "ε is above the policy's cap. Submit again with a smaller ε.",
    "epsilon_below_count_share": "ε must be larger than the share the model card's counts use. Submit again "
    "with a larger ε.",
    "training_data_unusable": "The consented data cannot train this model (for example, a label that no one "
    "has). Check the label and event categories, then submit again.",
    "training_crashed": "Training failed on every attempt; the privacy budget was given back. Check the job "
    "worker's logs for the job id, fix the cause, then retrain.",
    "worker_lost": "The job worker stopped while training; the privacy budget was given back. Make sure a job "
    "worker is running, then retrain.",
    "owner_inactive": "The client that owns this model is disabled. Re-enable the client or retrain for "
    "another client.",
    "budget_exhausted": "The purpose's privacy budget is used up for this window. Wait for the next budget "
    "window (see Budgets) or ask for a smaller ε.",
    "gateway_unavailable": "The data gateway could not build the training data. Try again later; if it "
    "persists, check the job worker's logs.",
}
GENERIC_TRAINING_ADVICE = "Check the job worker's logs for this job id, fix the cause, then retrain."


def _training_failure(job: Any) -> dict[str, str]:
    """Why a training job failed, as its stable code, the service's message and what to do next."""
    code = job.error_code or "unknown"
    return {
        "code": code,
        "message": job.error_message or "The job failed without a recorded reason.",
        "advice": TRAINING_FAILURE_ADVICE.get(code, GENERIC_TRAINING_ADVICE),
    }
