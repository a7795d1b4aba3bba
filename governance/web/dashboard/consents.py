"""Consent (/me/consent): a switch per consent purpose, one button that turns every optional use off, the other
purposes and their basis, Global Privacy Control, and the person's receipts and history."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from flask import flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from governance.access.decorators import current_principal, requires
from governance.consent import service as consent
from governance.db import get_session, transaction
from governance.errors import ValidationFailedError
from governance.vault import service as vault
from governance.web import i18n, present
from governance.web.blueprint import bp
from governance.web.dashboard.layout import page
from governance.web.dashboard.subject import own_subject, own_subject_id

if TYPE_CHECKING:
    from governance.consent.service import ConsentEventView

RECORDED_LATER = dt.timedelta(minutes=1)  # below this, "recorded" is just the time the click took to arrive


def _gpc_signal() -> bool:
    return request.headers.get("Sec-GPC", "").strip() == "1"


def _purpose_row(purpose: Any, status: Any, gpc: bool) -> dict[str, Any]:
    notice = purpose.current_notice
    return {
        "key": purpose.key,
        "title": present.purpose_title(purpose),
        "description": present.purpose_description(purpose),
        "legal_basis_label": present.label(present.LEGAL_BASIS_LABELS, status.legal_basis, status.legal_basis),
        "notice_version": notice.version,
        "retention": present.duration_words(purpose.retention_days),
        "allowed": status.allowed,
        "needs_renewal": status.needs_renewal,
        "decided_at": status.decided_at,
        "objected": status.objected,
        "change": present.notice_change(purpose, notice) if status.needs_renewal else None,
        "gpc_blocked": gpc and purpose.sale_or_sharing and not status.allowed,
    }


def _purpose_rows(statuses: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The consent-based purposes (switches) and the others (their legal basis), each as a row of the page."""
    catalog = consent.purposes()
    gpc = _gpc_signal()
    consent_rows: list[dict[str, Any]] = []
    other_rows: list[dict[str, Any]] = []
    for status in statuses:
        purpose = catalog[status.purpose]
        (consent_rows if purpose.requires_consent else other_rows).append(_purpose_row(purpose, status, gpc))
    return consent_rows, other_rows


def _decision_order(event: ConsentEventView) -> tuple[dt.datetime, dt.datetime, int]:
    return (present.aware(event.collected_at), present.aware(event.recorded_at), event.seq)


def _recorded_later(event: ConsentEventView) -> bool:
    """Whether a decision reached us noticeably later than it was made (imported, or sent by the app later)."""
    return present.aware(event.recorded_at) - present.aware(event.collected_at) >= RECORDED_LATER


def _history_rows(events: list[ConsentEventView], titles: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "at": e.collected_at,
            "recorded_at": e.recorded_at if _recorded_later(e) else None,
            "purpose_title": titles.get(e.purpose, e.purpose),
            "decision": e.decision,
            "decision_label": present.label(present.DECISION_LABELS, e.decision, present.humanize(e.decision)),
            "superseded": e.superseded,
            "notice_version": e.notice_version,
            "method_label": present.label(present.METHOD_LABELS, e.method, present.humanize(e.method)),
        }
        for e in events
    ]


def _receipt_rows(
    session: Any, subject_id: uuid.UUID, events: list[ConsentEventView], titles: dict[str, str]
) -> list[dict[str, Any]]:
    """The person's receipts in the history's order, each with when it was decided (and reached us, if later)."""
    by_id = {str(e.id): e for e in events}
    order = {str(e.id): i for i, e in enumerate(events)}
    return [
        {
            "id": r["record_id"],
            "at": by_id[r["record_id"]].collected_at if r["record_id"] in by_id else None,
            "recorded_at": (
                by_id[r["record_id"]].recorded_at
                if r["record_id"] in by_id and _recorded_later(by_id[r["record_id"]])
                else None
            ),
            "purpose_title": titles.get(r["purpose"], r["purpose"]),
            "decision": r["decision"],
            "decision_label": present.label(present.DECISION_LABELS, r["decision"], present.humanize(r["decision"])),
        }
        for r in sorted(consent.receipts(session, subject_id), key=lambda r: order.get(r["record_id"], len(order)))
    ]


@bp.get("/me/consent")
@requires("consent.read", resource=own_subject)
def dashboard_consent() -> str:
    session, subject_id = get_session(), own_subject_id()
    if _gpc_signal():
        _honour_gpc(session, subject_id)
    catalog = consent.purposes()
    statuses = consent.overview(session, subject_id)
    consent_rows, other_rows = _purpose_rows(statuses)
    titles = {p.key: present.purpose_title(p) for p in catalog}
    # newest decision first by when the person made it (collected), not by when it reached us (recorded)
    events = sorted(consent.history(session, subject_id), key=_decision_order, reverse=True)
    receipts = _receipt_rows(session, subject_id, events, titles)
    saved = request.args.get("saved")
    last = next((r for r in receipts if r["id"] == saved), None)
    return page(
        "web/dashboard/consent.html",
        "web.dashboard_consent",
        consent_purposes=consent_rows,
        other_purposes=other_rows,
        renewal=[present.purpose_title(catalog[s.purpose]) for s in statuses if s.needs_renewal],
        gpc=_gpc_signal(),
        gpc_purposes=[present.purpose_title(p) for p in catalog.sale_or_sharing_purposes()],
        history=_history_rows(events, titles),
        receipts=receipts,
        last_receipt=({"id": last["id"], "summary": _saved_summary(last)} if last else None),
        allowed_count=sum(1 for p in consent_rows if p["allowed"]),
    )


