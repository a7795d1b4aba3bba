"""The front page: where a person lands after signing out, and where staff find the sign-in.

A dashboard page opened without a session (it timed out, or a bookmark) is redirected here by the access layer,
and so is the dashboard's "Sign out". On the way, `note_session_end` leaves a one-time flag in the signed session
cookie, so the front page can say that the session ended and where a fresh link comes from, without anything in
the URL.
"""

from __future__ import annotations

from flask import Response, current_app, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext
from werkzeug.routing import BuildError

from governance.access.decorators import current_principal, public
from governance.consent import service as consent
from governance.web.blueprint import bp

SESSION_END_KEY = "web.session_end"  # "signed_out" | "no_session" | "not_saved", read once by the front page
UNSAVED_KEY = "web.unsaved_action"  # what the refused post would have done, in words (no personal data)

# what a dashboard post would have done, for the front page to say that exactly this was NOT saved
UNSAVED_ACTIONS = {
    "web.dashboard_consent_all_off": lazy_gettext("turning all optional uses off"),
    "web.dashboard_export": lazy_gettext("your request for a copy of your data"),
    "web.dashboard_rectify": lazy_gettext("your correction"),
    "web.dashboard_object": lazy_gettext("your objection"),
    "web.dashboard_erase_confirm": lazy_gettext("your request to delete your data"),
    "web.dashboard_reveal": lazy_gettext("showing your values"),
    "web.dashboard_hide": lazy_gettext("hiding your values"),
    "web.dashboard_language": lazy_gettext("your choice of language"),
}
REDIRECTS = (301, 302, 303, 307, 308)


def _is_dashboard_path(path: str) -> bool:
    return path == "/me" or path.startswith("/me/")


def note_session_end(response: Response) -> Response:
    """after_request: remember why a person was sent to the front page (signed out, or no session)."""
    if response.status_code not in REDIRECTS or request.endpoint is None:
        return response
    logout = current_app.config.get("GOVERNANCE_SUBJECT_LOGOUT_ENDPOINT", "access.dashboard_logout")
    signed_out_endpoint = current_app.config.get("GOVERNANCE_SUBJECT_SIGNED_OUT_ENDPOINT", "web.home")
    try:
        front = url_for(signed_out_endpoint)
    except BuildError:
        return response
    if response.location not in (front, url_for("web.home")):
        return response
    if request.endpoint == logout:
        session[SESSION_END_KEY] = "signed_out"
    elif _is_dashboard_path(request.path) and current_principal().kind == "anonymous":
        if request.method == "POST":
            session[SESSION_END_KEY] = "not_saved"
            session[UNSAVED_KEY] = _unsaved_action()
        else:
            session[SESSION_END_KEY] = "no_session"
    return response


def _unsaved_action() -> str:
    """The refused post in words, in the page's language: "switching Training our models off" (a purpose title is
    not personal data)."""
    if request.endpoint == "web.dashboard_consent_set":
        purpose = consent.purposes().get((request.view_args or {}).get("purpose_key", ""))
        decisions = request.form.getlist("decision")
        if purpose is not None and decisions:
            if decisions[-1] == "grant":
                return gettext("switching %(purpose)s on", purpose=purpose.title)
            return gettext("switching %(purpose)s off", purpose=purpose.title)
        return gettext("your consent change")
    return str(UNSAVED_ACTIONS.get(request.endpoint or "", lazy_gettext("your last action")))


@bp.get("/")
@public("the front page explains how to reach the dashboard and links to the staff sign-in; it holds no data")
def home() -> str:
    ended = session.pop(SESSION_END_KEY, None)
    unsaved = session.pop(UNSAVED_KEY, None)
    return render_template(
        "web/home.html",
        controller=consent.purposes().controller,
        session_end=ended if ended in ("signed_out", "no_session", "not_saved") else None,
        unsaved_action=unsaved if isinstance(unsaved, str) else gettext("your last action"),
    )
