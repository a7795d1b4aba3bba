"""Signed, expiring links to a model's weights and card; every download is audited."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Literal

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef, Principal
from governance.db import utcnow
from governance.training.errors import DownloadLinkInvalidError, ModelNotReadyError
from governance.training.models import TrainingArtifact, TrainingJob
from governance.training.service.policy import current_policy
from governance.training.service.reports import model_card
from governance.training.service.views import load_job

__all__ = ["DOWNLOAD_SALT", "create_download_link", "read_download"]

DOWNLOAD_SALT = "governance.training.download"


def _serializer() -> URLSafeTimedSerializer:
    keys = current_app.extensions["governance.keys"]
    return URLSafeTimedSerializer(keys.secret("training_download"), salt=DOWNLOAD_SALT)


def create_download_link(session: Session, job_id: uuid.UUID, *, actor: Principal) -> dict[str, Any]:
    """A signed link to the weights and the model card, valid ``download_link_minutes`` (policy)."""
    job = load_job(session, job_id, actor)
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
