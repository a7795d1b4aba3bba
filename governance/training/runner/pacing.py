"""Keeping a long training job's lease and noticing its cancellation without a database round trip per step."""

from __future__ import annotations

import time

from governance.jobs import JobContext

__all__ = ["LeaseRenewer", "Throttle"]


class LeaseRenewer:
    """Renew the job's lease while the gateway builds (it reports progress per chunk), at most every 10 s."""

    def __init__(self, ctx: JobContext, seconds: float = 10.0) -> None:
        self.ctx, self.seconds, self.last = ctx, seconds, time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last >= self.seconds:
            self.last = time.monotonic()
            self.ctx.progress(None, None, "building the training data")


class Throttle:
    """Poll cancellation at most every ``seconds`` while training, and renew the lease every ``renew_seconds``
    (an epoch may outlast the lease; losing it raises LeaseLostError, which stops this worker's run)."""

    def __init__(self, ctx: JobContext, seconds: float = 2.0, renew_seconds: float = 30.0) -> None:
        self.ctx, self.seconds, self.renew_seconds = ctx, seconds, renew_seconds
        self.last = self.last_renewal = time.monotonic()

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_renewal >= self.renew_seconds:
            self.last_renewal = now
            self.ctx.progress(None, None, "training")
        if now - self.last < self.seconds:
            return False
        self.last = now
        return self.ctx.cancelled()
