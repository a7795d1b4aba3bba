"""The staff console (/console) for auditors, the DPO and admins.

Every page declares its action; sections of a page that need another permission are shown only when the
policy allows it (`_may`). Pages show ids and counts, never decrypted personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for

from governance.access.decorators import current_principal, requires
from governance.access.principals import Resource
from governance.db import get_session, transaction, utcnow
from governance.errors import ValidationFailedError
from governance.web import present
from governance.web.blueprint import bp


def console_resource(_args: dict[str, Any]) -> Resource:
    return Resource(type="Console", id="console")


def audit_log(_args: dict[str, Any]) -> Resource:
    return Resource(type="AuditLog", id="log")


def a_request(args: dict[str, Any]) -> Resource:
    try:
        request_id = uuid.UUID(str(args.get("request_id")))
    except ValueError:
        return Resource(type="Request", id="invalid")
    return Resource(type="Request", id=str(request_id))


def _may(action: str, resource: Resource | None = None) -> bool:
    from governance.access import service as access

    return access.allowed(current_principal(), action, resource or Resource.system())


def _verification() -> dict[str, Any] | None:
    """The audit log's verification status, shown (with the alarm) on every console page."""
    from governance import audit

    if not hasattr(audit, "verify") or not _may("audit.verify", Resource(type="AuditLog", id="log")):
        return None
    cached = current_app.extensions.get("governance.web.verification")
    now = utcnow()
    if cached and (now - cached["checked_at"]).total_seconds() < _verify_ttl():
        return cached
    return run_verification()


def _verify_ttl() -> float:
    settings = current_app.extensions["governance.settings"]
    return settings.get_float("WEB_VERIFY_CACHE_SECONDS", 0.0)


def run_verification() -> dict[str, Any]:
    from governance import audit

    report = audit.verify(get_session())
    failure = getattr(report, "failure", None)
    details = [
        ("Entries proven by a signed checkpoint", present.field(report, "verified_entries", "—")),
        ("Entries after the newest checkpoint", present.field(report, "unanchored_entries", "—")),
        ("Checkpoints verified", present.field(report, "checkpoints_verified", "—")),
    ]
    if failure is not None:
        details.append(("Failure", f"{failure.reason} at entry {failure.position}: {failure.detail}"))
    message = report.message() if callable(getattr(report, "message", None)) else ""
    result = {
        "ok": bool(report.ok),
        "entries": report.entries,
        "checked_at": utcnow(),
        "summary": message or ("Every entry matches the signed checkpoints." if report.ok else "Tampering found."),
        "details": details,
        "root": present.field(report, "root"),
    }
    current_app.extensions["governance.web.verification"] = result
    return result


def _page(template: str, current: str, **context: Any) -> str:
    principal = current_principal()
    logout = current_app.config.get("GOVERNANCE_STAFF_LOGOUT_ENDPOINT", "access.logout")
    context.setdefault("verification", _verification())
    return render_template(
        template,
        current=current,
        staff_label=", ".join(sorted(principal.roles)) if principal.roles else None,
        logout_url=url_for(logout) if logout in current_app.view_functions else None,
        **context,
    )


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
        counts = requests.count_by_status(session)
        open_count = sum(counts.get(s, 0) for s in ("received", "verified", "in_progress"))
        cards.append(
            {
                "title": "Open requests",
                "value": open_count,
                "label": "received, verified or in progress",
                "url": url_for("web.console_requests"),
                "link": "Open the request queue",
            }
        )
    return _page("web/console/index.html", "web.console", overdue_count=overdue_count, extra_cards=cards)


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


