"""The end-user privacy dashboard (/me): what we hold, consent, requests, and how the data is used.

Routes parse, authorize (the `@requires` declaration; the resource is always the session's own subject or one of
its requests), call the other domains' services and render. URLs and titles hold no personal data: pages live
at fixed paths, and the only ids in URLs are request, receipt and purpose ids.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from governance.access.decorators import current_principal, requires, resource_of
from governance.access.principals import Resource
from governance.db import get_session, transaction, utcnow
from governance.errors import DomainError, NotFoundError, ValidationFailedError
from governance.requests.errors import DownloadLinkGoneError, InvalidTransitionError
from governance.web import i18n, markup, present, sources
from governance.web.blueprint import bp

if TYPE_CHECKING:
    from governance.consent.service import ConsentEventView

IDENTITY_GROUPS = (
    ("direct", _l("Who you are and how to reach you")),
    ("quasi", _l("About you")),
    ("none", _l("Your settings")),
)
VERIFIED_BY_SESSION = "dashboard_link"


# --- resources ---------------------------------------------------------------------------------------------


@resource_of("Subject")
def own_subject(_args: dict[str, Any]) -> Resource:
    """The data subject of the current dashboard session (nobody else's data is ever reachable here)."""
    subject_id = current_principal().subject_id
    if subject_id is None:
        return Resource(type="Subject", id="none")
    return Resource.subject(subject_id)


@resource_of("Request")
def own_request(args: dict[str, Any]) -> Resource:
    """A request of the session's subject; an unknown or foreign id gives a resource the policy refuses (404)."""
    from governance.requests import service as requests

    request_id = _uuid_or_none(args.get("request_id"))
    owner = requests.request_owner(get_session(), request_id) if request_id else None
    if owner is None and current_principal().kind == "subject":
        # unknown to a person is the same answer as another person's request: it does not exist for them
        raise NotFoundError(_("No such request."))
    return Resource(type="Request", id=str(request_id), owner_subject_id=owner[0] if owner else None)


def _request_uuid(request_id: str) -> uuid.UUID:
    """The request id of a page URL; anything that is not a whole UUID (a short id, a typo) is a 404."""
    found = _uuid_or_none(request_id)
    if found is None:
        raise NotFoundError(_("No such request."))
    return found


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _subject_id() -> uuid.UUID:
    subject_id = current_principal().subject_id
    if subject_id is None:  # the declaration already refused such a caller
        abort(404)
    return subject_id


def dashboard_chrome() -> dict[str, Any]:
    """What the dashboard layout needs besides the page: the controller (footer) and the sign-out URL. Error pages
    under /me get it too (governance.web registers it as a context processor), so they keep the navigation."""
    from governance.consent import service as consent

    logout = current_app.config.get("GOVERNANCE_SUBJECT_LOGOUT_ENDPOINT", "access.dashboard_logout")
    return {
        "controller": consent.purposes().controller,
        "logout_url": url_for(logout) if logout in current_app.view_functions else None,
    }


def _page(template: str, current: str, **context: Any) -> str:
    context.setdefault("person_erased", _is_erased(_subject_id()))
    return render_template(template, current=current, **dashboard_chrome(), **context)


def _is_erased(subject_id: uuid.UUID) -> bool:
    from governance.vault import service as vault
    from governance.vault.errors import SubjectErasedError, SubjectNotFoundError

    try:
        vault.get_subject(get_session(), subject_id)
    except SubjectErasedError:
        return True
    except SubjectNotFoundError:
        return False
    return False


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


@bp.before_request
def _erased_person_sees_one_page() -> ResponseReturnValue | None:
    """An erased person has nothing left to export, correct, object to or consent to: every other dashboard page
    leads to the one page that says what was deleted and what the law keeps, instead of dead ends."""
    from flask import flash

    endpoint = request.endpoint or ""
    if not endpoint.startswith("web.dashboard") or endpoint in AFTER_ERASURE:
        return None
    subject_id = current_principal().subject_id
    if subject_id is None or not _is_erased(subject_id):
        return None
    if request.method == "POST":
        flash(_("Nothing was changed: your data has already been erased, so there is nothing left to change."), "info")
    return redirect(url_for("web.dashboard"), code=303)


# --- what we hold ------------------------------------------------------------------------------------------


def _profile_groups(fields: dict[str, Any]) -> list[dict[str, Any]]:
    from governance.vault import service as vault

    catalog = vault.categories()
    groups = []
    for identifier, title in IDENTITY_GROUPS:
        rows = [
            {
                "name": name,
                "label": present.profile_label(
                    catalog.profile_fields[name].kind, catalog.profile_fields[name].description
                ),
                "value": present.profile_value(catalog.profile_fields[name].kind, value),
            }
            for name, value in fields.items()
            if name in catalog.profile_fields and catalog.profile_fields[name].identifier == identifier
        ]
        if rows:
            groups.append({"title": title, "fields": rows})
    return groups


ACTIVITY_MONTHS = 6


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    first = today.replace(day=1)
    out = []
    for _month in range(months):
        out.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return list(reversed(out))


def _activity(session: Any, subject_id: uuid.UUID, counts: dict[str, int]) -> dict[str, Any]:
    """Events by kind: all-time totals and per month over the last months, from the vault's counts on the
    clear `occurred_at` and category columns (nothing is decrypted)."""
    from governance.vault import service as vault

    catalog = vault.categories()
    months = _month_starts(utcnow().date(), ACTIVITY_MONTHS)
    per_month: dict[str, list[int]] = {name: [0] * len(months) for name in counts}
    if counts:
        since = dt.datetime.combine(months[0], dt.time(), dt.UTC)
        index = {m.strftime("%Y-%m"): i for i, m in enumerate(months)}
        for month, by_category in vault.event_counts_by_month(session, subject_id, since=since).items():
            slot = index.get(month)
            for category, count in by_category.items():
                if slot is not None and category in per_month:
                    per_month[category][slot] += count
    rows = [
        {
            "label": present.event_label(name, catalog.event_categories[name].description)
            if name in catalog.event_categories
            else name,
            "counts": list(reversed(per_month[name])),  # newest month first
            "total": count,
        }
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    return {"periods": [i18n.format_month(m) for m in reversed(months)], "rows": rows}


def _usage_count(session: Any, subject_id: uuid.UUID) -> int:
    from governance.gateway import service as gateway
    from governance.training import service as training

    return len(gateway.releases_including(session, subject_id)) + len(training.models_including(session, subject_id))


def _render_index(fields: dict[str, Any] | None, *, revealed: bool) -> str:
    from governance.consent import service as consent
    from governance.requests import service as requests
    from governance.requests.lifecycle import OPEN
    from governance.vault import service as vault
    from governance.vault.errors import SubjectErasedError

    session, subject_id = get_session(), _subject_id()
    erased = False
    if fields is None:
        try:
            fields = vault.read_profile(session, subject_id, actor=current_principal(), view="masked")["fields"]
        except SubjectErasedError:  # an erased subject still sees their certificate and history
            fields, erased = {}, True
    statuses = consent.overview(session, subject_id)
    consent_needed = [s for s in statuses if s.legal_basis == "consent"]
    my_requests = requests.requests_for_subject(session, subject_id)
    return _page(
        "web/dashboard/index.html",
        "web.dashboard",
        profile=_profile_groups(fields),
        revealed=revealed,
        erased=erased,
        activity=_activity(session, subject_id, {} if erased else vault.event_counts(session, subject_id)),
        renewal=[present.purpose_title(consent.purposes()[s.purpose]) for s in statuses if s.needs_renewal],
        consent_summary={"allowed": sum(s.allowed for s in consent_needed), "total": len(consent_needed)},
        open_requests=sum(1 for r in my_requests if r.status in {s.value for s in OPEN}),
        usage_count=_usage_count(session, subject_id),
    )


REVEAL_KEY = "web.reveal_until"  # epoch seconds; only the deadline is in the session cookie, never a value
REVEAL_SECONDS = 120  # "Show values" lasts two minutes, then the page masks them again


def _reveal_active() -> bool:
    from flask import session

    until = session.get(REVEAL_KEY)
    if isinstance(until, int | float) and until > utcnow().timestamp():
        return True
    session.pop(REVEAL_KEY, None)
    return False


@bp.get("/me")
@requires("dashboard.view", resource=own_subject)
def dashboard() -> str:
    from governance.vault import service as vault
    from governance.vault.errors import SubjectErasedError

    if _is_erased(_subject_id()):
        return _render_erased()
    if not _reveal_active():
        return _render_index(None, revealed=False)
    try:
        with transaction(get_session()) as session:  # every display in clear is an audited read
            fields = vault.read_profile(session, _subject_id(), actor=current_principal(), view="clear")["fields"]
    except SubjectErasedError:
        return _render_index(None, revealed=False)
    return _render_index(fields, revealed=True)


def _erasure_certificate_facts() -> dict[str, Any] | None:
    """The person's completed erasure (newest) with its certificate's claims, for the page after erasure."""
    from governance.requests import service as requests

    views = [v for v in requests.requests_for_subject(get_session(), _subject_id()) if v.kind == "erasure"]
    for view in sorted(views, key=lambda v: v.received_at, reverse=True):
        if view.has_certificate:
            _token, claims = _certificate(str(view.id))
            return {"request_id": view.id, "claims": claims}
    return None


def _render_erased() -> str:
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
    return _page(
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


@bp.post("/me/reveal")
@requires("profile.read_clear", resource=own_subject)
def dashboard_reveal() -> ResponseReturnValue:
    """Post/redirect/get: the reveal is a short-lived mark in the session, so Back or Reload never re-posts."""
    from flask import session

    session[REVEAL_KEY] = int(utcnow().timestamp()) + REVEAL_SECONDS
    return redirect(url_for("web.dashboard", _anchor="profile-h"), code=303)


@bp.post("/me/hide")
@requires("dashboard.view", resource=own_subject)
def dashboard_hide() -> ResponseReturnValue:
    from flask import session

    session.pop(REVEAL_KEY, None)
    return redirect(url_for("web.dashboard", _anchor="profile-h"), code=303)


# --- consent -----------------------------------------------------------------------------------------------


def _gpc_signal() -> bool:
    return request.headers.get("Sec-GPC", "").strip() == "1"


def _purpose_rows(statuses: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from governance.consent import service as consent

    catalog = consent.purposes()
    gpc = _gpc_signal()
    consent_rows: list[dict[str, Any]] = []
    other_rows: list[dict[str, Any]] = []
    for status in statuses:
        purpose = catalog[status.purpose]
        notice = purpose.current_notice
        row = {
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
        (consent_rows if purpose.requires_consent else other_rows).append(row)
    return consent_rows, other_rows


@bp.get("/me/consent")
@requires("consent.read", resource=own_subject)
def dashboard_consent() -> str:
    from governance.consent import service as consent

    session, subject_id = get_session(), _subject_id()
    if _gpc_signal():
        _honour_gpc(session, subject_id)
    catalog = consent.purposes()
    statuses = consent.overview(session, subject_id)
    consent_rows, other_rows = _purpose_rows(statuses)
    titles = {p.key: present.purpose_title(p) for p in catalog}
    # newest decision first by when the person made it (collected), not by when it reached us (recorded)
    events = sorted(consent.history(session, subject_id), key=_decision_order, reverse=True)
    history = [
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
    by_id = {str(e.id): e for e in events}
    order = {str(e.id): i for i, e in enumerate(events)}
    receipts = [
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
    saved = request.args.get("saved")
    last = next((r for r in receipts if r["id"] == saved), None)
    return _page(
        "web/dashboard/consent.html",
        "web.dashboard_consent",
        consent_purposes=consent_rows,
        other_purposes=other_rows,
        renewal=[present.purpose_title(catalog[s.purpose]) for s in statuses if s.needs_renewal],
        gpc=_gpc_signal(),
        gpc_purposes=[present.purpose_title(p) for p in catalog.sale_or_sharing_purposes()],
        history=history,
        receipts=receipts,
        last_receipt=({"id": last["id"], "summary": _saved_summary(last)} if last else None),
        allowed_count=sum(1 for p in consent_rows if p["allowed"]),
    )


def _saved_summary(receipt: dict[str, Any]) -> str:
    if receipt["decision"] == "granted":
        return _("%(purpose)s is on", purpose=receipt["purpose_title"])
    return _("%(purpose)s is off", purpose=receipt["purpose_title"])


RECORDED_LATER = dt.timedelta(minutes=1)  # below this, "recorded" is just the time the click took to arrive


def _decision_order(event: ConsentEventView) -> tuple[dt.datetime, dt.datetime, int]:
    return (present.aware(event.collected_at), present.aware(event.recorded_at), event.seq)


def _recorded_later(event: ConsentEventView) -> bool:
    """Whether a decision reached us noticeably later than it was made (imported, or sent by the app later)."""
    return present.aware(event.recorded_at) - present.aware(event.collected_at) >= RECORDED_LATER


def _honour_gpc(session: Any, subject_id: uuid.UUID) -> None:
    """A browser's Global Privacy Control signal withdraws sale/sharing purposes (recorded, with receipts)."""
    from governance.consent import service as consent

    statuses = consent.overview(session, subject_id)
    if any(s.sale_or_sharing and s.decision == "granted" for s in statuses):
        with transaction(session):
            consent.apply_gpc(session, subject_id, actor=current_principal())


@bp.post("/me/consent/<purpose_key>")
@requires("consent.write", resource=own_subject)
def dashboard_consent_set(purpose_key: str) -> ResponseReturnValue:
    from governance.consent import service as consent
    from governance.vault import service as vault

    choices = request.form.getlist("decision")
    decision = {"grant": "granted", "withdraw": "withdrawn"}.get(choices[-1] if choices else "")
    if decision is None:
        raise ValidationFailedError(fields={"decision": "grant or withdraw"})
    try:
        notice_version = int(request.form.get("notice_version", ""))
    except ValueError:
        raise ValidationFailedError(fields={"notice_version": "a notice version number"}) from None
    subject_id = _subject_id()
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
        from flask import jsonify

        title = present.purpose_title(consent.purposes()[purpose_key])
        return jsonify(
            allowed=decision == "granted",
            message=_("Saved: %(summary)s.", summary=_saved_summary({"purpose_title": title, "decision": decision})),
            receipt_url=url_for("web.dashboard_receipt_page", receipt_id=record_id),
            state_label=_("On") if decision == "granted" else _("Off"),
            receipt_label=_("See the receipt"),
        )
    return redirect(url_for("web.dashboard_consent", saved=record_id), code=303)


def _notice_shown(purpose_key: str, version: int) -> dict[str, str]:
    """Evidence of which notice text the switch's page offered: its language and pinned hash (the form says which
    language the page was in; a version without that translation was offered in its original language)."""
    from governance.consent import service as consent

    catalog = consent.purposes()
    language = i18n.best_supported(request.form.get("notice_language")) or i18n.current_language()
    shown = catalog.notice_shown(purpose_key, version, language) if purpose_key in catalog else None
    if shown is None:
        return {}  # an unknown purpose or version: the service refuses the decision itself
    return {"notice_language": shown.language, "notice_text_sha256": shown.sha256}


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


@bp.post("/me/consent/all-off")
@requires("consent.write", resource=own_subject)
def dashboard_consent_all_off() -> ResponseReturnValue:
    """One click withdraws every optional (consent-based) purpose the person allows, each with its receipt."""
    from flask import flash

    from governance.consent import service as consent
    from governance.vault import service as vault

    catalog = consent.purposes()
    subject_id = _subject_id()
    with transaction(get_session()) as session:
        allowed = [
            s.purpose
            for s in consent.overview(session, subject_id)
            if s.allowed and catalog[s.purpose].requires_consent
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
    if allowed:
        flash(
            _("Everything optional is off now (%(count)d turned off). Your receipts are below.", count=len(allowed)),
            "success",
        )
    else:
        flash(_("Everything optional was already off."), "info")
    return redirect(url_for("web.dashboard_consent"), code=303)


@bp.get("/me/consent/receipts/<receipt_id>")
@requires("consent.read", resource=own_subject)
def dashboard_receipt(receipt_id: str) -> ResponseReturnValue:
    from governance.consent import service as consent

    found = next((r for r in consent.receipts(get_session(), _subject_id()) if r["record_id"] == receipt_id), None)
    if found is None:
        raise NotFoundError(_("No such receipt."))
    body = json.dumps({"receipt": found["receipt"], "jws": found["jws"]}, indent=2, sort_keys=True)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="consent-receipt-{receipt_id}.json"'},
    )


@bp.get("/me/consent/receipts/<receipt_id>/view")
@requires("consent.read", resource=own_subject)
def dashboard_receipt_page(receipt_id: str) -> str:
    """The receipt in words a person reads (printable), beside the signed JSON download."""
    from governance.consent import service as consent

    found = next((r for r in consent.receipts(get_session(), _subject_id()) if r["record_id"] == receipt_id), None)
    if found is None:
        raise NotFoundError(_("No such receipt."))
    body = found["receipt"]
    event, notice = body.get("event", {}), body.get("notice", {})
    purpose = (body.get("purposes") or [{}])[0]
    catalog = consent.purposes()
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
    key = purpose.get("purpose_id")
    return _page(
        "web/dashboard/receipt.html",
        "web.dashboard_consent",
        receipt_id=receipt_id,
        facts=facts,
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
    from governance.consent import service as consent

    catalog = consent.purposes()
    purpose = catalog.get(purpose_key)
    shown = catalog.notice_shown(purpose_key, version, i18n.current_language()) if purpose else None
    if purpose is None or shown is None:
        raise NotFoundError(_("No such notice."))
    return _page(
        "web/dashboard/notice.html",
        "web.dashboard_consent",
        purpose_title=present.purpose_title(purpose),
        version=version,
        published=purpose.notice(version).published,
        body=markup.render_notice(shown.text),
        notice_language=shown.language,  # English when this version has no text in the reader's language
        fingerprint=shown.sha256,  # over the source text shown, as pinned in purposes.yaml
    )


# --- requests ----------------------------------------------------------------------------------------------


def _request_row(view: Any) -> dict[str, Any]:
    from governance.jobs import service as jobs
    from governance.requests.lifecycle import CLOSED

    finished = view.status in {s.value for s in CLOSED}
    progress = None
    if not finished and view.job_id is not None:
        job = jobs.get_job(get_session(), view.job_id)
        done, total = job.progress_done or 0, job.progress_total or 0
        progress = {
            "done": done,
            "total": total or 1,
            "percent": int(100 * done / total) if total else 0,
            "message": job.progress_message or _("Waiting for its turn…"),
        }
    is_export = view.kind in ("access", "portability")
    completed = view.status in ("completed", "partially_completed")
    expires = present.as_datetime((view.result or {}).get("expires_at"))
    downloadable = is_export and completed and (expires is None or expires > utcnow())
    return {
        "id": view.id,
        "kind_label": present.label(present.REQUEST_KIND_LABELS, view.kind, present.humanize(view.kind)),
        "status": present.request_status("withdrawn" if view.rejection_code == WITHDRAWN_CODE else view.status),
        "cancel_url": (
            url_for("web.dashboard_cancel_request", request_id=view.id)
            if not finished and not (view.kind == "erasure" and view.step not in ("new", "queued"))
            else None
        ),
        "created_at": view.received_at,
        "due_at": view.due_on,
        "days_left": view.days_left,
        "finished": finished,
        "progress": progress,
        "download_url": url_for("web.dashboard_download", request_id=view.id) if downloadable else None,
        "download_until": expires if downloadable else None,
        # a copy sent outside the service by a DPO never had a download here
        "download_gone": is_export and completed and not downloadable and "completed_by_hand" not in view.result,
        "certificate_url": (url_for("web.dashboard_certificate", request_id=view.id) if view.has_certificate else None),
        "note": view.outcome_reason,
    }


@bp.get("/me/requests")
@requires("dsr.read", resource=own_subject)
def dashboard_requests() -> str:
    from governance.consent import service as consent
    from governance.requests import service as requests
    from governance.vault import service as vault

    session, subject_id = get_session(), _subject_id()
    catalog = vault.categories()
    statuses = consent.overview(session, subject_id)
    objectable = [
        {"key": s.purpose, "title": present.purpose_title(consent.purposes()[s.purpose]), "objected": s.objected}
        for s in statuses
        if consent.purposes()[s.purpose].objectable and not consent.purposes()[s.purpose].requires_consent
    ]
    return _page(
        "web/dashboard/requests.html",
        "web.dashboard_requests",
        my_requests=[_request_row(v) for v in requests.requests_for_subject(session, subject_id)],
        editable_fields=[
            {"name": n, "label": present.profile_label(f.kind, f.description)}
            for n, f in catalog.profile_fields.items()
        ],
        rectify=_rectify_form(request.args.get("correct")),
        objectable=objectable,
    )


def _file(kind: str, params: dict[str, Any] | None = None) -> Any:
    from governance.requests import service as requests

    with transaction(get_session()) as session:
        return requests.file_request(
            session,
            subject_id=_subject_id(),
            kind=kind,
            actor=current_principal(),
            source="subject",
            verification_method=VERIFIED_BY_SESSION,
            params=params or {},
        )


def _back_to_requests(message: str, category: str = "success") -> ResponseReturnValue:
    from flask import flash

    flash(message, category)
    return redirect(url_for("web.dashboard_requests"), code=303)


@bp.post("/me/requests/export")
@requires("dsr.create", resource=own_subject)
def dashboard_export() -> ResponseReturnValue:
    filed = _file("access")
    if filed.merged:
        return _back_to_requests(_("You already asked for a copy of your data; we are preparing it."), "info")
    return _back_to_requests(_("We are preparing a copy of your data. The download appears here when it is ready."))


RECTIFY_KEY = "web.rectify"  # the person's own rejected input, shown once on the next page, then dropped


def _rectify_form(field_name: str | None) -> dict[str, Any] | None:
    """The correction form for one field: the right input (a date picker for dates, lists of names for countries
    and languages), how to write it, and, after a rejected try, what was typed and what was wrong."""
    from flask import session

    from governance.vault import service as vault

    catalog = vault.categories()
    rejected = session.pop(RECTIFY_KEY, None)
    if isinstance(rejected, dict) and rejected.get("field") in catalog.profile_fields:
        field_name = rejected["field"]
    else:
        rejected = None
    if field_name not in catalog.profile_fields:
        return None
    spec = catalog.profile_fields[field_name]
    return {
        "name": field_name,
        "label": present.profile_label(spec.kind, spec.description),
        "kind": spec.kind,
        "hint": present.rectify_hint(spec.kind),
        "options": present.rectify_options(spec.kind),
        "max_length": spec.max_length,
        "today": utcnow().date().isoformat(),
        "value": rejected.get("value", "") if rejected else "",
        "problem": rejected.get("problem") if rejected else None,
    }


@bp.post("/me/requests/rectify")
@requires("dsr.create", resource=own_subject)
def dashboard_rectify() -> ResponseReturnValue:
    from flask import session

    from governance.vault import service as vault

    name, value = request.form.get("field", ""), request.form.get("value", "").strip()
    fields = vault.categories().profile_fields
    if name not in fields:
        raise ValidationFailedError(fields={"field": "one of the profile fields"})
    problem = None
    if not value:
        problem = _("Please fill this in.")
    else:
        try:
            _file("rectification", {"fields": {name: value}})
        except DomainError as exc:
            if exc.status != 422:
                raise
            # the service's messages name the field, never the value; the page says it in plain words
            problem = present.rectify_problem(fields[name].kind, " ".join(exc.fields.values()))
    if problem:
        session[RECTIFY_KEY] = {"field": name, "value": value[:500], "problem": problem}
        return redirect(url_for("web.dashboard_requests", correct=name, _anchor="rectify"), code=303)
    return _back_to_requests(_("Thank you. We corrected your data."))


WITHDRAWN_CODE = "withdrawn_by_subject"  # policies/requests.yaml rejection_reasons


@bp.post("/me/requests/<request_id>/cancel")
@requires("dsr.create", resource=own_subject)
def dashboard_cancel_request(request_id: str) -> ResponseReturnValue:
    """The person withdraws a pending request (recorded as closed with the reason "withdrawn_by_subject")."""
    from governance.errors import ConflictError
    from governance.requests import service as requests

    wanted = _uuid_or_none(request_id)
    owner = requests.request_owner(get_session(), wanted) if wanted else None
    if wanted is None or owner is None or owner[0] != _subject_id():
        raise NotFoundError(_("No such request."))
    try:
        with transaction(get_session()) as session:
            requests.reject_request(session, wanted, code=WITHDRAWN_CODE, actor=current_principal())
    except ConflictError:
        return _back_to_requests(_("This request can no longer be withdrawn: we have already carried it out."), "info")
    return _back_to_requests(_("You withdrew the request. Nothing more will be done for it."))


@bp.post("/me/requests/object")
@requires("dsr.create", resource=own_subject)
def dashboard_object() -> ResponseReturnValue:
    purposes = request.form.getlist("purpose")
    if not purposes:
        return _back_to_requests(_("Choose at least one use you object to."), "warning")
    _file("objection", {"purposes": purposes})
    return _back_to_requests(_("We recorded your objection and stopped those uses of your data."))


def _erasure_summary() -> tuple[list[str], list[dict[str, Any]]]:
    from governance.requests import service as requests
    from governance.vault import service as vault

    session, subject_id = get_session(), _subject_id()
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
    return _page(
        "web/dashboard/erase_confirm.html",
        "web.dashboard_requests",
        deleted=deleted,
        kept=kept,
        usage_count=_usage_count(get_session(), _subject_id()),
    )


@bp.post("/me/requests/erase")
@requires("dsr.create", resource=own_subject)
def dashboard_erase_confirm() -> ResponseReturnValue:
    if request.form.get("confirm") != "yes":
        return _back_to_requests(_("Nothing was deleted: tick the box to confirm."), "warning")
    _file("erasure")
    return _back_to_requests(_("We are deleting your data. The certificate appears here when it is done."))


@bp.get("/me/requests/<request_id>/status")
@requires("dsr.read", resource=own_request)
def dashboard_request_status(request_id: str) -> ResponseReturnValue:
    from flask import jsonify

    from governance.requests import service as requests

    row = _request_row(requests.get_request(get_session(), _request_uuid(request_id)))
    progress = row["progress"] or {}
    return jsonify(
        status=row["status"]["code"],
        done=progress.get("done"),
        total=progress.get("total"),
        message=progress.get("message"),
        finished=row["finished"],
    )


DOWNLOAD_GONE = _l(
    "That copy of your data is no longer available: we delete each copy when its download time runs out. "
    "Request a new copy below if you still need one."
)
DOWNLOAD_NOT_READY = _l("Your copy is not ready yet. This page shows how far it has got; the download appears here.")


@bp.get("/me/requests/<request_id>/download")
@requires("dsr.download", resource=own_request)
def dashboard_download(request_id: str) -> ResponseReturnValue:
    from governance.requests import service as requests

    actor = current_principal()
    try:
        with transaction(get_session()) as session:  # issuing and using the link are both audited
            token, _expires = requests.issue_download_link(session, _request_uuid(request_id), actor=actor)
            content, filename = requests.open_download(session, token, actor=actor)
    except DownloadLinkGoneError:  # a stale tab or a bookmark: say what happened and what to do, on the page
        return _back_to_requests(str(DOWNLOAD_GONE), "info")
    except InvalidTransitionError as exc:
        if exc.code != "export_not_ready":
            raise
        return _back_to_requests(str(DOWNLOAD_NOT_READY), "info")
    return Response(
        content,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


DOWNSTREAM_WORDS = {
    "confirmed": _l("confirmed"),
    "pending": _l("not confirmed yet"),
    "failed": _l("could not be reached yet"),
}


def _certificate(request_id: str) -> tuple[str, Any]:
    from flask import current_app as app

    from governance.requests import certificate as certificates
    from governance.requests import service as requests

    token = requests.certificate_of(get_session(), _request_uuid(request_id))
    keys = app.extensions["governance.keys"]
    claims = certificates.verify_certificate(token, [keys.public_key(requests.CERTIFICATE_KEY)])
    return token, claims


@bp.get("/me/requests/<request_id>/certificate")
@requires("dsr.read", resource=own_request)
def dashboard_certificate(request_id: str) -> str:
    token, claims = _certificate(request_id)
    facts = [
        (_("Certificate"), claims.jti),
        (_("Request received"), i18n.format_long_when(claims.received_at) + " UTC"),
        (_("Erasure completed"), i18n.format_long_when(claims.completed_at) + " UTC"),
        (_("Deleted"), ", ".join(present.humanize(c) for c in claims.deleted) or "—"),
        (
            _("Kept by law"),
            "; ".join(
                f"{present.humanize(k.category)}: {k.reason}"
                + (
                    " (" + _("deleted on %(day)s", day=i18n.format_long_day(present.as_datetime(k.retain_until))) + ")"
                    if k.retain_until
                    else ""
                )
                for k in claims.kept
            )
            or _("Nothing"),
        ),
        (_("Consents withdrawn"), i18n.format_number(claims.consents_withdrawn)),
        (
            _("Services told"),
            ", ".join(f"{d.processor} ({DOWNSTREAM_WORDS.get(d.status, d.status)})" for d in claims.downstream)
            or _("None were registered"),
        ),
        (_("Models marked for retraining"), i18n.format_number(claims.models_flagged)),
        (_("What remains"), claims.tombstone),
    ]
    return _page(
        "web/dashboard/certificate.html",
        "web.dashboard_requests",
        certificate={"request_id": request_id, "facts": facts, "signature": token},
    )


@bp.get("/me/requests/<request_id>/certificate.jwt")
@requires("dsr.read", resource=own_request)
def dashboard_certificate_json(request_id: str) -> ResponseReturnValue:
    token, _claims = _certificate(request_id)
    return Response(
        token,
        mimetype="application/jwt",
        headers={"Content-Disposition": f'attachment; filename="erasure-certificate-{request_id}.jwt"'},
    )


# --- how my data is used -----------------------------------------------------------------------------------


def _release_protections(release: Any) -> list[str]:
    """What protected the person in a dataset release, from the release's own record and manifest."""
    from governance.gateway import service as gateway

    mode = gateway.release_mode_info(release)
    out = [_(mode.label)]  # the gateway's labels are in the catalog (governance/web/i18n.py)
    if release.pseudonym_mode == "stable":
        out.append(_("Pseudonymized (identifiers replaced by a code that stays the same for this recipient)"))
    elif release.pseudonym_mode:
        out.append(_("Pseudonymized (identifiers replaced by codes used in this dataset only)"))
    per_person = ((release.manifest or {}).get("k_anonymity") or {}).get("unit") == "person"
    numbers = {"others": release.k_achieved - 1 if release.k_achieved else 0, "k": release.k_achieved}
    if release.k_achieved and per_person:
        out.append(
            _(
                "k-anonymity: everything this dataset holds about you on age, place, device and dates is shared by "
                "at least %(others)d other people (k = %(k)d, required %(required)d); the recorded activity itself "
                "(items, values) is not anonymous",
                required=release.k_required,
                **numbers,
            )
        )
    elif release.k_achieved:
        out.append(
            _(
                "k-anonymity: each row looks the same as rows of at least %(others)d other people "
                "(k = %(k)d, required %(required)d)",
                required=release.k_required,
                **numbers,
            )
        )
    elif release.k_required:
        out.append(_("k-anonymity required (k \u2265 %(required)d)", required=release.k_required))
    diversity = (release.manifest or {}).get("l_diversity") or {}
    if diversity.get("l_achieved"):
        out.append(
            _(
                "l-diversity of %(attribute)s (l = %(l)s)",
                attribute=present.humanize(diversity["attribute"]),
                l=diversity["l_achieved"],
            )
        )
    if mode.personal_data:
        out.append(_("No differential privacy: a dataset holds coarsened rows, not noisy statistics"))
    return out


def _model_protections(job: Any) -> list[str]:
    """What protected the person in a trained model, from the training job's privacy accounting."""
    out = [_("Trained on pseudonymized data")]
    epsilon = job.epsilon_spent or job.target_epsilon
    if epsilon:
        out.append(_("Differential privacy (\u03b5 = %(epsilon)s)", epsilon=present.format_decimal_text(epsilon, 2)))
    return out


@bp.get("/me/usage")
@requires("lineage.read", resource=own_subject)
def dashboard_usage() -> str:
    from governance.consent import service as consent
    from governance.gateway import service as gateway
    from governance.training import service as training

    session, subject_id = get_session(), _subject_id()
    titles = {p.key: present.purpose_title(p) for p in consent.purposes()}
    recipients = {c["id"]: c["name"] for c in sources.clients(session)}
    releases = []
    for summary in gateway.releases_including(session, subject_id):
        release = gateway.get_release(session, summary.release_id)
        releases.append(
            {
                "at": summary.completed_at or summary.created_at,
                "purpose_title": titles.get(summary.purpose, summary.purpose),
                "recipient": recipients.get(summary.client_id, summary.client_id),
                "protections": _release_protections(release),
                "file_deleted": summary.status == "expired",
            }
        )
    models = []
    for model in training.models_including(session, subject_id):
        job = training.get_job(session, model.job_id)
        models.append(
            {
                "at": model.trained_at,
                "name": present.label(present.MODEL_KIND_LABELS, model.kind, present.humanize(model.kind)),
                "purpose_title": titles.get(model.purpose, model.purpose),
                "protections": _model_protections(job),
                "flagged": model.flagged,
            }
        )
    return _page("web/dashboard/usage.html", "web.dashboard_usage", releases=releases, models=models)


# --- who accessed my data ----------------------------------------------------------------------------------


def _access_entries() -> list[Any]:
    from governance.gateway import service as gateway
    from governance.requests import service as requests
    from governance.web import access_log

    session, subject_id = get_session(), _subject_id()
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
    return _page("web/dashboard/access.html", "web.dashboard_access", entries=entries)


@bp.get("/me/access/<int:seq>/proof")
@requires("dashboard.view", resource=own_subject)
def dashboard_access_proof(seq: int) -> ResponseReturnValue:
    """The entry's RFC 9162 inclusion proof in a checkpoint signed now, with the log's public key: the person
    (or anyone they give it to) checks it offline with governance/audit/offline_verify.py."""
    from governance.audit import service as audit
    from governance.db import get_db

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


# --- language ----------------------------------------------------------------------------------------------

_BACK_TO = re.compile(r"^/me(/[A-Za-z0-9_.-]+)*$")


@bp.post("/me/language")
@requires("dashboard.view", resource=own_subject)
def dashboard_language() -> ResponseReturnValue:
    """The language switcher: the choice lives in the session only (the profile is not changed, so nothing is
    audited) and wins over the profile and the browser (governance/web/i18n.py); post/redirect/get."""
    from flask import session

    chosen = i18n.best_supported(request.form.get("language"))
    if chosen is None:
        raise ValidationFailedError(fields={"language": "one of " + ", ".join(i18n.SUPPORTED)})
    session[i18n.SESSION_KEY] = chosen
    back = request.form.get("next", "")
    return redirect(back if _BACK_TO.match(back) and ".." not in back else url_for("web.dashboard"), code=303)
