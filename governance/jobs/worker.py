"""The job worker: claims due jobs, runs their handlers with a context, records the outcome.

Run as `flask --app wsgi governance worker` (one process per worker in production), or as a thread inside the
development server. It imports no domain: it runs whatever handlers the domains registered.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from flask import Flask
from prometheus_client import Counter

from governance.db import Database
from governance.errors import DomainError, error_frames
from governance.jobs import service
from governance.jobs.context import JobCancelledError, JobContext, LeaseLostError, PermanentJobError
from governance.jobs.leases import Claim
from governance.jobs.registry import handler_for, periodic_specs

# The context and its exceptions are re-exported for `governance.jobs` and the callers that import them from here.
__all__ = [
    "JobCancelledError",
    "JobContext",
    "LeaseLostError",
    "PermanentJobError",
    "Worker",
    "default_worker_id",
    "drain",
    "start_background_worker",
]

log = logging.getLogger("governance.jobs")

JOBS_FINISHED = Counter("governance_jobs_finished_total", "Job attempts by kind and outcome", ["kind", "outcome"])


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class Worker:
    def __init__(
        self,
        app: Flask,
        *,
        worker_id: str | None = None,
        kinds: list[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.db: Database = app.extensions["governance.db"]
        self.worker_id = worker_id or default_worker_id()
        self.kinds = kinds
        self._clock = clock
        self._last_schedule: float | None = None  # not 0.0: monotonic time starts near 0 at boot

    def schedule_periodic(self) -> None:
        now = self._clock()
        if self._last_schedule is not None and now - self._last_schedule < 5:
            return
        self._last_schedule = now
        for spec in periodic_specs():
            with self.db.session() as session:
                service.enqueue_periodic(session, spec.kind, spec.every_seconds, spec.payload)

    def run_once(self) -> bool:
        """Claim and run at most one job. Returns whether a job was claimed."""
        with self.db.session() as session:
            claim = service.claim_next(session, worker_id=self.worker_id, kinds=self.kinds)
        if claim is None:
            return False
        self._run(claim)
        return True

    def _run(self, claim: Claim) -> None:
        spec = handler_for(claim.kind)
        extra = {"job_id": str(claim.job_id), "job_kind": claim.kind, "attempt": claim.attempt}
        with self.app.app_context(), self.db.session() as session:
            if spec is None:
                service.fail(session, claim, error_code="unknown_job_kind", retryable=False)
                JOBS_FINISHED.labels(claim.kind, "failed").inc()
                log.error("no handler for job kind", extra=extra)
                return
            context = JobContext(self.app, self.db, claim)
            try:
                result = spec.handler(context)
            except JobCancelledError:
                service.finish(session, claim, result={"cancelled": True}, cancelled=True)
                JOBS_FINISHED.labels(claim.kind, "cancelled").inc()
                return
            except LeaseLostError:
                JOBS_FINISHED.labels(claim.kind, "lease_lost").inc()
                log.warning("job lease lost", extra=extra)
                return
            except DomainError as exc:
                status = service.fail(session, claim, error_code=exc.code, retryable=False)
                JOBS_FINISHED.labels(claim.kind, status).inc()
                log.warning("job rejected", extra={**extra, "error_code": exc.code})
                return
            except Exception as exc:  # a handler bug or a transient fault: retry with backoff
                session.rollback()
                status = service.fail(session, claim, error_code=type(exc).__name__, retryable=True)
                JOBS_FINISHED.labels(claim.kind, "error").inc()
                # The type only: exception text may carry values from the data being processed.
                log.error(
                    "job attempt failed",
                    extra={**extra, "error_type": type(exc).__name__, "status": status, "stack": error_frames(exc)},
                )
                return
            service.finish(session, claim, result=result)
            JOBS_FINISHED.labels(claim.kind, "succeeded").inc()

    def run(self, stop: threading.Event, *, poll_seconds: float = 0.5, max_jobs: int | None = None) -> int:
        """Work until `stop` is set (or `max_jobs` ran). Returns the number of jobs run."""
        ran = 0
        while not stop.is_set():
            try:
                self.schedule_periodic()
                if self.run_once():
                    ran += 1
                    if max_jobs is not None and ran >= max_jobs:
                        break
                    continue
            except Exception as exc:  # the database may be briefly unreachable; keep the worker alive
                log.error("worker loop error", extra={"error_type": type(exc).__name__})
            stop.wait(poll_seconds)
        return ran


def start_background_worker(app: Flask) -> threading.Event:
    """The development server's in-process worker thread. Returns the event that stops it."""
    stop = threading.Event()
    worker = Worker(app, worker_id=f"{default_worker_id()}:inprocess")
    thread = threading.Thread(
        target=worker.run,
        args=(stop,),
        kwargs={"poll_seconds": app.extensions["governance.settings"].job_poll_seconds},
        name="governance-worker",
        daemon=True,
    )
    thread.start()
    return stop


def drain(app: Flask, *, max_jobs: int = 1000, kinds: list[str] | None = None) -> int:
    """Run due jobs until none is left (tests and the CLI's `--drain`)."""
    worker = Worker(app, worker_id=f"{default_worker_id()}:drain", kinds=kinds)
    ran = 0
    while ran < max_jobs and worker.run_once():
        ran += 1
    return ran
