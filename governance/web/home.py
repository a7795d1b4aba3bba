"""The front page: where a person lands after signing out, and where staff find the sign-in."""

from __future__ import annotations

from flask import render_template

from governance.access.decorators import public
from governance.web.blueprint import bp

# Where the access layer sends a dashboard request that has no session (expired, signed out, or a bookmark):
# the front page with a note that the session ended. The address holds nothing about the person.
SIGNED_OUT_ENDPOINT = "web.session_ended"


def _front_page(*, session_ended: bool) -> str:
    from governance.consent import service as consent

    return render_template("web/home.html", controller=consent.purposes().controller, session_ended=session_ended)


@bp.get("/")
@public("the front page explains how to reach the dashboard and links to the staff sign-in; it holds no data")
def home() -> str:
    return _front_page(session_ended=False)


@bp.get("/session-ended")
@public("the front page for a person whose dashboard session ended: how to open a fresh link; it holds no data")
def session_ended() -> str:
    return _front_page(session_ended=True)
