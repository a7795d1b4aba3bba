"""What every dashboard page shares: the layout's chrome, rendering a page, and an erased person's one page."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from governance.access.decorators import current_principal
from governance.consent import service as consent
from governance.web.blueprint import bp
from governance.web.dashboard.subject import is_erased, own_subject_id

# after erasure these still work: the one page that explains it, the certificate, and the erasure's own progress
AFTER_ERASURE = frozenset(
    {
        "web.dashboard",
        "web.dashboard_certificate",
        "web.dashboard_certificate_json",
        "web.dashboard_request_status",
        "web.dashboard_language",
    }
)


def dashboard_chrome() -> dict[str, Any]:
    """What the dashboard layout needs besides the page: the controller (footer) and the sign-out URL. Error pages
    under /me get it too (governance.web registers it as a context processor), so they keep the navigation."""
    logout = current_app.config.get("GOVERNANCE_SUBJECT_LOGOUT_ENDPOINT", "access.dashboard_logout")
    return {
        "controller": consent.purposes().controller,
        "logout_url": url_for(logout) if logout in current_app.view_functions else None,
    }


def page(template: str, current: str, **context: Any) -> str:
    """A dashboard page: `current` is the navigation's endpoint to mark, `context` the template's variables."""
    context.setdefault("person_erased", is_erased(own_subject_id()))
    return render_template(template, current=current, **dashboard_chrome(), **context)


@bp.before_request
def _erased_person_sees_one_page() -> ResponseReturnValue | None:
    """An erased person has nothing left to export, correct, object to or consent to: every other dashboard page
    leads to the one page that says what was deleted and what the law keeps, instead of dead ends."""
    endpoint = request.endpoint or ""
    if not endpoint.startswith("web.dashboard") or endpoint in AFTER_ERASURE:
        return None
    subject = current_principal().subject_id
    if subject is None or not is_erased(subject):
        return None
    if request.method == "POST":
        flash(_("Nothing was changed: your data has already been erased, so there is nothing left to change."), "info")
    return redirect(url_for("web.dashboard"), code=303)
