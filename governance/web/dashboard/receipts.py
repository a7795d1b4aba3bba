"""Consent receipts and notices: a receipt as signed JSON and in words a person reads, and the notice text a
decision was made on."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from governance.access.decorators import requires
from governance.consent import service as consent
from governance.db import get_session
from governance.errors import NotFoundError
from governance.web import i18n, markup, present
from governance.web.blueprint import bp
from governance.web.dashboard.layout import page
from governance.web.dashboard.subject import own_subject, own_subject_id


def _own_receipt(receipt_id: str) -> dict[str, Any]:
    """One of the session's subject's receipts; any other id is a 404."""
    found = next((r for r in consent.receipts(get_session(), own_subject_id()) if r["record_id"] == receipt_id), None)
    if found is None:
        raise NotFoundError(_("No such receipt."))
    return found


@bp.get("/me/consent/receipts/<receipt_id>")
@requires("consent.read", resource=own_subject)
def dashboard_receipt(receipt_id: str) -> ResponseReturnValue:
    found = _own_receipt(receipt_id)
    body = json.dumps({"receipt": found["receipt"], "jws": found["jws"]}, indent=2, sort_keys=True)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="consent-receipt-{receipt_id}.json"'},
    )


def _receipt_facts(found: dict[str, Any], catalog: Any) -> list[tuple[str, Any]]:
    body = found["receipt"]
    event, notice = body.get("event", {}), body.get("notice", {})
    purpose = (body.get("purposes") or [{}])[0]
    facts = [
        (_("What you decided"), present.label(present.DECISION_LABELS, found["decision"], found["decision"])),
        # the signed receipt states the purpose in English; a German reader sees the policy's German words
        (_("Purpose"), _purpose_words(catalog, purpose, "title")),
        (_("What it means"), _purpose_words(catalog, purpose, "description")),
        (_("Legal basis"), present.label(present.LEGAL_BASIS_LABELS, purpose.get("lawful_basis"), "")),
        (_("When you decided"), present.as_datetime(event.get("time"))),
        (_("When it reached us"), present.as_datetime(event.get("recorded_at"))),
        (_("How"), present.label(present.METHOD_LABELS, body.get("collection_method"), "")),
        (_("Notice"), _("Version %(version)s", version=notice.get("version"))),
        (_("Kept for"), present.duration_words(purpose.get("storage_duration_days"))),
        (_("Shared with or sold to others"), _("Yes") if purpose.get("third_party_disclosure") else _("No")),
        (_("Receipt number"), body.get("record_id", "")),
    ]
    if event.get("superseded"):
        facts.insert(1, (_("Still in force"), _("No, a later decision replaced it")))
    return facts


@bp.get("/me/consent/receipts/<receipt_id>/view")
@requires("consent.read", resource=own_subject)
def dashboard_receipt_page(receipt_id: str) -> str:
    """The receipt in words a person reads (printable), beside the signed JSON download."""
    found = _own_receipt(receipt_id)
    notice = found["receipt"].get("notice", {})
    key = (found["receipt"].get("purposes") or [{}])[0].get("purpose_id")
    catalog = consent.purposes()
    return page(
        "web/dashboard/receipt.html",
        "web.dashboard_consent",
        receipt_id=receipt_id,
        facts=_receipt_facts(found, catalog),
        notice_url=(
            url_for("web.dashboard_notice", purpose_key=key, version=notice["version"])
            if key in catalog and notice.get("version")
            else None
        ),
        fingerprint=notice.get("sha256"),
    )


def _purpose_words(catalog: Any, receipt_purpose: dict[str, Any], name: str) -> str:
    """The receipt's purpose title or description, in the page's language when the policy translates it."""
    stated = receipt_purpose.get("purpose" if name == "title" else name, "")
    purpose = catalog.get(receipt_purpose.get("purpose_id", ""))
    if purpose is None or getattr(purpose, name) != stated:  # the policy changed since: show what was signed
        return stated
    return present.purpose_title(purpose) if name == "title" else present.purpose_description(purpose)


@bp.get("/me/consent/notices/<purpose_key>/v<int:version>")
@requires("consent.read", resource=own_subject)
def dashboard_notice(purpose_key: str, version: int) -> str:
    catalog = consent.purposes()
    purpose = catalog.get(purpose_key)
    shown = catalog.notice_shown(purpose_key, version, i18n.current_language()) if purpose else None
    if purpose is None or shown is None:
        raise NotFoundError(_("No such notice."))
    return page(
        "web/dashboard/notice.html",
        "web.dashboard_consent",
        purpose_title=present.purpose_title(purpose),
        version=version,
        published=purpose.notice(version).published,
        body=markup.render_notice(shown.text),
        notice_language=shown.language,  # English when this version has no text in the reader's language
        fingerprint=shown.sha256,  # over the source text shown, as pinned in purposes.yaml
    )
