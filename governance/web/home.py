"""The front page: where a person lands after signing out, and where staff find the sign-in."""

from __future__ import annotations

from flask import render_template

from governance.access.decorators import public
from governance.web.blueprint import bp


@bp.get("/")
@public("the front page explains how to reach the dashboard and links to the staff sign-in; it holds no data")
def home() -> str:
    from governance.consent import service as consent

    return render_template("web/home.html", controller=consent.purposes().controller)
