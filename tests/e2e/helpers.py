"""Setting up people and staff for the browser tests through the real services."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask

from governance.access.principals import ActorRef

ACTOR = ActorRef("system", "e2e-tests")


def in_transaction(app: Flask, work: Any) -> Any:
    """Run `work(session)` in one committed transaction inside a request context."""
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        try:
            with session.begin():
                return work(session)
        finally:
            session.close()


def dashboard_path(app: Flask, subject_id: uuid.UUID) -> str:
    """A fresh one-time dashboard link, as a path (the live server's address is added by the test)."""
    from governance.access.service import create_dashboard_link

    url = in_transaction(app, lambda s: create_dashboard_link(s, subject_id, actor=ACTOR))
    return url[url.index("/dashboard/start/") :]


def grant(app: Flask, subject_id: uuid.UUID, purpose: str) -> None:
    from governance.consent import service as consent

    in_transaction(
        app,
        lambda s: consent.record_decisions(
            s, subject_id, [{"purpose": purpose, "decision": "granted"}], method="api", actor=ACTOR, jurisdiction="EU"
        ),
    )
