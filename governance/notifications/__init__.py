"""Notifications: e-mails to the data subject when an export is ready or a request was rejected or completed
(docs/notifications.md).

Callers enqueue in their own transaction (`service.notify`); the job reads the address from the vault at send
time and sends it over SMTP. No address is ever stored outside the vault, queued, logged or audited.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    from governance.notifications.tasks import register_tasks

    register_tasks(app)
