"""The erasure certificate (/me/requests/<id>/certificate): the signed certificate's claims in words, and the
signed file to download."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from governance.access.decorators import requires
from governance.db import get_session
from governance.requests import certificate as certificates
from governance.requests import service as requests
from governance.web import i18n, present
from governance.web.blueprint import bp
from governance.web.dashboard.layout import page
from governance.web.dashboard.subject import own_request, request_uuid

DOWNSTREAM_WORDS = {
    "confirmed": _l("confirmed"),
    "pending": _l("not confirmed yet"),
    "failed": _l("could not be reached yet"),
}


def certificate(request_id: str) -> tuple[str, Any]:
    """The request's signed certificate (a JWS) and its verified claims."""
    token = requests.certificate_of(get_session(), request_uuid(request_id))
    keys = current_app.extensions["governance.keys"]
    claims = certificates.verify_certificate(token, [keys.public_key(requests.CERTIFICATE_KEY)])
    return token, claims


def _kept_words(claims: Any) -> str:
    return "; ".join(
        f"{present.humanize(k.category)}: {k.reason}"
        + (
            " (" + _("deleted on %(day)s", day=i18n.format_long_day(present.as_datetime(k.retain_until))) + ")"
            if k.retain_until
            else ""
        )
        for k in claims.kept
    ) or _("Nothing")


def _facts(claims: Any) -> list[tuple[str, str]]:
    return [
        (_("Certificate"), claims.jti),
        (_("Request received"), i18n.format_long_when(claims.received_at) + " UTC"),
        (_("Erasure completed"), i18n.format_long_when(claims.completed_at) + " UTC"),
        (_("Deleted"), ", ".join(present.humanize(c) for c in claims.deleted) or "—"),
        (_("Kept by law"), _kept_words(claims)),
        (_("Consents withdrawn"), i18n.format_number(claims.consents_withdrawn)),
        (
            _("Services told"),
            ", ".join(f"{d.processor} ({DOWNSTREAM_WORDS.get(d.status, d.status)})" for d in claims.downstream)
            or _("None were registered"),
        ),
        (_("Models marked for retraining"), i18n.format_number(claims.models_flagged)),
        (_("What remains"), claims.tombstone),
    ]


@bp.get("/me/requests/<request_id>/certificate")
@requires("dsr.read", resource=own_request)
def dashboard_certificate(request_id: str) -> str:
    token, claims = certificate(request_id)
    return page(
        "web/dashboard/certificate.html",
        "web.dashboard_requests",
        certificate={"request_id": request_id, "facts": _facts(claims), "signature": token},
    )


@bp.get("/me/requests/<request_id>/certificate.jwt")
@requires("dsr.read", resource=own_request)
def dashboard_certificate_json(request_id: str) -> ResponseReturnValue:
    token, _claims = certificate(request_id)
    return Response(
        token,
        mimetype="application/jwt",
        headers={"Content-Disposition": f'attachment; filename="erasure-certificate-{request_id}.jwt"'},
    )
