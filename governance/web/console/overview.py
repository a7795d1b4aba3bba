"""The console's front page: the overview cards (open requests, overdue ones)."""

from __future__ import annotations

from flask import url_for

from governance.access.decorators import requires
from governance.db import get_session
from governance.requests import service as requests
from governance.web.blueprint import bp
from governance.web.console.chrome import console_resource, may, render
from governance.web.console.requests_queue import (
    OPEN_STATUSES,
)


@bp.get("/console")
@requires("console.view", resource=console_resource)
def console() -> str:
    session = get_session()
    cards = []
    overdue_count = 0
    if may("dsr.read"):
        overdue_count = len(requests.overdue(session))
        counts = requests.count_by_status(session)  # one GROUP BY, not a listing of every open request
        open_count = sum(counts.get(s, 0) for s in OPEN_STATUSES)
        cards.append(
            {
                "title": "Open requests",
                "value": open_count,
                "label": "received, verified or in progress",
                "url": url_for("web.console_requests"),
                "link": "Open the request queue",
            }
        )
    return render(
        "web/console/index.html",
        "web.console",
        overdue_count=overdue_count,
        can_read_requests=may("dsr.read"),
        extra_cards=cards,
    )
