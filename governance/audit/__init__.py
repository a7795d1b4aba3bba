"""The audit domain: an append-only, tamper-evident log written by every domain through `record`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from governance.audit.aggregates import ActionOn, actions_on, latest_checkpoint
from governance.audit.reports import StoredVerification, latest_verification, request_verification
from governance.audit.service import Entry, batch_part, record, record_many

if TYPE_CHECKING:
    from flask_openapi3 import OpenAPI

__all__ = [
    "ActionOn",
    "Entry",
    "StoredVerification",
    "actions_on",
    "batch_part",
    "init_app",
    "latest_checkpoint",
    "latest_verification",
    "record",
    "record_many",
    "request_verification",
]


def init_app(app: OpenAPI) -> None:
    """Register the API blueprint, the `governance audit` commands, the periodic sealer and verification."""
    from governance.audit import tasks  # noqa: F401  (registers the job handler)
    from governance.audit.api import bp
    from governance.audit.cli import audit_cli
    from governance.cli import governance_cli
    from governance.jobs import register_periodic

    app.register_api(bp)
    settings = app.extensions["governance.settings"]
    register_periodic("audit.seal", every_seconds=max(1, settings.get_int("AUDIT_SEAL_SECONDS", 5)))
    register_periodic("audit.verify", every_seconds=max(1, settings.get_int("AUDIT_VERIFY_SECONDS", 60)))

    if "audit" in governance_cli.commands:
        return

    governance_cli.add_command(audit_cli)
