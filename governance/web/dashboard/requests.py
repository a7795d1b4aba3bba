"""My requests (/me/requests): the person's requests with their progress, and filing new ones (a copy of the
data, a correction, an objection) or withdrawing a pending one."""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, request, url_for
from flask import session as cookie
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from governance.access.decorators import current_principal, requires
from governance.consent import service as consent
from governance.db import get_session, transaction, utcnow
from governance.errors import ConflictError, DomainError, NotFoundError, ValidationFailedError
from governance.jobs import service as jobs
from governance.requests import service as requests
from governance.requests.lifecycle import CLOSED
from governance.vault import service as vault
from governance.web import present
from governance.web.blueprint import bp
from governance.web.dashboard.layout import page
from governance.web.dashboard.subject import own_request, own_subject, own_subject_id, request_uuid, uuid_or_none

VERIFIED_BY_SESSION = "dashboard_link"
WITHDRAWN_CODE = "withdrawn_by_subject"  # policies/requests.yaml rejection_reasons
RECTIFY_KEY = "web.rectify"  # the person's own rejected input, shown once on the next page, then dropped


def _progress(view: Any) -> dict[str, Any] | None:
    """How far the request's job has got, while it runs."""
    if view.job_id is None:
        return None
    job = jobs.get_job(get_session(), view.job_id)
    done, total = job.progress_done or 0, job.progress_total or 0
    return {
        "done": done,
        "total": total or 1,
        "percent": int(100 * done / total) if total else 0,
        "message": job.progress_message or _("Waiting for its turn…"),
    }


def request_row(view: Any) -> dict[str, Any]:
    """One request as the page (and its status poll) shows it."""
    finished = view.status in {s.value for s in CLOSED}
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
        "progress": None if finished else _progress(view),
        "download_url": url_for("web.dashboard_download", request_id=view.id) if downloadable else None,
        "download_until": expires if downloadable else None,
        # a copy sent outside the service by a DPO never had a download here
        "download_gone": is_export and completed and not downloadable and "completed_by_hand" not in view.result,
        "certificate_url": (url_for("web.dashboard_certificate", request_id=view.id) if view.has_certificate else None),
        "note": view.outcome_reason,
    }


def _objectable(session: Any, subject_id: Any) -> list[dict[str, Any]]:
    """The purposes the person may object to (not consent-based ones: those they switch off)."""
    catalog = consent.purposes()
    return [
        {"key": s.purpose, "title": present.purpose_title(catalog[s.purpose]), "objected": s.objected}
        for s in consent.overview(session, subject_id)
        if catalog[s.purpose].objectable and not catalog[s.purpose].requires_consent
    ]


@bp.get("/me/requests")
@requires("dsr.read", resource=own_subject)
def dashboard_requests() -> str:
    session, subject_id = get_session(), own_subject_id()
    return page(
        "web/dashboard/requests.html",
        "web.dashboard_requests",
        my_requests=[request_row(v) for v in requests.requests_for_subject(session, subject_id)],
        editable_fields=[
            {"name": n, "label": present.profile_label(f.kind, f.description)}
            for n, f in vault.categories().profile_fields.items()
        ],
        rectify=_rectify_form(request.args.get("correct")),
        objectable=_objectable(session, subject_id),
    )


def file_request(kind: str, params: dict[str, Any] | None = None) -> Any:
    """Files a request of the session's subject (verified by the dashboard session itself)."""
    with transaction(get_session()) as session:
        return requests.file_request(
            session,
            subject_id=own_subject_id(),
            kind=kind,
            actor=current_principal(),
            source="subject",
            verification_method=VERIFIED_BY_SESSION,
            params=params or {},
        )


def back_to_requests(message: str, category: str = "success") -> ResponseReturnValue:
    """Post/redirect/get to the requests page, with the outcome as a flash message."""
    flash(message, category)
    return redirect(url_for("web.dashboard_requests"), code=303)


@bp.post("/me/requests/export")
@requires("dsr.create", resource=own_subject)
def dashboard_export() -> ResponseReturnValue:
    filed = file_request("access")
    if filed.merged:
        return back_to_requests(_("You already asked for a copy of your data; we are preparing it."), "info")
    return back_to_requests(_("We are preparing a copy of your data. The download appears here when it is ready."))


def _rectify_form(field_name: str | None) -> dict[str, Any] | None:
    """The correction form for one field: the right input (a date picker for dates, lists of names for countries
    and languages), how to write it, and, after a rejected try, what was typed and what was wrong."""
    catalog = vault.categories()
    rejected = cookie.pop(RECTIFY_KEY, None)
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


def _rectification_problem(name: str, value: str, kind: str) -> str | None:
    """Files the correction; what was wrong with it in plain words, or None when it was made."""
    if not value:
        return _("Please fill this in.")
    try:
        file_request("rectification", {"fields": {name: value}})
    except DomainError as exc:
        if exc.status != 422:
            raise
        # the service's messages name the field, never the value; the page says it in plain words
        return present.rectify_problem(kind, " ".join(exc.fields.values()))
    return None


@bp.post("/me/requests/rectify")
@requires("dsr.create", resource=own_subject)
def dashboard_rectify() -> ResponseReturnValue:
    name, value = request.form.get("field", ""), request.form.get("value", "").strip()
    fields = vault.categories().profile_fields
    if name not in fields:
        raise ValidationFailedError(fields={"field": "one of the profile fields"})
    problem = _rectification_problem(name, value, fields[name].kind)
    if problem:
        cookie[RECTIFY_KEY] = {"field": name, "value": value[:500], "problem": problem}
        return redirect(url_for("web.dashboard_requests", correct=name, _anchor="rectify"), code=303)
    return back_to_requests(_("Thank you. We corrected your data."))


@bp.post("/me/requests/<request_id>/cancel")
@requires("dsr.create", resource=own_subject)
def dashboard_cancel_request(request_id: str) -> ResponseReturnValue:
    """The person withdraws a pending request (recorded as closed with the reason "withdrawn_by_subject")."""
    wanted = uuid_or_none(request_id)
    owner = requests.request_owner(get_session(), wanted) if wanted else None
    if wanted is None or owner is None or owner[0] != own_subject_id():
        raise NotFoundError(_("No such request."))
    try:
        with transaction(get_session()) as session:
            requests.reject_request(session, wanted, code=WITHDRAWN_CODE, actor=current_principal())
    except ConflictError:
        return back_to_requests(_("This request can no longer be withdrawn: we have already carried it out."), "info")
    return back_to_requests(_("You withdrew the request. Nothing more will be done for it."))


@bp.post("/me/requests/object")
@requires("dsr.create", resource=own_subject)
def dashboard_object() -> ResponseReturnValue:
    purposes = request.form.getlist("purpose")
    if not purposes:
        return back_to_requests(_("Choose at least one use you object to."), "warning")
    file_request("objection", {"purposes": purposes})
    return back_to_requests(_("We recorded your objection and stopped those uses of your data."))


@bp.get("/me/requests/<request_id>/status")
@requires("dsr.read", resource=own_request)
def dashboard_request_status(request_id: str) -> ResponseReturnValue:
    row = request_row(requests.get_request(get_session(), request_uuid(request_id)))
    progress = row["progress"] or {}
    return jsonify(
        status=row["status"]["code"],
        done=progress.get("done"),
        total=progress.get("total"),
        message=progress.get("message"),
        finished=row["finished"],
    )