def _saved_summary(receipt: dict[str, Any]) -> str:
    if receipt["decision"] == "granted":
        return _("%(purpose)s is on", purpose=receipt["purpose_title"])
    return _("%(purpose)s is off", purpose=receipt["purpose_title"])


def _honour_gpc(session: Any, subject_id: uuid.UUID) -> None:
    """A browser's Global Privacy Control signal withdraws sale/sharing purposes (recorded, with receipts)."""
    statuses = consent.overview(session, subject_id)
    if any(s.sale_or_sharing and s.decision == "granted" for s in statuses):
        with transaction(session):
            consent.apply_gpc(session, subject_id, actor=current_principal())


def _decision_form() -> tuple[str, int]:
    """The switch's decision (granted or withdrawn) and the notice version its page showed."""
    choices = request.form.getlist("decision")
    decision = {"grant": "granted", "withdraw": "withdrawn"}.get(choices[-1] if choices else "")
    if decision is None:
        raise ValidationFailedError(fields={"decision": "grant or withdraw"})
    try:
        notice_version = int(request.form.get("notice_version", ""))
    except ValueError:
        raise ValidationFailedError(fields={"notice_version": "a notice version number"}) from None
    return decision, notice_version


def _saved_in_place(purpose_key: str, decision: str, record_id: str) -> ResponseReturnValue:
    """The JSON answer app.js writes into the page's live region after saving a switch in place."""
    title = present.purpose_title(consent.purposes()[purpose_key])
    return jsonify(
        allowed=decision == "granted",
        message=_("Saved: %(summary)s.", summary=_saved_summary({"purpose_title": title, "decision": decision})),
        receipt_url=url_for("web.dashboard_receipt_page", receipt_id=record_id),
        state_label=_("On") if decision == "granted" else _("Off"),
        receipt_label=_("See the receipt"),
    )


@bp.post("/me/consent/<purpose_key>")
@requires("consent.write", resource=own_subject)
def dashboard_consent_set(purpose_key: str) -> ResponseReturnValue:
    decision, notice_version = _decision_form()
    subject_id = own_subject_id()
    evidence = {"gpc": _gpc_signal(), **_notice_shown(purpose_key, notice_version)}
    with transaction(get_session()) as session:
        jurisdiction = vault.get_subject(session, subject_id).jurisdiction
        receipts = consent.record_decisions(
            session,
            subject_id,
            [{"purpose": purpose_key, "decision": decision, "notice_version": notice_version}],
            method="dashboard",
            actor=current_principal(),
            jurisdiction=jurisdiction,
            evidence=evidence,
        )
    record_id = str(receipts[0].record_id)
    if _wants_json():  # app.js saves the switch in place, so focus stays on it
        return _saved_in_place(purpose_key, decision, record_id)
    return redirect(url_for("web.dashboard_consent", saved=record_id), code=303)


def _notice_shown(purpose_key: str, version: int) -> dict[str, str]:
    """Evidence of which notice text the switch's page offered: its language and pinned hash (the form says which
    language the page was in; a version without that translation was offered in its original language)."""
    catalog = consent.purposes()
    language = i18n.best_supported(request.form.get("notice_language")) or i18n.current_language()
    shown = catalog.notice_shown(purpose_key, version, language) if purpose_key in catalog else None
    if shown is None:
        return {}  # an unknown purpose or version: the service refuses the decision itself
    return {"notice_language": shown.language, "notice_text_sha256": shown.sha256}


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _withdraw_all_optional(session: Any, subject_id: uuid.UUID) -> list[str]:
    """Withdraws every consent-based purpose the person allows (each with its receipt); the purposes turned off."""
    catalog = consent.purposes()
    allowed = [
        s.purpose for s in consent.overview(session, subject_id) if s.allowed and catalog[s.purpose].requires_consent
    ]
    if allowed:
        consent.record_decisions(
            session,
            subject_id,
            [{"purpose": key, "decision": "withdrawn"} for key in allowed],
            method="dashboard",
            actor=current_principal(),
            jurisdiction=vault.get_subject(session, subject_id).jurisdiction,
            evidence={"gpc": _gpc_signal(), "ui_element": "all_optional_off"},
        )
    return allowed


@bp.post("/me/consent/all-off")
@requires("consent.write", resource=own_subject)
def dashboard_consent_all_off() -> ResponseReturnValue:
    """One click withdraws every optional (consent-based) purpose the person allows, each with its receipt."""
    with transaction(get_session()) as session:
        allowed = _withdraw_all_optional(session, own_subject_id())
    if allowed:
        flash(
            _("Everything optional is off now (%(count)d turned off). Your receipts are below.", count=len(allowed)),
            "success",
        )
    else:
        flash(_("Everything optional was already off."), "info")
    return redirect(url_for("web.dashboard_consent"), code=303)