def _timeline(view: Any) -> list[dict[str, Any]]:
    events = [{"at": view.received_at, "label": "Received", "note": f"from {view.source}"}]
    if view.verified_at:
        events.append({"at": view.verified_at, "label": "Identity verified", "note": view.verification_method or ""})
    for extension in view.extensions:
        events.append(
            {
                "at": present.as_datetime(extension.get("at")),
                "label": f"Deadline extended by {extension.get('amount')} {extension.get('unit')}",
                "note": extension.get("reason"),
            }
        )
    if view.merged_count:
        events.append({"at": None, "label": f"{view.merged_count} duplicate request(s) merged", "note": ""})
    if view.closed_at:
        events.append({"at": view.closed_at, "label": present.humanize(view.status), "note": view.outcome_reason or ""})
    return sorted(events, key=lambda e: e["at"] or dt.datetime.max.replace(tzinfo=dt.UTC))


@bp.get("/console/requests/<request_id>")
@requires("dsr.read", resource=a_request)
def console_request(request_id: str) -> str:
    from governance.requests import service as requests

    view = requests.get_request(get_session(), uuid.UUID(request_id))
    row = _queue_row(view)
    facts = [
        ("Jurisdiction", view.jurisdiction),
        ("Original due date", view.original_due_on.isoformat()),
        ("Step", present.humanize(view.step)),
    ]
    if view.extension_available:
        facts.append(("Extension still available", view.extension_available))
    facts += [(present.humanize(i.get("category") or i.get("item")), i.get("outcome")) for i in view.items]
    return _page(
        "web/console/request.html",
        "web.console_requests",
        req={**row, "facts": facts},
        can_extend=bool(view.extension_available) and _may("dsr.manage"),
        timeline=_timeline(view),
    )


@bp.post("/console/requests/<request_id>/extend")
@requires("dsr.manage", resource=a_request)
def console_request_extend(request_id: str) -> Response:
    from governance.requests import service as requests

    reason = request.form.get("reason", "").strip()
    if len(reason) < 10:
        raise ValidationFailedError(fields={"reason": "at least 10 characters"})
    session = get_session()
    view = requests.get_request(session, uuid.UUID(request_id))
    amount = _extension_amount(view.extension_available)
    with transaction(session):
        requests.extend_request(session, view.id, amount=amount, reason=reason, actor=current_principal())
    flash("Deadline extended; the person is told why.", "success")
    return redirect(url_for("web.console_request", request_id=request_id), code=303)


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
        gateway = (
            f"ε {p.gateway.epsilon}, δ {p.gateway.delta}, k ≥ {p.gateway.k_anonymity}"
            + (", stable pseudonyms" if p.gateway.stable_pseudonyms else "")
            if p.gateway
            else None
        )
        rows.append(
            {
                "key": p.key,
                "title": p.title,
                "description": p.description,
                "legal_basis": p.legal_basis.value,
                "legal_basis_label": present.LEGAL_BASIS_LABELS.get(p.legal_basis.value, p.legal_basis.value),
                "profile_fields": list(p.profile_fields),
                "event_categories": list(p.event_categories),
                "retention_days": p.retention_days,
                "notice_version": p.current_notice.version,
                "gateway": gateway,
            }
        )
    return rows


def _access_files() -> list[dict[str, Any]]:
    settings = current_app.extensions["governance.settings"]
    folder = settings.policies_dir / "access"
    out = []
    for path in sorted(folder.glob("*.cedar")):
        data = path.read_bytes()
        out.append({"name": f"access/{path.name}", "sha256": hashlib.sha256(data).hexdigest(), "text": data.decode()})
    return out


@bp.get("/console/policies")
@requires("policy.read")
def console_policies() -> str:
    from governance.requests import service as requests

    policy = requests.get_policy()
    deadlines = [
        (spec.title, f"{spec.respond_within.model_dump(exclude_none=True)}") for spec in policy.jurisdictions.values()
    ]
    return _page(
        "web/console/policies.html",
        "web.console_policies",
        versions=[("Policy version in force", current_app.extensions.get("governance.policy_version") or "—")],
        purposes=_purpose_rows(),
        deadlines=deadlines,
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
def console_records_download(fmt: str) -> Response:
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
