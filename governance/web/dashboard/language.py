"""The language switcher (POST /me/language): English or German for every person page."""

from __future__ import annotations

import re

from flask import redirect, request, url_for
from flask import session as cookie
from flask.typing import ResponseReturnValue

from governance.access.decorators import requires
from governance.errors import ValidationFailedError
from governance.web import i18n
from governance.web.blueprint import bp
from governance.web.dashboard.subject import own_subject

_BACK_TO = re.compile(r"^/me(/[A-Za-z0-9_.-]+)*$")


@bp.post("/me/language")
@requires("dashboard.view", resource=own_subject)
def dashboard_language() -> ResponseReturnValue:
    """The language switcher: the choice lives in the session only (the profile is not changed, so nothing is
    audited) and wins over the profile and the browser (governance/web/i18n.py); post/redirect/get."""
    chosen = i18n.best_supported(request.form.get("language"))
    if chosen is None:
        raise ValidationFailedError(fields={"language": "one of " + ", ".join(i18n.SUPPORTED)})
    cookie[i18n.SESSION_KEY] = chosen
    back = request.form.get("next", "")
    return redirect(back if _BACK_TO.match(back) and ".." not in back else url_for("web.dashboard"), code=303)
