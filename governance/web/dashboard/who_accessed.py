"""Who accessed my data (/me/access): staff (by role), services and our systems, from the tamper-evident audit
log, each entry with its inclusion proof to download."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from governance.access.decorators import requires
from governance.audit import service as audit
from governance.db import get_db, get_session
from governance.errors import NotFoundError
from governance.gateway import service as gateway
from governance.requests import service as requests
from governance.web import access_log, present, sources
from governance.web.blueprint import bp
from governance.web.dashboard.layout import page
from governance.web.dashboard.subject import own_subject, own_subject_id


def _access_entries() -> list[Any]:
    session, subject_id = get_session(), own_subject_id()
    recipients = {c["id"]: c["name"] for c in sources.clients(session)}
    releases = {
        str(r.release_id): recipients.get(r.client_id, r.client_id)
        for r in gateway.releases_including(session, subject_id)
    }
    views = requests.requests_for_subject(session, subject_id)
    bundle_ids = [v.result["bundle_id"] for v in views if (v.result or {}).get("bundle_id")]
    return access_log.entries_about(session, subject_id, [v.id for v in views], releases, bundle_ids)


@bp.get("/me/access")
@requires("dashboard.view", resource=own_subject)
def dashboard_access() -> str:
    """Who accessed my data: staff (by role), services and our systems, from the tamper-evident audit log."""
    entries = [
        {
            "seq": e.seq,
            "at": present.as_datetime(e.at),
            "who": e.who,
            "what": e.what,
            "break_glass": e.break_glass,
            "proof_url": url_for("web.dashboard_access_proof", seq=e.seq),
        }
        for e in _access_entries()
    ]
    return page("web/dashboard/access.html", "web.dashboard_access", entries=entries)


@bp.get("/me/access/<int:seq>/proof")
@requires("dashboard.view", resource=own_subject)
def dashboard_access_proof(seq: int) -> ResponseReturnValue:
    """The entry's RFC 9162 inclusion proof in a checkpoint signed now, with the log's public key: the person
    (or anyone they give it to) checks it offline with governance/audit/offline_verify.py."""
    if seq not in {e.seq for e in _access_entries()}:  # only entries shown to this person
        raise NotFoundError(_("No such entry."))
    get_session().rollback()  # end this request's read (nothing written) before the sealer's own transaction
    config = audit.current_config()
    audit.seal_all(get_db().session, config, force_checkpoint=True)
    with get_db().session() as session:
        proof = audit.inclusion_proof(session, config, seq)
    proof["public_key_pem"] = current_app.extensions["governance.keys"].public_key_pem(audit.SIGNING_KEY)
    return Response(
        json.dumps(proof, indent=2, sort_keys=True),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="access-proof-{seq}.json"'},
    )
