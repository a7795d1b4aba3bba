"""The request queue and one request's page: facts, timeline, owner, notes and the actions staff may take."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import request

from governance import audit
from governance.access.decorators import current_principal, requires
from governance.access.principals import Resource
from governance.db import get_session
from governance.errors import DomainError, NotFoundError, ValidationFailedError
from governance.requests import service as requests
from governance.requests.lifecycle import CLOSED, Status
from governance.vault import service as vault
from governance.web import present, sources
from governance.web.blueprint import bp
from governance.web.console.chrome import a_request, may, render

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
    return render(
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

    short = f"Person {str(view.subject_id)[:8]}"
    if not may("profile.read_masked", Resource.subject(view.subject_id)):
        return short
    try:
        profile = vault.read_profile(get_session(), view.subject_id, actor=current_principal(), view="masked")
    except DomainError:  # erased (or unknown): the tombstone has no profile
        return f"{short} (erased)"
    shown = [str(profile["fields"][name]) for name in PERSON_FIELDS if profile["fields"].get(name)]
    return f"{short}: {', '.join(shown)}" if shown else short


def staff_choices() -> list[dict[str, str]]:
    return [{"id": s["id"], "label": s["label"]} for s in sources.staff(get_session()) if s["status"] == "active"]


def extension_choices(view: Any) -> list[tuple[int, str]]:
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
    session = get_session()
    view = requests.get_request(session, request_uuid(request_id))
    row = _queue_row(view)
    choices = staff_choices()
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
        facts.append(("Extension", extension_refusal(view)))
    facts += [(present.humanize(i.get("category") or i.get("item")), i.get("outcome")) for i in view.items]
    may_manage = may("dsr.manage", a_request({"request_id": request_id}))
    return render(
        "web/console/request.html",
        "web.console_requests",
        req={**row, "facts": facts},
        can_extend=bool(view.extension_available) and may_manage,
        extension_choices=extension_choices(view),
        can_manage=may_manage and is_open,
        can_verify=may_manage and view.status == Status.RECEIVED.value and view.kind != "rectification",
        can_confirm=may_manage and is_open and view.confirmed_at is None and view.confirm_by is not None,
        verification_methods=VERIFICATION_METHODS,
        confirmation_methods=CONFIRMATION_METHODS,
        rejection_reasons=staff_rejection_reasons(),
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

    session = get_session()
    retry_refusal = requests.may_retry(session, view)
    complete_refusal = requests.may_complete(session, view)
    may_complete = may("dsr.complete", a_request({"request_id": request_id}))
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


def staff_rejection_reasons() -> dict[str, str]:
    """The policy's rejection reasons staff may choose (`subject_erased` is the service's own)."""

    return {code: text for code, text in requests.get_policy().rejection_reasons.items() if code != "subject_erased"}


def _verified_words(view: Any) -> str:
    if not view.verified_at:
        return "Not yet"
    method = VERIFICATION_METHODS.get(view.verification_method or "", present.humanize(view.verification_method))
    return f"{method} ({view.verified_at:%-d %b %Y})"


def request_uuid(request_id: str) -> uuid.UUID:
    """The request id of a console URL; anything that is not a whole UUID (a short id, a typo) is a 404."""
    try:
        return uuid.UUID(request_id)
    except ValueError:
        raise NotFoundError("No such request.") from None


EXTENSION_REFUSALS = {
    "request_closed": "A closed request cannot be extended.",
    "extension_not_available": "The law allows no (further) extension for this request.",
    "extension_beyond_maximum": "The legal maximum extension is used.",
    "extension_notice_late": "The person must be told of an extension within the first period.",
}


def extension_refusal(view: Any) -> str:
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
