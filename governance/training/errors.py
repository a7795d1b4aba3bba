"""The training domain's errors (all DomainError: the app maps them to JSON with a stable code)."""

from __future__ import annotations

from governance.errors import ConflictError, DomainError, GoneError, NotFoundError

__all__ = [
    "DownloadLinkInvalidError",
    "GatewayUnavailableError",
    "JobNotCancellableError",
    "ModelNotReadyError",
    "TrainingJobNotFoundError",
    "TrainingRefusedError",
]


class TrainingJobNotFoundError(NotFoundError):
    """No training job with this id (or it belongs to another client)."""

    code = "training_job_not_found"
    default_message = "No such training job."


class TrainingRefusedError(DomainError):
    """The request breaks a privacy rule (epsilon cap, delta > 1/(10 N), limits of policies/training.yaml).

    ``extra["reasons"]`` lists every reason as ``{"code", "reason"}``; the error's code is the first reason's.
    """

    status = 422
    code = "training_refused"
    default_message = "The training request is refused."


class JobNotCancellableError(ConflictError):
    code = "training_job_finished"
    default_message = "The training job has already finished."


class ModelNotReadyError(ConflictError):
    code = "model_not_ready"
    default_message = "The job has no trained model (it has not succeeded)."


class DownloadLinkInvalidError(GoneError):
    code = "download_link_invalid"
    default_message = "The download link is invalid or has expired; ask for a new one."


class GatewayUnavailableError(DomainError):
    """The data gateway's service functions (docs/contracts.md) are not available in this deployment."""

    status = 503
    code = "gateway_unavailable"
    default_message = "The data gateway is not available."
