"""The console's frame: the resources its routes act on, who may see which section, and the layout every page
(and every error page under /console) is rendered in."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, g, render_template, request, url_for

from governance import audit
from governance.access import authn
from governance.access import service as access
from governance.access.decorators import current_principal, resource_of
from governance.access.principals import Principal, Resource
from governance.db import get_session
from governance.web import present


@resource_of("Console")
def console_resource(_args: dict[str, Any]) -> Resource:
    return Resource(type="Console", id="console")


@resource_of("AuditLog")
def the_audit_log(_args: dict[str, Any]) -> Resource:
    return Resource(type="AuditLog", id="log")


@resource_of("Request")
def a_request(args: dict[str, Any]) -> Resource:
    try:
        request_id = uuid.UUID(str(args.get("request_id")))
    except ValueError:
        return Resource(type="Request", id="invalid")
    return Resource(type="Request", id=str(request_id))


def may(action: str, resource: Resource | None = None, principal: Principal | None = None) -> bool:
    return access.allowed(principal or current_principal(), action, resource or Resource.system())


def _verification() -> dict[str, Any] | None:
    """The newest stored verification report (the `audit.verify` job's), shown with its time (and the alarm)
    on every console page: one row read, never the log (docs/web.md, "Verification on console pages")."""
    if not may("audit.verify", Resource(type="AuditLog", id="log")):
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
        (endpoint, label) for endpoint, label, action in CONSOLE_NAV if may(action, resources.get(action), principal)
    ]


def render(template: str, current: str, **context: Any) -> str:
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
