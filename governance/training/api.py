"""The training API (/api/v1/training): submit, list, watch, cancel, retrain, model card, download links.

Routes parse, authorize, call the service and respond; the transaction is theirs.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from flask import Response, jsonify

from governance.access import service as access_service
from governance.access.decorators import current_principal, public, requires, resource_of
from governance.access.principals import Resource
from governance.api import ErrorBody, api_blueprint, file_response, json_object_response
from governance.db import get_session, transaction
from governance.gateway.schemas import PreviewOut  # the shared preview hook's answer (gateway/preview.py)
from governance.training import service
from governance.training.models import TrainingJob
from governance.training.schemas import (
    DownloadLinkOut,
    JobPath,
    TokenPath,
    TrainingJobIn,
    TrainingJobList,
    TrainingJobOut,
    TrainingPreviewIn,
)

bp = api_blueprint("training", description="Differentially private training jobs, models and privacy reports")
MODEL_CARD = json_object_response(description="the model card (privacy report, data, lineage flags)")


@resource_of("TrainingJob")
def _job_resource(view_args: dict[str, Any]) -> Resource:
    """The job as a policy resource (its owner and purpose); an unknown or malformed id owns nothing."""
    try:
        job_id = uuid.UUID(str(view_args.get("job_id")))
    except ValueError:
        return Resource(type="TrainingJob", id="invalid", owner_client_id="")
    job = get_session().get(TrainingJob, job_id)
    if job is None:
        return Resource(type="TrainingJob", id=str(job_id), owner_client_id="")
    return Resource(type="TrainingJob", id=str(job.id), purpose=job.purpose, owner_client_id=job.client_id)


def _out(view: service.TrainingJobView) -> dict[str, Any]:
    return TrainingJobOut.model_validate(asdict(view)).model_dump(mode="json")


@bp.post("/training/jobs", responses={202: TrainingJobOut})
@requires("training.submit")
def submit(body: TrainingJobIn) -> tuple[dict[str, Any], int]:
    """Submit a training job: checked against policy and budget (cost reserved), then queued."""
    principal = current_principal()
    # The purpose is known only now: the client must be registered for it.
    access_service.authorize(
        principal, "training.submit", Resource(type="Purpose", id=body.purpose, purpose=body.purpose)
    )
    with transaction(get_session()) as session:
        view = service.submit_job(session, body, actor=principal)
    return _out(view), 202


@bp.post("/training/jobs/preview", responses={200: PreviewOut})
@requires("training.submit")
def preview(body: TrainingPreviewIn) -> tuple[dict[str, Any], int]:
    """What the job would charge, the budget left before and after, and the expected noise; nothing is spent."""
    principal = current_principal()
    access_service.authorize(
        principal, "training.submit", Resource(type="Purpose", id=body.purpose, purpose=body.purpose)
    )
    with transaction(get_session()) as session:
        out = service.preview_job(session, body.job(), actor=principal, assumed_people=body.assumed_people)
    return out, 200


@bp.get("/training/jobs", responses={200: TrainingJobList})
@requires("training.read")
def list_jobs() -> dict[str, Any]:
    views = service.list_jobs(get_session(), actor=current_principal())
    return {"jobs": [_out(v) for v in views]}


@bp.get("/training/jobs/<job_id>", responses={200: TrainingJobOut})
@requires("training.read", resource=_job_resource)
def get_job(path: JobPath) -> dict[str, Any]:
    """Status and progress (epoch, loss, epsilon spent so far), metrics, lineage flags."""
    return _out(service.get_job(get_session(), path.job_id, actor=current_principal()))


@bp.post("/training/jobs/<job_id>/cancel", responses={200: TrainingJobOut})
@requires("training.cancel", resource=_job_resource)
def cancel(path: JobPath) -> dict[str, Any]:
    with transaction(get_session()) as session:
        view = service.cancel_job(session, path.job_id, actor=current_principal())
    return _out(view)


@bp.post("/training/jobs/<job_id>/retrain", responses={202: TrainingJobOut})
@requires("training.retrain", resource=_job_resource)
def retrain(path: JobPath) -> tuple[dict[str, Any], int]:
    """The same job again on a fresh consent snapshot (a new job, a new reservation)."""
    with transaction(get_session()) as session:
        view = service.retrain(session, path.job_id, actor=current_principal())
    return _out(view), 202


@bp.get("/training/jobs/<job_id>/model-card", responses={200: MODEL_CARD, 409: ErrorBody})
@requires("training.read", resource=_job_resource)
def model_card(path: JobPath) -> Response:
    return jsonify(service.model_card(get_session(), path.job_id, actor=current_principal()))


@bp.post("/training/jobs/<job_id>/download-link", responses={201: DownloadLinkOut})
@requires("training.download", resource=_job_resource)
def download_link(path: JobPath) -> tuple[dict[str, Any], int]:
    with transaction(get_session()) as session:
        link = service.create_download_link(session, path.job_id, actor=current_principal())
    return DownloadLinkOut.model_validate(link).model_dump(mode="json"), 201


@bp.get(
    "/training/downloads/<token>/weights", responses={200: file_response("application/octet-stream"), 410: ErrorBody}
)
@public("an expiring link signed by the service, created by the client that owns the model")
def download_weights(path: TokenPath) -> Response:
    with transaction(get_session()) as session:
        weights, job_id = service.read_download(session, path.token, what="weights")
    response = Response(weights, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="model-{job_id}.safetensors"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/training/downloads/<token>/model-card", responses={200: MODEL_CARD, 410: ErrorBody})
@public("an expiring link signed by the service, created by the client that owns the model")
def download_model_card(path: TokenPath) -> Response:
    with transaction(get_session()) as session:
        card, _ = service.read_download(session, path.token, what="model_card")
    response = jsonify(card)
    response.headers["Cache-Control"] = "no-store"
    return response
