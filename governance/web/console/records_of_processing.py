"""The records of processing (GDPR art. 30), as a page and as downloadable HTML or JSON documents."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, render_template
from flask.typing import ResponseReturnValue

from governance.access.decorators import requires
from governance.consent import service as consent
from governance.db import get_session, utcnow
from governance.errors import ValidationFailedError
from governance.vault import service as vault
from governance.web import records, sources
from governance.web.blueprint import bp
from governance.web.console.chrome import render


def _records() -> dict[str, Any]:
    session = get_session()
    return records.build_records(
        catalog=consent.purposes(),
        categories=vault.categories(),
        clients=sources.clients(session),
        processors=sources.processors(session),
        policy_version=current_app.extensions.get("governance.policy_version"),
        generated_at=utcnow().strftime("%Y-%m-%d %H:%M UTC"),
    )


@bp.get("/console/records")
@requires("policy.read")
def console_records() -> str:
    return render("web/console/records.html", "web.console_records", records=_records())


@bp.get("/console/records/download.<fmt>")
@requires("policy.read")
def console_records_download(fmt: str) -> ResponseReturnValue:
    data = _records()
    stamp = utcnow().strftime("%Y%m%d")
    if fmt == "json":
        body = json.dumps(records.as_json(data), indent=2, ensure_ascii=False)
        mimetype = "application/json"
    elif fmt == "html":
        body = render_template("web/console/records_document.html", records=data)
        mimetype = "text/html"
    else:
        raise ValidationFailedError(fields={"fmt": "html or json"})
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="records-of-processing-{stamp}.{fmt}"'},
    )
