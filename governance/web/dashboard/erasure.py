"""Erasure: the confirmation page (what is deleted, what the law keeps) and, once it is done, the one page an
erased person sees at /me (what was deleted and kept, who was told, the certificate)."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from governance.access.decorators import requires
from governance.db import get_session
from governance.requests import service as requests
from governance.vault import service as vault
from governance.web import present
from governance.web.blueprint import bp
from governance.web.dashboard.certificates import certificate
from governance.web.dashboard.layout import page
from governance.web.dashboard.requests import back_to_requests, file_request
from governance.web.dashboard.subject import own_subject, own_subject_id
from governance.web.dashboard.usage import usage_count


def _erasure_summary() -> tuple[list[str], list[dict[str, Any]]]:
    session, subject_id = get_session(), own_subject_id()
    policy = requests.get_policy()
    jurisdiction = policy.jurisdiction_for(vault.get_subject(session, subject_id).jurisdiction)
    deleted = [
        _("Your profile (name, contact details and everything else on the \u201cYour data\u201d page)"),
        _("Your recorded activity"),
        _("Your consents: every purpose is switched off, and services that received your data are told"),
        _("Copies of your data in exports we prepared for you"),
    ]
    kept = [
        {
            "title": present.humanize(item.category),
            "why": item.reason,
            "until": ngettext("%(num)d year", "%(num)d years", item.retain_for.years),
        }
        for item in policy.retention_for(jurisdiction)
    ]
    return deleted, kept


@bp.get("/me/requests/erase")
@requires("dsr.create", resource=own_subject)
def dashboard_erase() -> str:
    deleted, kept = _erasure_summary()
    return page(
        "web/dashboard/erase_confirm.html",
        "web.dashboard_requests",
        deleted=deleted,
        kept=kept,
        usage_count=usage_count(get_session(), own_subject_id()),
    )


@bp.post("/me/requests/erase")
@requires("dsr.create", resource=own_subject)
def dashboard_erase_confirm() -> ResponseReturnValue:
    if request.form.get("confirm") != "yes":
        return back_to_requests(_("Nothing was deleted: tick the box to confirm."), "warning")
    file_request("erasure")
    return back_to_requests(_("We are deleting your data. The certificate appears here when it is done."))


def _erasure_certificate_facts() -> dict[str, Any] | None:
    """The person's completed erasure (newest) with its certificate's claims, for the page after erasure."""
    views = [v for v in requests.requests_for_subject(get_session(), own_subject_id()) if v.kind == "erasure"]
    for view in sorted(views, key=lambda v: v.received_at, reverse=True):
        if view.has_certificate:
            _token, claims = certificate(str(view.id))
            return {"request_id": view.id, "claims": claims}
    return None


def render_erased() -> str:
    """/me after erasure: what was deleted, what the law keeps and until when, who was told, the certificate."""
    found = _erasure_certificate_facts()
    claims = found["claims"] if found else None
    kept = [
        {
            "title": present.humanize(item.category),
            "why": item.reason,
            "until": present.as_datetime(item.retain_until) if item.retain_until else None,
        }
        for item in (claims.kept if claims else [])
    ]
    return page(
        "web/dashboard/erased.html",
        "web.dashboard",
        person_erased=True,
        completed_at=claims.completed_at if claims else None,
        deleted=[present.humanize(c) for c in claims.deleted] if claims else [],
        kept=kept,
        told=[{"name": d.processor, "status": d.status} for d in claims.downstream] if claims else [],
        models_flagged=claims.models_flagged if claims else 0,
        certificate_url=(url_for("web.dashboard_certificate", request_id=found["request_id"]) if found else None),
        certificate_download_url=(
            url_for("web.dashboard_certificate_json", request_id=found["request_id"]) if found else None
        ),
    )
