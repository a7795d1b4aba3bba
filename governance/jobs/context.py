"""What a job handler gets (`JobContext`) and the exceptions a handler raises or meets. The handler registry
names this context in its `Handler` type; the worker builds one per claimed job."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from governance.db import Database
from governance.errors import DomainError
from governance.jobs.leases import Claim, is_cancel_requested, renew

__all__ = ["JobCancelledError", "JobContext", "LeaseLostError", "PermanentJobError"]


class PermanentJobError(DomainError):
    """A job that cannot succeed for a domain reason (its input is invalid, what it works on is gone): it fails
    once with the stable `code` and is never retried. Any DomainError a handler raises is treated so; this class
    is for handlers that turn a data error (a ValueError from a stored spec) into one."""

    status, code, default_message = 422, "job_input_invalid", "The job's input cannot be processed."


class JobCancelledError(Exception):
    """Raised by a handler (or `JobContext.check_cancelled`) to stop a job whose cancellation was requested."""


class LeaseLostError(Exception):
    """The job's lease ran out and another worker claimed it; this worker must stop working on it."""


class JobContext:
    """What a handler gets: its payload, a way to open sessions, progress reporting and cancellation checks."""

    def __init__(self, app: Flask, database: Database, claim: Claim) -> None:
        self.app = app
        self._db = database
        self._claim = claim
        self.job_id: uuid.UUID = claim.job_id
        self.kind = claim.kind
        self.payload: dict[str, Any] = claim.payload
        self.attempt = claim.attempt

    def session(self) -> Session:
        """A new session; the handler commits its own work (in small transactions for long jobs)."""
        return self._db.session()

    def progress(self, done: int | None = None, total: int | None = None, message: str | None = None) -> None:
        """Record progress and renew the lease. Call it between transactions (SQLite has one writer)."""
        with self._db.session() as session:
            if not renew(session, self._claim, done=done, total=total, message=message):
                raise LeaseLostError()

    def cancelled(self) -> bool:
        with self._db.session() as session:
            return is_cancel_requested(session, self._claim)

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelledError()
