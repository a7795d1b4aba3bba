"""The audit domain: an append-only, tamper-evident log written by every domain through `record`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from governance.audit.service import record

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["init_app", "record"]


def init_app(app: Flask) -> None:
    """Register the API blueprint, the `governance audit` commands and the periodic sealer."""
    import click

    from governance.audit import tasks  # noqa: F401  (registers the job handler)
    from governance.audit.api import bp
    from governance.cli import governance_cli
    from governance.jobs import register_periodic

    app.register_api(bp)
    settings = app.extensions["governance.settings"]
    register_periodic("audit.seal", every_seconds=max(1, settings.get_int("AUDIT_SEAL_SECONDS", 5)))

    if "audit" in governance_cli.commands:
        return

    @governance_cli.group("audit")
    def audit_cli() -> None:
        """Tamper-evident audit log."""

    @audit_cli.command("seal")
    @click.option("--checkpoint", is_flag=True, help="sign a checkpoint even if none is due")
    def seal_command(checkpoint: bool) -> None:
        """Sequence pending entries into the Merkle tree (and sign a checkpoint when due)."""
        from governance.audit import service
        from governance.db import get_db

        result = service.seal_all(get_db().session, service.current_config(), force_checkpoint=checkpoint)
        click.echo(f"sealed {result.sealed} entries; tree size {result.size}")

    @audit_cli.command("verify")
    @click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
    def verify_command(as_json: bool) -> None:
        """Seal pending entries, then verify the whole log; exit status 1 when verification fails."""
        import json

        from governance.audit import service
        from governance.db import get_db

        config = service.current_config()
        service.seal_all(get_db().session, config)
        with get_db().session() as session:
            report = service.verify(session, config)
        click.echo(json.dumps(report.to_dict(), default=str) if as_json else report.message)
        if not report.ok:
            raise SystemExit(1)
