"""The staff console (/console) for auditors, the DPO and admins.

Every page declares its action; sections of a page that need another permission are shown only when the
policy allows it (`_may`). Pages show ids and counts, never decrypted personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any, cast

from flask import Response, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from governance import audit
from governance.access import authn
from governance.access.decorators import current_principal, requires, resource_of
from governance.access.principals import Principal, Resource
from governance.db import get_session, transaction, utcnow
from governance.errors import DomainError, NotFoundError, ValidationFailedError
from governance.web import present
from governance.web.blueprint import bp


@resource_of("Console")
def console_resource(_args: dict[str, Any]) -> Resource:
    return Resource(type="Console", id="console")


@resource_of("AuditLog")
def audit_log(_args: dict[str, Any]) -> Resource:
    return Resource(type="AuditLog", id="log")


@resource_of("Request")
def a_request(args: dict[str, Any]) -> Resource:
    try:
        request_id = uuid.UUID(str(args.get("request_id")))
    except ValueError:
        return Resource(type="Request", id="invalid")
    return Resource(type="Request", id=str(request_id))


def _request_uuid(request_id: str) -> uuid.UUID:
    """The request id of a console URL; anything that is not a whole UUID (a short id, a typo) is a 404."""
    try:
        return uuid.UUID(request_id)
    except ValueError:
        raise NotFoundError("No such request.") from None


def _may(action: str, resource: Resource | None = None, principal: Principal | None = None) -> bool:
    from governance.access import service as access

    return access.allowed(principal or current_principal(), action, resource or Resource.system())


def _verification() -> dict[str, Any] | None:
    """The newest stored verification report (the `audit.verify` job's), shown with its time (and the alarm)
    on every console page: one row read, never the log (docs/web.md, "Verification on console pages")."""
    if not _may("audit.verify", Resource(type="AuditLog", id="log")):
        return None
    stored = audit.latest_verification(get_session())
    if stored is None:
        return {
            "ok": None,
            "pending": True,
            "entries": 0,
            "checked_at": None,
            "summary": "Not verified yet: the first verification runs within a minute once the job worker is "
            "running (or choose Verify now)",
            "details": [],
        }
    return _verification_view(stored)


def _verification_view(stored: audit.StoredVerification) -> dict[str, Any]:
    report = stored.report
    failure = report.get("failure")
    details: list[tuple[str, Any]] = [
        ("Entries proven by a signed checkpoint", report.get("verified_entries", 0)),
        ("Entries after the newest checkpoint", report.get("unanchored_entries", 0)),
        ("Checkpoints verified", report.get("checkpoints_verified", 0)),
        ("Entries not yet sealed", report.get("unsealed_entries", 0)),
    ]
    if report.get("root"):
        details.append(("Tree root", report["root"]))
    if failure is not None:
        where = f"entry {failure['position']}" if failure.get("position") is not None else "the checkpoints"
        details.append(("Failure", f"{failure['reason']} at {where}: {failure['detail']}"))
    if stored.kind == "incremental":
        full_every = current_app.extensions["governance.settings"].get_float("AUDIT_VERIFY_FULL_SECONDS", 3600.0)
        every = present.plural(round(full_every / 60), "minute")
        scope = f"Entries from {report.get('incremental_from', 0)} on (the whole log is checked every {every})"
    else:
        scope = "The whole log"
    details.append(("Checked", f"{scope}, in {stored.seconds:g} s"))
    message = str(report.get("message") or "")
    return {
        "ok": stored.ok,
        "pending": False,
        "entries": stored.entries,
        "checked_at": stored.checked_at,
        "summary": message[:1].upper() + message[1:],
        "details": details,
    }


CONSOLE_NAV = (
    ("web.console", "Overview", "console.view"),
    ("web.console_audit", "Audit log", "audit.read"),
    ("web.console_requests", "Requests", "dsr.read"),
    ("web.console_consent", "Consent", "consent.read"),
    ("web.console_budgets", "Privacy budgets", "budget.read"),
    ("web.console_releases", "Releases and models", "dataset.read"),
    ("web.console_policies", "Policies in force", "policy.read"),
    ("web.console_records", "Records of processing", "policy.read"),
    ("web.console_admin", "Admin", "console.view"),
)


def _nav(principal: Principal | None = None) -> list[tuple[str, str]]:
    """The console sections this member of staff may open (others are not shown)."""
    resources = {"audit.read": Resource(type="AuditLog", id="log"), "console.view": Resource(type="Console")}
    return [
        (endpoint, label) for endpoint, label, action in CONSOLE_NAV if _may(action, resources.get(action), principal)
    ]


def _page(template: str, current: str, **context: Any) -> str:
    principal = current_principal()
    logout = current_app.config.get("GOVERNANCE_STAFF_LOGOUT_ENDPOINT", "access.logout")
    if "verification" not in context:
        context["verification"] = _verification()
    return render_template(
        template,
        current=current,
        nav=_nav(),
        staff_label=", ".join(sorted(principal.roles)) if principal.roles else None,
        logout_url=url_for(logout) if logout in current_app.view_functions else None,
        **context,
    )


def console_chrome() -> dict[str, Any]:
    """The console layout around an error page under /console (templates/errors/error.html), so that a member of
    staff who followed a stale or mistyped link keeps the navigation; empty for anyone else. A 404 from routing
    ran no access check, so the staff session is resolved here (read only: nothing is authorized by it)."""
    principal = g.get("principal") or authn.resolve_principal(request, required=False)
    if principal.kind != "staff":
        return {}
    nav = _nav(principal)
    sections = [(url_for(endpoint), endpoint) for endpoint, _label in nav if endpoint != "web.console"]
    current = next((e for url, e in sections if request.path.startswith(url)), "web.console")
    logout = current_app.config.get("GOVERNANCE_STAFF_LOGOUT_ENDPOINT", "access.logout")
    return {
        "on_console": True,
        "nav": nav,
        "current": current,
        "verification": None,
        "staff_label": ", ".join(sorted(principal.roles)) if principal.roles else None,
        "logout_url": url_for(logout) if logout in current_app.view_functions else None,
    }


# --- overview ----------------------------------------------------------------------------------------------


@bp.get("/console")
@requires("console.view", resource=console_resource)
def console() -> str:
    from governance.requests import service as requests

    session = get_session()
    cards = []
    overdue_count = 0
    if _may("dsr.read"):
        overdue_count = len(requests.overdue(session))
        counts = requests.count_by_status(session)  # one GROUP BY, not a listing of every open request
        open_count = sum(counts.get(s, 0) for s in OPEN_STATUSES)
        cards.append(
            {
                "title": "Open requests",
                "value": open_count,
                "label": "received, verified or in progress",
                "url": url_for("web.console_requests"),
                "link": "Open the request queue",
            }
        )
    return _page(
        "web/console/index.html",
        "web.console",
        overdue_count=overdue_count,
        can_read_requests=_may("dsr.read"),
        extra_cards=cards,
    )


# --- requests ----------------------------------------------------------------------------------------------

OPEN_STATUSES = ("received", "verified", "in_progress")


def _queue_row(view: Any) -> dict[str, Any]:
    return {
        "id": view.id,
        "short_id": str(view.id)[:8],
        "kind_label": present.humanize(view.kind),
        "source": present.humanize(view.source),
        "status": view.status,
        "overdue": view.overdue,
        "created_at": view.received_at,
        "due_at": view.due_on,
        "days_left": view.days_left if view.status in OPEN_STATUSES else None,
    }


@bp.get("/console/requests")
@requires("dsr.read")
def console_requests() -> str:
    from governance.requests import service as requests
    from governance.requests.lifecycle import Status

    session = get_session()
    status_filter = request.args.get("status", "")
    statuses = [s.value for s in Status]
    if status_filter == "all":
        views = requests.list_requests(session, limit=500)
    elif status_filter in statuses:
        views = requests.list_requests(session, status=status_filter, limit=500)
    else:
        views = [v for s in OPEN_STATUSES for v in requests.list_requests(session, status=s, limit=500)]
    views.sort(key=lambda v: (v.status not in OPEN_STATUSES, v.due_on, v.received_at))
    rows = [_queue_row(v) for v in views]
    return _page(
        "web/console/requests.html",
        "web.console_requests",
        queue=rows,
        statuses=statuses,
        status_filter=status_filter,
        overdue_count=sum(r["overdue"] for r in rows),
        due_soon_count=sum(1 for r in rows if r["days_left"] is not None and 0 <= r["days_left"] <= 7),
    )


TIMELINE_LABELS = {
    "requests.bundle.created": "Export bundle prepared",
    "requests.bundle.downloaded": "Export downloaded",
    "requests.bundle.deleted": "Export bundle deleted after its retention period",
    "requests.link.issued": "Download link issued",
    "requests.erasure.performed": "Data erased (keys destroyed)",
    "requests.certificate.issued": "Erasure certificate issued",
    "requests.request.merged": "Duplicate request merged",
    "requests.request.overdue": "Overdue alert raised",
    "requests.request.assigned": "Owner assigned",
    "requests.request.unassigned": "Owner removed",
    "requests.note.added": "Internal note added",
    "requests.request.retried": "Job queued again by staff",
}


def _timeline(view: Any) -> list[dict[str, Any]]:
    """State changes from the request itself (immediate), plus the other steps recorded in the audit log."""
    events = [{"at": view.received_at, "label": "Received", "note": f"from {view.source}"}]
    if view.verified_at:
        method = view.verification_method or ""
        events.append(
            {"at": view.verified_at, "label": "Identity verified", "note": VERIFICATION_METHODS.get(method, method)}
        )
    for extension in view.extensions:
        events.append(
            {
                "at": present.as_datetime(extension.get("at")),
                "label": f"Deadline extended by {extension.get('amount')} {extension.get('unit')}",
                "note": extension.get("reason"),
            }
        )
    if view.closed_at:
        events.append({"at": view.closed_at, "label": present.humanize(view.status), "note": view.outcome_reason or ""})
    # the steps' entries only (positions, actions and times: one indexed query, no details)
    for step in audit.actions_on(get_session(), "request", view.id, actions=TIMELINE_LABELS, limit=1000):
        events.append({"at": step.at, "label": TIMELINE_LABELS[step.action], "note": f"audit entry {step.seq}"})
    return sorted(events, key=lambda e: e["at"] or dt.datetime.max.replace(tzinfo=dt.UTC))


#: how staff may have verified a requester's identity (recorded on the request and in the audit log)
VERIFICATION_METHODS = {
    "dashboard_session": "The person asked while signed in to their dashboard",
    "email_link": "The person confirmed through a link sent to the address we hold",
    "id_document": "An identity document was checked and not kept",
    "known_details": "The person confirmed details only they would know",
    "authorized_agent": "An authorized agent showed signed permission",
}
CONFIRMATION_METHODS = {
    "email": "By e-mail",
    "letter": "By letter",
    "phone": "By phone",
    "dashboard": "On the dashboard",
}
#: what each role may see of whose request it is
PERSON_FIELDS = ("name", "email")


def _person(view: Any) -> str:
    """Whose request it is, masked (for roles that may read masked profiles) or as a short id (others)."""
    from governance.vault import service as vault

    short = f"Person {str(view.subject_id)[:8]}"
    if not _may("profile.read_masked", Resource.subject(view.subject_id)):
        return short
    try:
        profile = vault.read_profile(get_session(), view.subject_id, actor=current_principal(), view="masked")
    except DomainError:  # erased (or unknown): the tombstone has no profile
        return f"{short} (erased)"
    shown = [str(profile["fields"][name]) for name in PERSON_FIELDS if profile["fields"].get(name)]
    return f"{short}: {', '.join(shown)}" if shown else short


def _staff_choices() -> list[dict[str, str]]:
    from governance.web import sources

    return [{"id": s["id"], "label": s["label"]} for s in sources.staff(get_session()) if s["status"] == "active"]


def _extension_choices(view: Any) -> list[tuple[int, str]]:
    """1 .. the whole remaining allowance, in the jurisdiction's unit ("1 month", "2 months")."""
    available = view.extension_available
    if not available:
        return []
    total, unit = _extension_amount(available), str(available).split()[-1]
    singular = unit.rstrip("s")
    return [(n, present.plural(n, singular)) for n in range(1, total + 1)]


@bp.get("/console/requests/<request_id>")
@requires("dsr.read", resource=a_request)
def console_request(request_id: str) -> str:
    from governance.requests import service as requests
    from governance.requests.lifecycle import CLOSED, Status

    session = get_session()
    view = requests.get_request(session, _request_uuid(request_id))
    row = _queue_row(view)
    choices = _staff_choices()
    staff = {s["id"]: s["label"] for s in choices}
    owner = requests.owner_of(session, view.id)
    facts: list[tuple[str, Any]] = [
        ("Whose request", _person(view)),
        ("Owner", staff.get(str(owner), "Former staff member") if owner else "Nobody yet"),
        ("Jurisdiction", view.jurisdiction),
        ("Identity verified", _verified_words(view)),
        ("Original due date", view.original_due_on.isoformat()),
        ("Step", present.humanize(view.step)),
    ]
    is_open = view.status not in {status.value for status in CLOSED}
    if view.extension_available:
        facts.append(("Extension still available", view.extension_available))
        notice_by = present.field(view, "extension_notice_by")
        if notice_by:
            facts.append(("Tell the person of an extension by", notice_by.isoformat()))
    elif is_open:
        facts.append(("Extension", _extension_refusal(view)))
    facts += [(present.humanize(i.get("category") or i.get("item")), i.get("outcome")) for i in view.items]
    may_manage = _may("dsr.manage", a_request({"request_id": request_id}))
    return _page(
        "web/console/request.html",
        "web.console_requests",
        req={**row, "facts": facts},
        can_extend=bool(view.extension_available) and may_manage,
        extension_choices=_extension_choices(view),
        can_manage=may_manage and is_open,
        can_verify=may_manage and view.status == Status.RECEIVED.value and view.kind != "rectification",
        can_confirm=may_manage and is_open and view.confirmed_at is None and view.confirm_by is not None,
        verification_methods=VERIFICATION_METHODS,
        confirmation_methods=CONFIRMATION_METHODS,
        rejection_reasons=_staff_rejection_reasons(),
        staff=choices,
        owner=str(owner) if owner else "",
        notes=[
            {"at": n.created_at, "by": staff.get(str(n.staff_id), "Former staff member"), "text": n.text}
            for n in requests.notes_of(session, view.id)
        ]
        if may_manage
        else [],
        timeline=_timeline(view),
        **_manual_actions(view, request_id, may_manage),
    )


def _manual_actions(view: Any, request_id: str, may_manage: bool) -> dict[str, Any]:
    """Retry and complete by hand, offered exactly when the service would accept them (it decides why not)."""
    from governance.requests import service as requests

    session = get_session()
    retry_refusal = requests.may_retry(session, view)
    complete_refusal = requests.may_complete(session, view)
    may_complete = _may("dsr.complete", a_request({"request_id": request_id}))
    return {
        "can_retry": may_manage and retry_refusal is None,
        "can_complete": may_complete and complete_refusal is None,
        # an open request the DPO cannot complete: say why (for example an erasure not carried out yet)
        "complete_refusal": (
            requests.refusal_text(complete_refusal)
            if may_complete and complete_refusal not in (None, "not_in_progress")
            else None
        ),
        "completion_methods": requests.COMPLETION_METHODS,
    }


def _staff_rejection_reasons() -> dict[str, str]:
    """The policy's rejection reasons staff may choose (`subject_erased` is the service's own)."""
    from governance.requests import service as requests

    return {code: text for code, text in requests.get_policy().rejection_reasons.items() if code != "subject_erased"}


def _verified_words(view: Any) -> str:
    if not view.verified_at:
        return "Not yet"
    method = VERIFICATION_METHODS.get(view.verification_method or "", present.humanize(view.verification_method))
    return f"{method} ({view.verified_at:%-d %b %Y})"


def _back_to(request_id: str) -> ResponseReturnValue:
    return redirect(url_for("web.console_request", request_id=request_id), code=303)


def _act(request_id: str, action: Any, done: str) -> ResponseReturnValue:
    """Run one staff action on a request in its own transaction (the change and its audit entry together);
    a refusal the person at the console can act on (409/422) is a message on the request page, not an error."""
    session = get_session()
    try:
        with transaction(session):
            action(session, _request_uuid(request_id))
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        flash(f"Not done: {exc.message}", "error")  # service messages hold no personal data
        return _back_to(request_id)
    flash(done, "success")
    return _back_to(request_id)


def _choice(name: str, allowed: Any) -> str:
    value = request.form.get(name, "")
    if value not in allowed:
        raise ValidationFailedError(fields={name: "one of the listed choices"})
    return value


@bp.post("/console/requests/<request_id>/verify")
@requires("dsr.manage", resource=a_request)
def console_request_verify(request_id: str) -> ResponseReturnValue:
    from governance.requests import service as requests

    method = _choice("method", VERIFICATION_METHODS)
    return _act(
        request_id,
        lambda session, rid: requests.verify_request(session, rid, method=method, actor=current_principal()),
        "Identity verified; work on the request has started.",
    )


@bp.post("/console/requests/<request_id>/confirm")
@requires("dsr.manage", resource=a_request)
def console_request_confirm(request_id: str) -> ResponseReturnValue:
    from governance.requests import service as requests

    method = _choice("method", CONFIRMATION_METHODS)
    return _act(
        request_id,
        lambda session, rid: requests.confirm_request(session, rid, method=method, actor=current_principal()),
        "Receipt confirmed to the person.",
    )


@bp.post("/console/requests/<request_id>/reject")
@requires("dsr.manage", resource=a_request)
def console_request_reject(request_id: str) -> ResponseReturnValue:
    from governance.requests import service as requests

    code = _choice("code", _staff_rejection_reasons())
    return _act(
        request_id,
        lambda session, rid: requests.reject_request(session, rid, code=code, actor=current_principal()),
        "Request rejected; the person is told the reason shown.",
    )


@bp.post("/console/requests/<request_id>/owner")
@requires("dsr.manage", resource=a_request)
def console_request_owner(request_id: str) -> ResponseReturnValue:
    from governance.requests import service as requests

    choice = _choice("owner", {"", *(s["id"] for s in _staff_choices())})
    owner = uuid.UUID(choice) if choice else None
    return _act(
        request_id,
        lambda session, rid: requests.assign_owner(session, rid, owner_staff_id=owner, actor=current_principal()),
        "Owner saved." if owner else "The request has no owner now.",
    )


@bp.post("/console/requests/<request_id>/notes")
@requires("dsr.manage", resource=a_request)
def console_request_note(request_id: str) -> ResponseReturnValue:
    from governance.requests import service as requests

    text = request.form.get("text", "")
    return _act(
        request_id,
        lambda session, rid: requests.add_note(session, rid, text=text, actor=current_principal()),
        "Note added (staff only; never shown to the person).",
    )


@bp.post("/console/requests/<request_id>/extend")
@requires("dsr.manage", resource=a_request)
def console_request_extend(request_id: str) -> ResponseReturnValue:
    from governance.requests import service as requests

    reason = request.form.get("reason", "").strip()
    if len(reason) < 10:
        raise ValidationFailedError(fields={"reason": "at least 10 characters"})
    session = get_session()
    view = requests.get_request(session, _request_uuid(request_id))
    if not view.extension_available:  # the service would refuse it too, for the same reason
        flash(f"Not extended: {_extension_refusal(view)}", "error")
        return _back_to(request_id)
    choices = dict(_extension_choices(view))
    amount_text = request.form.get("amount") or str(max(choices))  # a form without the choice: the whole allowance
    if not amount_text.isdigit() or int(amount_text) not in choices:
        raise ValidationFailedError(fields={"amount": "one of the listed choices"})
    amount = int(amount_text)
    return _act(
        request_id,
        lambda session, rid: requests.extend_request(
            session, rid, amount=amount, reason=reason, actor=current_principal()
        ),
        f"Deadline extended by {choices[amount]}; the person is told why.",
    )


@bp.post("/console/requests/<request_id>/retry")
@requires("dsr.manage", resource=a_request)
def console_request_retry(request_id: str) -> ResponseReturnValue:
    from governance.requests import service as requests

    return _act(
        request_id,
        lambda session, rid: requests.retry_job(session, rid, actor=current_principal()),
        "The request's job is queued again.",
    )


@bp.post("/console/requests/<request_id>/complete")
@requires("dsr.complete", resource=a_request)
def console_request_complete(request_id: str) -> ResponseReturnValue:
    from governance.requests import service as requests

    method = _choice("method", requests.COMPLETION_METHODS)
    reference = request.form.get("reference", "")  # kept as an internal note; never flashed, logged or audited
    return _act(
        request_id,
        lambda session, rid: requests.complete_by_hand(
            session, rid, method=method, reference=reference, actor=current_principal()
        ),
        "Request completed; the person is told it is done.",
    )


EXTENSION_REFUSALS = {
    "request_closed": "A closed request cannot be extended.",
    "extension_not_available": "The law allows no (further) extension for this request.",
    "extension_beyond_maximum": "The legal maximum extension is used.",
    "extension_notice_late": "The person must be told of an extension within the first period.",
}


def _extension_refusal(view: Any) -> str:
    """Why no extension is available, from the request's view (its `extension_refusal` code, when it has one)."""
    code = present.field(view, "extension_refusal")
    text = EXTENSION_REFUSALS.get(code, "No extension is available for this request.")
    notice_by = present.field(view, "extension_notice_by")
    if code == "extension_notice_late" and notice_by:
        text += f" The last day to tell them was {notice_by:%-d %b %Y}."
    return text


def _extension_amount(available: str | None) -> int:
    """The whole remaining extension allowance (for example "2 months" -> 2)."""
    try:
        return int(str(available).split()[0])
    except (ValueError, IndexError):
        raise ValidationFailedError("No extension is available for this request.") from None


# --- policies and records of processing --------------------------------------------------------------------


def _purpose_rows() -> list[dict[str, Any]]:
    from governance.consent import service as consent

    rows = []
    for p in consent.purposes():
        gateway = _gateway_words(p.gateway) if p.gateway else None
        rows.append(
            {
                "key": p.key,
                "title": p.title,
                "description": p.description,
                "legal_basis": p.legal_basis.value,
                "legal_basis_label": present.LEGAL_BASIS_LABELS.get(p.legal_basis.value, p.legal_basis.value),
                "profile_fields": [present.humanize(name) for name in p.profile_fields],
                "event_categories": [present.humanize(name) for name in p.event_categories],
                "retention": present.duration_words(p.retention_days),
                "notice_version": p.current_notice.version,
                "gateway": gateway,
            }
        )
    return rows


def _gateway_words(gateway: Any) -> str:
    words = (
        f"Released only in groups of at least {gateway.k_anonymity} people; privacy budget ε = "
        f"{present.decimal_text(gateway.epsilon)} with a {present.chance_words(gateway.delta)} chance (δ) of "
        "exceeding it"
    )
    return words + ("; the same pseudonym across releases." if gateway.stable_pseudonyms else ".")


def _access_files() -> list[dict[str, Any]]:
    settings = current_app.extensions["governance.settings"]
    folder = settings.policies_dir / "access"
    out = []
    for path in sorted(folder.glob("*.cedar")):
        data = path.read_bytes()
        out.append({"name": f"access/{path.name}", "sha256": hashlib.sha256(data).hexdigest(), "text": data.decode()})
    return out


def _period(spec: Any) -> str:
    period = spec.to_period()
    return present.period_words(period.amount, period.unit)


def _deadline_rows(policy: Any) -> list[dict[str, Any]]:
    """Each jurisdiction's request deadlines, in sentences (never the policy file's raw values)."""
    rows = []
    for spec in policy.jurisdictions.values():
        rules = [f"Answer within {_period(spec.respond_within)} of receiving the request."]
        if spec.confirm_within:
            rules.append(f"Confirm receipt within {_period(spec.confirm_within)}.")
        if spec.extension:
            times = spec.extension.max_times
            how_often = " once," if times == 1 else (f" up to {times} times," if times else "")
            rules.append(
                f"May be extended{how_often} by up to {_period(spec.extension.max_total)} in total, "
                "telling the person why within the first period."
            )
        if spec.respond_within.business_days is not None or spec.confirm_within:
            weekend = ", ".join(day.capitalize() for day in spec.business_calendar.weekend)
            listed = len(spec.business_calendar.holidays)
            rules.append(f"Business days exclude {weekend} and {plural_holidays(listed)}.")
        rows.append(
            {
                "title": spec.title,
                "applies_to": ", ".join(present.region_name(code) for code in spec.applies_to),
                "timezone": f"Days are counted in {spec.timezone.replace('_', ' ')} time.",
                "rules": rules,
            }
        )
    return rows


def plural_holidays(count: int) -> str:
    return "no listed public holidays" if count == 0 else f"{present.plural(count, 'listed public holiday')}"


def _request_settings(policy: Any) -> list[tuple[str, str]]:
    link_minutes = policy.export.download_link_minutes
    link = present.plural(link_minutes // 60, "hour") if link_minutes % 60 == 0 else f"{link_minutes} minutes"
    wait = policy.erasure.processor_wait_hours
    return [
        ("Copies of data are kept for download for", present.plural(policy.export.bundle_retention_days, "day")),
        ("A download link works for", link),
        ("Erasure waits for downstream systems to confirm for up to", present.plural(wait, "hour")),
    ]


def _retention_rows(policy: Any) -> list[dict[str, str]]:
    return [
        {
            "category": present.humanize(exception.category),
            "basis": present.LEGAL_BASIS_LABELS.get(exception.basis, present.humanize(exception.basis)),
            "kept_for": present.plural(exception.retain_for.years, "year"),
            "reason": exception.reason,
            "where": ", ".join(exception.jurisdictions),
        }
        for exception in policy.retention_exceptions
    ]


@bp.get("/console/policies")
@requires("policy.read")
def console_policies() -> str:
    from governance.requests import service as requests

    policy = requests.get_policy()
    return _page(
        "web/console/policies.html",
        "web.console_policies",
        versions=[("Policy version in force", current_app.extensions.get("governance.policy_version") or "—")],
        purposes=_purpose_rows(),
        deadlines=_deadline_rows(policy),
        request_settings=_request_settings(policy),
        retention=_retention_rows(policy),
        rejection_reasons=[(present.humanize(code), text) for code, text in policy.rejection_reasons.items()],
        access_files=_access_files(),
    )


def _records() -> dict[str, Any]:
    from governance.consent import service as consent
    from governance.vault import service as vault
    from governance.web import records, sources

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
    return _page("web/console/records.html", "web.console_records", records=_records())


@bp.get("/console/records/download.<fmt>")
@requires("policy.read")
def console_records_download(fmt: str) -> ResponseReturnValue:
    from governance.web import records

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


# --- audit log ---------------------------------------------------------------------------------------------

AUDIT_FILTERS = ("action", "actor_kind", "actor_id", "target_type", "target_id", "request_id", "since", "until")
AUDIT_PAGE_SIZE = 50


def _audit_filters() -> tuple[dict[str, str], Any]:
    """The filter form's values (as typed) and the audit service's filters; bad values are a 422 page."""
    from governance.audit.service import SearchFilters

    values = {name: request.args.get(name, "").strip() for name in AUDIT_FILTERS}
    problems = {}
    bounds = {}
    for name in ("since", "until"):
        if values[name]:
            try:
                day = dt.date.fromisoformat(values[name])
            except ValueError:
                problems[name] = "a date (YYYY-MM-DD)"
                continue
            # `until` is inclusive in the form: up to the end of that day
            bounds[name] = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(days=1 if name == "until" else 0)
    if problems:
        raise ValidationFailedError(fields=problems)
    filters = SearchFilters(
        since=bounds.get("since"),
        until=bounds.get("until"),
        actor_kind=values["actor_kind"] or None,
        actor_id=values["actor_id"] or None,
        action_prefix=values["action"] or None,
        target_kind=values["target_type"] or None,
        target_id=values["target_id"] or None,
        request_id=values["request_id"] or None,
    )
    return values, filters


def _entry_row(item: dict[str, Any]) -> dict[str, Any]:
    entry = item["entry"]
    actor = entry.get("actor") or {}
    target = entry.get("target") or {}
    details = json.dumps(entry.get("details") or {}, sort_keys=True, ensure_ascii=False)
    return {
        "seq": entry["seq"],
        "at": present.as_datetime((entry.get("time") or {}).get("$time")),
        "action": entry.get("action"),
        "actor": f"{actor.get('kind')}:{actor.get('id')}",
        "target": f"{target.get('kind')}:{target.get('id')}" if target else None,
        "details_preview": details if len(details) <= 60 else details[:57] + "…",
        "details_full": json.dumps(entry.get("details") or {}, sort_keys=True, indent=2, ensure_ascii=False)
        if len(details) > 60
        else None,
    }


def _latest_checkpoint() -> list[tuple[str, Any]] | None:
    latest = audit.latest_checkpoint(get_session())
    if latest is None:
        return None
    return [
        ("Entries covered", latest.size),
        ("Signed at", latest.time.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Tree root", latest.root.hex()),
        ("Key", latest.key_id),
        ("Signed note", latest.to_text()),
    ]


def _previous_cursor(session: Any, filters: Any, before: int, size: int) -> tuple[bool, int | None]:
    """Keyset paging backwards: the `size` entries matching `filters` just before seq `before` are one
    newest-first search (`size` + 1 rows, whatever the log's length). Returns (whether any entry precedes
    `before`, the `after` cursor of the previous page; None when that page is the first one)."""
    from governance.audit import service as audit_service

    items, older = audit_service.search(session, filters, before=before, limit=size, newest_first=True)
    if not items:
        return False, None
    if older is None:  # nothing older than these: the previous page is the first
        return True, None
    return True, items[-1]["entry"]["seq"] - 1


def _jump_before(session: Any, filters: Any) -> int | None:
    """The `before` cursor a "Jump to" asks for: a position (that entry at the top of the page) or a date (the
    page starts with the last entry of that day); None when neither is given. Bad values are a 422 page."""
    import dataclasses

    from governance.audit import service as audit_service

    position, day = request.args.get("position", "").strip(), request.args.get("date", "").strip()
    if position:
        if not position.isdigit():
            raise ValidationFailedError(fields={"position": "a whole number (an entry's #)"})
        return int(position) + 1
    if day:
        try:
            end = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), dt.UTC) + dt.timedelta(days=1)
        except ValueError:
            raise ValidationFailedError(fields={"date": "a date"}) from None
        until = min(end, filters.until) if filters.until else end
        items, _ = audit_service.search(session, dataclasses.replace(filters, until=until), limit=1, newest_first=True)
        return items[0]["entry"]["seq"] + 1 if items else 0
    return None


def _newest_first_page(session: Any, filters: Any, page_url: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A page of entries, newest first, from the `before` cursor (or a jump); links to newer and older pages."""
    from governance.audit import service as audit_service

    before = _jump_before(session, filters)
    if before is None:
        before_text = request.args.get("before", "")
        before = int(before_text) if before_text.isdigit() else None
    items, older = audit_service.search(session, filters, before=before, limit=AUDIT_PAGE_SIZE, newest_first=True)
    entries = [_entry_row(item) for item in items]
    newer_url = None
    if before is not None:
        top = entries[0]["seq"] if entries else before - 1
        newer, more = audit_service.search(session, filters, after=top, limit=AUDIT_PAGE_SIZE)
        if newer:
            newer_url = page_url(before=newer[-1]["entry"]["seq"] + 1 if more is not None else None)
    page = {
        "first_url": page_url() if newer_url and "before=" in newer_url else None,
        "first_label": "Newest entries",
        "previous_url": newer_url,
        "previous_label": "Newer entries",
        "next_url": page_url(before=older) if older is not None else None,
        "next_label": "Older entries",
        "summary": f"Entries {entries[0]['seq']} down to {entries[-1]['seq']}" if entries else "",
    }
    return entries, page


def _oldest_first_page(session: Any, filters: Any, page_url: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from governance.audit import service as audit_service

    after_text = request.args.get("after", "")
    after = int(after_text) if after_text.lstrip("-").isdigit() and int(after_text) >= -1 else None
    page_items, next_after = audit_service.search(session, filters, after=after, limit=AUDIT_PAGE_SIZE)
    entries = [_entry_row(item) for item in page_items]
    first_seq = entries[0]["seq"] if entries else None
    has_previous, previous_after = False, None
    if after is not None:
        before = first_seq if first_seq is not None else after + 1
        has_previous, previous_after = _previous_cursor(session, filters, before, AUDIT_PAGE_SIZE)
    page = {
        # "First page" only when "Previous page" does not already lead there
        "first_url": page_url() if after is not None and previous_after is not None else None,
        "previous_url": page_url(after=previous_after) if has_previous else None,
        "next_url": page_url(after=next_after) if next_after is not None else None,
        "summary": f"Entries {first_seq} to {entries[-1]['seq']}" if entries else "",
    }
    return entries, page


@bp.get("/console/audit")
@requires("audit.read", resource=audit_log)
def console_audit() -> str:
    values, filters = _audit_filters()
    order = request.args.get("order") or "newest"
    if order not in ("newest", "oldest"):
        raise ValidationFailedError(fields={"order": "newest or oldest"})
    active = {k: v for k, v in values.items() if v}

    def page_url(**cursor: int | None) -> str:
        args: dict[str, Any] = dict(active)
        if order != "newest":
            args["order"] = order
        args.update({name: value for name, value in cursor.items() if value is not None})
        return url_for("web.console_audit", **args)

    session = get_session()
    build = _newest_first_page if order == "newest" else _oldest_first_page
    entries, page = build(session, filters, page_url)
    export_urls = {
        fmt: url_for("audit_api.export_entries", format=fmt, **cast(dict[str, Any], _api_filters(values)))
        for fmt in ("jsonl", "csv")
    }
    return _page(
        "web/console/audit.html",
        "web.console_audit",
        checkpoint=_latest_checkpoint(),
        filters=values,
        filters_active=bool(active),
        order=order,
        jump={"position": request.args.get("position", ""), "date": request.args.get("date", "")},
        entries=entries,
        page=page,
        export_urls=export_urls,
        known_actions=_known_actions(),
    )


def _api_filters(values: dict[str, str]) -> dict[str, str]:
    """The audit API's names for the console's filters (its export streams with inclusion proofs)."""
    out = {
        "action": values["action"],
        "actor_kind": values["actor_kind"],
        "actor_id": values["actor_id"],
        "target_kind": values["target_type"],
        "target_id": values["target_id"],
        "request_id": values["request_id"],
    }
    if values["since"]:
        out["since"] = f"{values['since']}T00:00:00Z"
    if values["until"]:
        until = dt.date.fromisoformat(values["until"]) + dt.timedelta(days=1)
        out["until"] = f"{until.isoformat()}T00:00:00Z"
    return {k: v for k, v in out.items() if v}


def _known_actions() -> list[str]:
    """Action names documented in docs/audit-actions.md (suggestions for the filter)."""
    import re

    from governance.settings import PROJECT_ROOT

    path = PROJECT_ROOT / "docs" / "audit-actions.md"
    if not path.exists():
        return []
    return sorted(set(re.findall(r"`([a-z_]+\.[a-z_]+(?:\.[a-z_]+)+)`", path.read_text())))


@bp.get("/console/audit/<int:seq>")
@requires("audit.read", resource=audit_log)
def console_audit_entry(seq: int) -> str:
    from governance.audit import service as audit_service
    from governance.audit.service import SearchFilters

    items, _ = audit_service.search(get_session(), SearchFilters(), after=seq - 1, limit=1)
    if not items or items[0]["entry"]["seq"] != seq:
        from governance.errors import NotFoundError

        raise NotFoundError("No such audit entry.")
    entry = items[0]["entry"]
    row = _entry_row(items[0])
    facts = [
        ("Sequence", seq),
        ("Time", row["at"].strftime("%Y-%m-%d %H:%M:%S.%f UTC") if row["at"] else "—"),
        ("Action", row["action"]),
        ("Actor", row["actor"]),
        ("Target", row["target"] or "—"),
        ("Request id", entry.get("request_id") or "—"),
        ("Policy version", entry.get("policy_version") or "—"),
        ("Leaf hash", items[0]["leaf_hash"]),
    ]
    return _page(
        "web/console/audit_entry.html",
        "web.console_audit",
        entry={"seq": seq, "facts": facts, "details_json": json.dumps(entry.get("details"), indent=2)},
    )


@bp.post("/console/audit/verify")
@requires("audit.verify", resource=audit_log)
def console_audit_verify() -> ResponseReturnValue:
    """Ask for a full verification now (a job, audited); the page shows its report once it is stored."""
    with transaction(get_session()) as session:
        audit.request_verification(session, actor=current_principal())
    flash("Verification of the whole log started; its report appears here when it finishes.", "success")
    return redirect(url_for("web.console_audit"), code=303)


# --- consent statistics ------------------------------------------------------------------------------------

STATS_WEEKS = 12


@bp.get("/console/consent")
@requires("consent.read")
def console_consent() -> str:
    from governance.consent import service as consent
    from governance.consent import statistics
    from governance.web import charts

    catalog = consent.purposes()
    keys = [p.key for p in catalog.consent_purposes()]
    titles = {p.key: p.title for p in catalog}
    stats = statistics.weekly_statistics(get_session(), purposes=keys, today=utcnow().date(), weeks=STATS_WEEKS)
    labels = [monday.strftime("%-d %b") for monday in stats.weeks]
    names = [titles[k] for k in keys]
    rate_chart = charts.line_chart(
        labels,
        [charts.Series(titles[k], stats.rates[k]) for k in keys],
        title="Consent rate per purpose, by the week decisions were collected",
        desc="Among people who decided about a purpose (refusals included), the percentage whose latest "
        "decision collected by the end of the week was consent.",
        y_max=100,
        unit="%",
    )
    decisions_chart = charts.bar_chart(
        labels,
        [
            charts.Series("Grants", stats.grants),
            charts.Series("Refusals", stats.refusals),
            charts.Series("Withdrawals", stats.withdrawals),
            charts.Series("GPC signals", stats.gpc),
        ],
        title="Decisions per week, by the week they were collected",
        desc="Consents given, refused when asked, withdrawn by people after a grant, and withdrawn because a "
        "browser sent a Global Privacy Control signal.",
        integer=True,
    )
    return _page(
        "web/console/consent.html",
        "web.console_consent",
        rate_chart=rate_chart,
        rate_series=names,
        rate_rows=[{"label": label, "cells": [stats.rates[k][i] for k in keys]} for i, label in enumerate(labels)],
        by_notice=[{**row, "purpose": titles.get(str(row["purpose"]), row["purpose"])} for row in stats.by_notice],
        weekly_chart=decisions_chart,
        weekly_series=["Grants", "Refusals", "Withdrawals", "GPC signals"],
        weekly_rows=[
            {
                "label": label,
                "cells": [stats.grants[i], stats.refusals[i], stats.withdrawals[i], stats.gpc[i]],
            }
            for i, label in enumerate(labels)
        ],
    )


# --- privacy budgets ---------------------------------------------------------------------------------------

SPENDS_SHOWN = 200


def _budget_rows(session: Any) -> list[dict[str, Any]]:
    """Each purpose's budget, then each client's share of it (the clients registered for the purpose)."""
    from governance.consent import service as consent
    from governance.gateway import service as gateway
    from governance.web import sources

    clients = sources.clients(session)
    budgets = []
    for purpose in consent.purposes():
        if purpose.gateway is None:
            continue
        scopes = [None] + [c["id"] for c in clients if purpose.key in c["purposes"]]
        for client_id in scopes:
            view = gateway.budget_status(session, purpose.key, client_id)
            budgets.append(
                {
                    "purpose": purpose.title,
                    "client": client_id,
                    "total": present.decimal_text(view.epsilon_total),
                    "spent": present.decimal_text(view.epsilon_spent),
                    "remaining": present.decimal_text(view.epsilon_remaining),
                    "delta_spent": present.decimal_text(view.delta_spent, 9),
                    "spent_value": float(view.epsilon_spent),
                    "remaining_value": float(view.epsilon_remaining),
                    "label": purpose.title if client_id is None else f"↳ client {client_id}",
                }
            )
    return budgets


def _spend_rows(session: Any) -> list[dict[str, Any]]:
    """The budget ledger of the last year, newest first: from the gateway's reservations (two indexed queries),
    not from the audit log."""
    from governance.gateway import service as gateway

    since = utcnow() - dt.timedelta(days=365)
    return [
        {
            "at": entry.at,
            "purpose": entry.purpose,
            "client": entry.client_id or "—",
            "reason": entry.reason or "—",
            "ref": str(entry.reservation_id)[:8],
            "epsilon": present.decimal_text(entry.epsilon_micro / 1_000_000),
            "status": entry.status,
        }
        for entry in gateway.budget_ledger(session, since=since, limit=SPENDS_SHOWN)
    ]


@bp.get("/console/budgets")
@requires("budget.read")
def console_budgets() -> str:
    from governance.web import charts

    session = get_session()
    budgets = _budget_rows(session)
    chart = charts.stacked_hbar_chart(
        [b["label"] for b in budgets],
        [
            charts.Series("Spent", [b["spent_value"] for b in budgets]),
            charts.Series("Remaining", [b["remaining_value"] for b in budgets]),
        ],
        title="Privacy budget per purpose and client",
        desc="Epsilon spent and remaining for each purpose, overall and per client.",
        classes=["bar-spent", "bar-remaining"],
    )
    return _page(
        "web/console/budgets.html",
        "web.console_budgets",
        chart=chart,
        budgets=budgets,
        spends=_spend_rows(session),
    )


# --- releases and models -----------------------------------------------------------------------------------

RELEASES_SHOWN = 100


def _release_row(release: Any) -> dict[str, Any]:
    from governance.gateway import service as gateway

    mode = gateway.release_mode_info(release)
    facts = [
        ("Kind of data", mode.label),
        ("Status", release.status),
        ("Format", release.format),
        ("Pseudonyms", release.pseudonym_mode),
        ("k required / achieved", f"{release.k_required} / {release.k_achieved or '—'}"),
        ("People / rows released", f"{release.subjects_released or 0} / {release.rows_released or 0}"),
        ("Rows suppressed for k-anonymity", release.rows_suppressed or 0),
        ("Consent snapshot", release.consent_snapshot_at.isoformat() if release.consent_snapshot_at else "—"),
        ("Policy version", release.policy_version),
        ("SHA-256", release.checksum_sha256 or "—"),
    ]
    if release.error_code:
        facts.append(("Error", release.error_code))
    return {
        "short_id": str(release.id)[:8],
        "anchor": f"release-{release.id}",
        "k_required": release.k_required,
        "k_achieved": release.k_achieved,
        "people": release.subjects_released or 0,
        "suppressed": release.rows_suppressed or 0,
        "title": f"Release {str(release.id)[:8]}",
        "data_classification": mode.data_classification,
        "kind_of_data": mode.label,
        "purpose": release.purpose,
        "client": release.client_id,
        "at": release.created_at,
        "status": release.status,
        "facts": facts,
        "manifest": json.dumps(release.manifest, indent=2, default=str) if release.manifest else None,
    }


def _model_row(session: Any, job: Any) -> dict[str, Any]:
    from governance.training import service as training

    report = None
    if job.status == "succeeded":
        report = json.dumps(training.model_card(session, job.id).get("privacy"), indent=2, default=str)
    return {
        "failure": _training_failure(job) if job.status == "failed" else None,
        "anchor": f"model-{job.id}",
        "epsilon": present.decimal_text(job.epsilon_spent) if job.epsilon_spent else "—",
        "people": job.n_subjects or "—",
        "title": f"{present.MODEL_KIND_LABELS.get(job.kind, present.humanize(job.kind))} {str(job.id)[:8]}",
        "purpose": job.purpose,
        "at": job.finished_at or job.created_at,
        "status": job.status,
        "flagged": job.flagged_people > 0,
        "facts": [
            ("Client", job.client_id),
            ("Target ε / δ", f"{job.target_epsilon} / {job.target_delta}"),
            ("ε / δ spent", f"{job.epsilon_spent or '—'} / {job.delta_spent or '—'}"),
            ("People in training data", job.n_subjects or "—"),
            ("People erased or withdrawn since", job.flagged_people),
            ("Retrain of", str(job.retrain_of)[:8] if job.retrain_of else "—"),
        ]
        + ([("Note", job.flag_note)] if job.flag_note else []),
        "report": report,
    }


@bp.get("/console/releases")
@requires("dataset.read")
def console_releases() -> str:
    """The newest releases (from the gateway's own table, one query) and the trained models."""
    from governance.gateway import service as gateway
    from governance.training import service as training

    session = get_session()
    releases = [_release_row(release) for release in gateway.recent_releases(session, RELEASES_SHOWN)]
    jobs = training.list_jobs(session, actor=current_principal()) if _may("training.read") else []
    models = [_model_row(session, job) for job in jobs]
    return _page(
        "web/console/releases.html",
        "web.console_releases",
        releases=releases,
        models=models,
        flagged_count=sum(m["flagged"] for m in models),
    )


#: What staff can do about each stable reason a training job fails with (the job's `error_code`).
TRAINING_FAILURE_ADVICE = {
    "too_few_examples": "Too few people consented to this purpose for the model to be trained privately. Wait "
    "until more people have consented, or train with fewer required examples if the policy allows it.",
    "delta_too_large": "δ is too large for the number of people in the data. Submit the job again with a "
    "smaller δ (at most 1 divided by 10 times the number of people).",
    "delta_invalid": "δ is not usable for this model kind. Submit again with a δ between 0 and 1.",
    "delta_not_zero": "This model kind gives pure ε-privacy: submit again with δ = 0.",
    "epsilon_invalid": "ε must be a positive number. Submit again with a valid ε.",
    "epsilon_above_cap": "ε is above the policy's cap. Submit again with a smaller ε.",
    "epsilon_below_count_share": "ε must be larger than the share the model card's counts use. Submit again "
    "with a larger ε.",
    "training_data_unusable": "The consented data cannot train this model (for example, a label that no one "
    "has). Check the label and event categories, then submit again.",
    "training_crashed": "Training failed on every attempt; the privacy budget was given back. Check the job "
    "worker's logs for the job id, fix the cause, then retrain.",
    "worker_lost": "The job worker stopped while training; the privacy budget was given back. Make sure a job "
    "worker is running, then retrain.",
    "owner_inactive": "The client that owns this model is disabled. Re-enable the client or retrain for "
    "another client.",
    "budget_exhausted": "The purpose's privacy budget is used up for this window. Wait for the next budget "
    "window (see Budgets) or ask for a smaller ε.",
    "gateway_unavailable": "The data gateway could not build the training data. Try again later; if it "
    "persists, check the job worker's logs.",
}
GENERIC_TRAINING_ADVICE = "Check the job worker's logs for this job id, fix the cause, then retrain."


def _training_failure(job: Any) -> dict[str, str]:
    """Why a training job failed, as its stable code, the service's message and what to do next."""
    code = job.error_code or "unknown"
    return {
        "code": code,
        "message": job.error_message or "The job failed without a recorded reason.",
        "advice": TRAINING_FAILURE_ADVICE.get(code, GENERIC_TRAINING_ADVICE),
    }


# --- admin -------------------------------------------------------------------------------------------------


@bp.get("/console/admin")
@requires("console.view", resource=console_resource)
def console_admin() -> str:
    """Staff, clients, processors and keys: each section only for those allowed to see it."""
    from governance.access.accounts import ROLES
    from governance.access.tokens import KNOWN_SCOPES
    from governance.consent import service as consent
    from governance.web import sources

    session = get_session()
    context: dict[str, Any] = {"staff": [], "clients": [], "processors": [], "keys": [], "rotation": None}
    sections = []
    if _may("staff.manage"):
        sections.append("staff")
        context["staff"] = sources.staff(session)
        context["roles"] = sorted(ROLES)
    if _may("client.manage"):
        sections.append("clients")
        context["clients"] = sources.clients(session)
        context["scopes"] = sorted(KNOWN_SCOPES)
        context["purpose_keys"] = [p.key for p in consent.purposes()]
    if _may("processor.manage"):
        sections.append("processors")
        context["processors"] = _processor_rows(session)
    if _may("keys.read"):
        sections.append("keys")
        context["keys"], context["rotation"] = sources.key_status(session)
        context["can_rotate"] = _may("keys.rotate")
    return _page("web/console/admin.html", "web.console_admin", sections=sections, **context)


def _processor_rows(session: Any) -> list[dict[str, Any]]:
    from governance.web import sources

    rows = []
    for processor in sources.processors(session):
        deliveries = sources.deliveries(session, processor.id)
        rows.append(
            {
                "name": processor.name + ("" if processor.active else " (inactive)"),
                "events": processor.events,
                "delivered": sum(d.status == "delivered" for d in deliveries),
                "pending": sum(d.status == "pending" for d in deliveries),
                "failed": sum(d.status == "failed" for d in deliveries),
                "last_at": max((d.last_attempt_at for d in deliveries if d.last_attempt_at), default=None),
            }
        )
    return rows


# --- administration: staff and clients, each change after a fresh second factor ----------------------------


def _admin_back() -> ResponseReturnValue:
    return redirect(url_for("web.console_admin"), code=303)


def _admin_act(action: Any, done: str) -> ResponseReturnValue:
    """Re-check the admin's second factor, then run `action(session)` in one transaction with its audit entry.
    Returns the action's result page (a secret shown once) or a redirect with a message."""
    from governance.access import admin
    from governance.access.errors import AccountLockedError, SignInFailedError

    session = get_session()
    try:
        admin.recheck_second_factor(session, current_principal(), request.form.get("mfa_code", ""))
    except (SignInFailedError, AccountLockedError) as exc:
        session.commit()  # the failure counts towards the lockout, like a failed sign-in
        flash(f"Nothing changed: {exc.message}", "error")
        return _admin_back()
    session.commit()  # the code's time step is now used: it cannot confirm a second change
    try:
        with transaction(session):
            result = action(session)
    except DomainError as exc:
        if exc.status not in (404, 409, 422):
            raise
        flash(f"Nothing changed: {exc.message}", "error")
        return _admin_back()
    if isinstance(result, Response):
        return result
    flash(done, "success")
    return _admin_back()


def _secret_page(title: str, label: str, secret: str, facts: list[tuple[str, str]]) -> Response:
    """A secret shown exactly once: never stored (so not behind a redirect), never cached, never logged."""
    html = _page("web/console/secret.html", "web.console_admin", title=title, label=label, secret=secret, facts=facts)
    return Response(html, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _staff_id(staff_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(staff_id)
    except ValueError:
        raise NotFoundError("No such staff account.") from None


@bp.post("/console/admin/staff")
@requires("staff.manage")
def console_staff_add() -> ResponseReturnValue:
    from governance.access import admin

    username = request.form.get("username", "")
    roles = set(request.form.getlist("roles"))

    def add(session: Any) -> Response:
        staff, temporary = admin.add_staff(session, username=username, roles=roles, actor=current_principal())
        return _secret_page(
            "Staff account added",
            "Temporary password (must be changed at the first sign-in)",
            temporary,
            [("Account", staff.username), ("Roles", ", ".join(staff.roles))],
        )

    return _admin_act(add, "")


@bp.post("/console/admin/staff/<staff_id>/disable")
@requires("staff.manage")
def console_staff_disable(staff_id: str) -> ResponseReturnValue:
    from governance.access import admin

    target = _staff_id(staff_id)
    return _admin_act(
        lambda session: admin.disable_staff(session, target, actor=current_principal()),
        "Account disabled; its sessions ended.",
    )


@bp.post("/console/admin/staff/<staff_id>/reset")
@requires("staff.manage")
def console_staff_reset(staff_id: str) -> ResponseReturnValue:
    from governance.access import admin

    target = _staff_id(staff_id)

    def reset(session: Any) -> Response:
        temporary = admin.reset_staff_password(session, target, actor=current_principal())
        return _secret_page(
            "Password reset",
            "Temporary password (must be changed at the next sign-in)",
            temporary,
            [("Sessions", "All of the account's sessions were ended.")],
        )

    return _admin_act(reset, "")


@bp.post("/console/admin/clients")
@requires("client.manage")
def console_client_add() -> ResponseReturnValue:
    from governance.access import admin

    name = request.form.get("name", "")
    scopes = set(request.form.getlist("scopes"))
    purposes = {p for p in request.form.getlist("purposes") if p}

    def add(session: Any) -> Response:
        client = admin.add_client(session, name=name, scopes=scopes, purposes=purposes, actor=current_principal())
        return _secret_page(
            "Client added",
            "Client secret",
            client.client_secret,
            [("Client id", client.client_id), ("Scopes", ", ".join(client.scopes))],
        )

    return _admin_act(add, "")


@bp.post("/console/admin/clients/<client_id>/rotate")
@requires("client.manage")
def console_client_rotate(client_id: str) -> ResponseReturnValue:
    from governance.access import admin

    def rotate(session: Any) -> Response:
        secret = admin.rotate_client(session, client_id, actor=current_principal())
        return _secret_page(
            "Client secret rotated",
            "New client secret (the old one no longer works)",
            secret,
            [("Client id", client_id), ("Tokens", "Tokens already issued work until they expire.")],
        )

    return _admin_act(rotate, "")


@bp.post("/console/admin/clients/<client_id>/disable")
@requires("client.manage")
def console_client_disable(client_id: str) -> ResponseReturnValue:
    from governance.access import admin

    return _admin_act(
        lambda session: admin.disable_client(session, client_id, actor=current_principal()),
        "Client disabled; its tokens were revoked.",
    )


@bp.post("/console/admin/keys/rotate")
@requires("keys.rotate")
def console_rotate_master_key() -> ResponseReturnValue:
    """Start a master-key rotation: a new version becomes active at once; re-wrapping runs as a job."""
    from governance.vault import keymanagement

    with transaction(get_session()) as session:
        rotation = keymanagement.start_master_rotation(session, actor=current_principal())
    flash(f"Rotation to master-key version {rotation.target_version} started.", "success")
    return redirect(url_for("web.console_admin") + "#keys-h", code=303)


@bp.get("/console/admin/keys/rotation")
@requires("keys.read")
def console_rotation_status() -> ResponseReturnValue:
    """The latest rotation's progress as JSON (polled by the admin page)."""
    from flask import jsonify

    from governance.web import sources

    _facts, rotation = sources.key_status(get_session())
    if rotation is None:
        return jsonify(finished=True)
    return jsonify(
        done=rotation["done"],
        total=rotation["total"],
        message=rotation["summary"],
        finished=not rotation["running"],
    )
