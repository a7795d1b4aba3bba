"""Notifications: e-mails to the data subject when an export is ready, a request was rejected or completed, or a
notice changed so that their consent needs renewing (docs/notifications.md).

Callers enqueue in their own transaction (`service.notify`); the job reads the address from the vault at send
time and sends it over SMTP. No address is ever stored outside the vault, queued, logged or audited.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the send job and the `notifications` CLI group."""
    from governance.cli import governance_cli
    from governance.notifications.cli import notifications_cli
    from governance.notifications.tasks import register_tasks

    register_tasks(app)
    if notifications_cli.name not in governance_cli.commands:
        governance_cli.add_command(notifications_cli)
