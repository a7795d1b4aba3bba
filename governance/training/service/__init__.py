"""Training jobs as a service: submit (policy and budget first), preview, cancel, retrain, read, download, and the
lineage flags other domains call (docs/contracts.md). The job itself runs in governance.training.runner.

Functions taking a ``session`` never commit: the route, the job handler (governance.training.tasks) or the
runner owns the transaction. Modules by concern:

- ``jobs``: submit, preview, retrain, cancel, get and list jobs;
- ``policy``: the policy in force and every reason a request breaks it;
- ``budget``: the reservation through the gateway's ledger, settled exactly once;
- ``outcomes``: how a job ends (succeeded, cancelled, failed) and the reconciliation of orphaned jobs;
- ``lineage``: which models included whom, and the flags after erasure or withdrawal;
- ``reports``: the model card (what it may publish) and ``downloads``: its signed links;
- ``views``: what callers see of a job.
"""

from __future__ import annotations

from governance.training.service.downloads import create_download_link, read_download
from governance.training.service.jobs import (
    JOB_KIND,
    cancel_job,
    get_job,
    list_jobs,
    preview_job,
    retrain,
    submit_job,
)
from governance.training.service.lineage import flag_models_for_subject, models_including, refresh_flags
from governance.training.service.outcomes import reconcile_orphaned_jobs
from governance.training.service.policy import check_request, current_policy
from governance.training.service.reports import model_card, public_manifest, public_metrics
from governance.training.service.views import ModelSummary, TrainingJobView

__all__ = [
    "JOB_KIND",
    "ModelSummary",
    "TrainingJobView",
    "cancel_job",
    "check_request",
    "create_download_link",
    "current_policy",
    "flag_models_for_subject",
    "get_job",
    "list_jobs",
    "model_card",
    "models_including",
    "preview_job",
    "public_manifest",
    "public_metrics",
    "read_download",
    "reconcile_orphaned_jobs",
    "refresh_flags",
    "retrain",
    "submit_job",
]
