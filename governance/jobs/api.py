"""Job status for API callers: progress of exports, releases, rotations and training jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from governance.api import ResponseModel, api_blueprint
from governance.core.principals import Resource
from governance.core.routes import requires, resource_of
from governance.db import get_session
from governance.jobs import service
from governance.jobs.models import Job

bp = api_blueprint("jobs", description="Durable background jobs and their progress")


class JobPath(BaseModel):
    job_id: uuid.UUID


class JobOut(ResponseModel):
    id: uuid.UUID
    kind: str
    status: str
    attempts: int
    progress_done: int | None
    progress_total: int | None
    progress_message: str | None
    result: dict[str, Any] | None
    error_code: str | None
    created_at: datetime
    finished_at: datetime | None


@resource_of("Job")
def job_resource(view_args: dict[str, Any]) -> Resource:
    """A job belongs to whoever created it (`client:<id>`, `subject:<uuid>`, `staff:<id>`)."""
    try:
        job_id = uuid.UUID(str(view_args.get("job_id")))
    except ValueError:
        return Resource(type="Job", id="invalid")
    job = get_session().get(Job, job_id)
    owner = (job.created_by or "") if job else ""
    kind, _, owner_id = owner.partition(":")
    subject = None
    if kind == "subject":
        try:
            subject = uuid.UUID(owner_id)
        except ValueError:
            subject = None
    return Resource(
        type="Job",
        id=str(job_id),
        owner_subject_id=subject,
        owner_client_id=owner_id if kind == "client" else None,
    )


@bp.get("/jobs/<job_id>", responses={200: JobOut})
@requires("job.read", resource=job_resource)
def get_job(path: JobPath) -> dict[str, Any]:
    view = service.get_job(get_session(), path.job_id)
    return JobOut.model_validate(view).model_dump(mode="json")
