"""Durable jobs: plumbing that knows no domain. Domains enqueue in their own transaction and register handlers."""

from governance.jobs.registry import register, register_periodic
from governance.jobs.service import JobView, batch_part, deferred, enqueue, find_by_dedupe_key, get_job, request_cancel
from governance.jobs.worker import JobCancelledError, JobContext, PermanentJobError

__all__ = [
    "JobCancelledError",
    "JobContext",
    "JobView",
    "PermanentJobError",
    "batch_part",
    "deferred",
    "enqueue",
    "find_by_dedupe_key",
    "get_job",
    "register",
    "register_periodic",
    "request_cancel",
]
