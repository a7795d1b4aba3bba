"""Downloading a copy of my data (/me/requests/<id>/download): a one-time link issued and used at once."""

from __future__ import annotations

from flask import Response
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from governance.access.decorators import current_principal, requires
from governance.db import get_session, transaction
from governance.requests import service as requests
from governance.requests.errors import DownloadLinkGoneError, InvalidTransitionError
from governance.web.blueprint import bp
from governance.web.dashboard.requests import back_to_requests
from governance.web.dashboard.subject import own_request, request_uuid

DOWNLOAD_GONE = _l(
    "That copy of your data is no longer available: we delete each copy when its download time runs out. "
    "Request a new copy below if you still need one."
)
DOWNLOAD_NOT_READY = _l("Your copy is not ready yet. This page shows how far it has got; the download appears here.")


@bp.get("/me/requests/<request_id>/download")
@requires("dsr.download", resource=own_request)
def dashboard_download(request_id: str) -> ResponseReturnValue:
    actor = current_principal()
    try:
        with transaction(get_session()) as session:  # issuing and using the link are both audited
            token, _expires = requests.issue_download_link(session, request_uuid(request_id), actor=actor)
            content, filename = requests.open_download(session, token, actor=actor)
    except DownloadLinkGoneError:  # a stale tab or a bookmark: say what happened and what to do, on the page
        return back_to_requests(str(DOWNLOAD_GONE), "info")
    except InvalidTransitionError as exc:
        if exc.code != "export_not_ready":
            raise
        return back_to_requests(str(DOWNLOAD_NOT_READY), "info")
    return Response(
        content,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
