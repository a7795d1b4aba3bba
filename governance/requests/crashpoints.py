"""Crash injection for the crash-safety tests: kill the worker process at a named point of an export or erasure.

`GOVERNANCE_REQUESTS_CRASH_AT=<point>[,<point>...]` in a worker's environment makes that process exit at once
(`os._exit`, no cleanup, no rollback, like `kill -9`) when it reaches the point. Ignored in production.
"""

from __future__ import annotations

import os

ENV_VAR = "GOVERNANCE_REQUESTS_CRASH_AT"
EXIT_CODE = 86

EXPORT_POINTS = ("export:collected", "export:sealed", "export:committed")
ERASURE_POINTS = (
    "erasure:shredded",
    "erasure:consents_withdrawn",
    "erasure:processors_notified",
    "erasure:models_flagged",
    "erasure:local_committed",
    "erasure:certificate_signed",
    "erasure:completed",
)


def crash_point(name: str) -> None:
    """Exit the process here if the environment asks for it (never in production)."""
    wanted = os.environ.get(ENV_VAR)
    if not wanted or os.environ.get("GOVERNANCE_ENV") == "production":
        return
    if name in {point.strip() for point in wanted.split(",")}:
        os._exit(EXIT_CODE)
