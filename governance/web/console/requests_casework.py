"""Staff actions on a request (verify, confirm, reject, assign, note, extend, retry, complete): each one
transaction with its audit entry, a refusal staff can act on shown as a message on the request page."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from governance.access.decorators import current_principal, requires
from governance.db import get_session, transaction
from governance.errors import DomainError, ValidationFailedError
from governance.requests import service as requests
from governance.web.blueprint import bp
from governance.web.console.chrome import a_request
from governance.web.console.requests_queue import (
    CONFIRMATION_METHODS,
    VERIFICATION_METHODS,
    extension_choices,
    extension_refusal,
    request_uuid,
    staff_choices,
    staff_rejection_reasons,
)


def _back_to(request_id: str) -> ResponseReturnValue:
    return redirect(url_for("web.console_request", request_id=request_id), code=303)


def _act(request_id: str, action: Any, done: str) -> ResponseReturnValue:
    """Run one staff action on a request in its own transaction (the change and its audit entry together);
    a refusal the person at the console can act on (409/422) is a message on the request page, not an error."""
    session = get_session()
    try:
        with transaction(session):
            action(session, request_uuid(request_id))
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
    method = _choice("method", VERIFICATION_METHODS)
    return _act(
        request_id,
        lambda session, rid: requests.verify_request(session, rid, method=method, actor=current_principal()),
        "Identity verified; work on the request has started.",
    )


@bp.post("/console/requests/<request_id>/confirm")
@requires("dsr.manage", resource=a_request)
def console_request_confirm(request_id: str) -> ResponseReturnValue:
    method = _choice("method", CONFIRMATION_METHODS)
    return _act(
        request_id,
        lambda session, rid: requests.confirm_request(session, rid, method=method, actor=current_principal()),
        "Receipt confirmed to the person.",
    )


@bp.post("/console/requests/<request_id>/reject")
@requires("dsr.manage", resource=a_request)
def console_request_reject(request_id: str) -> ResponseReturnValue:
    code = _choice("code", staff_rejection_reasons())
    return _act(
        request_id,
        lambda session, rid: requests.reject_request(session, rid, code=code, actor=current_principal()),
        "Request rejected; the person is told the reason shown.",
    )


@bp.post("/console/requests/<request_id>/owner")
@requires("dsr.manage", resource=a_request)
def console_request_owner(request_id: str) -> ResponseReturnValue:
    choice = _choice("owner", {"", *(s["id"] for s in staff_choices())})
    owner = uuid.UUID(choice) if choice else None
    return _act(
        request_id,
        lambda session, rid: requests.assign_owner(session, rid, owner_staff_id=owner, actor=current_principal()),
        "Owner saved." if owner else "The request has no owner now.",
    )


@bp.post("/console/requests/<request_id>/notes")
@requires("dsr.manage", resource=a_request)
def console_request_note(request_id: str) -> ResponseReturnValue:
    text = request.form.get("text", "")
    return _act(
        request_id,
        lambda session, rid: requests.add_note(session, rid, text=text, actor=current_principal()),
        "Note added (staff only; never shown to the person).",
    )


@bp.post("/console/requests/<request_id>/extend")
@requires("dsr.manage", resource=a_request)
def console_request_extend(request_id: str) -> ResponseReturnValue:
    reason = request.form.get("reason", "").strip()
    if len(reason) < 10:
        raise ValidationFailedError(fields={"reason": "at least 10 characters"})
    session = get_session()
    view = requests.get_request(session, request_uuid(request_id))
    if not view.extension_available:  # the service would refuse it too, for the same reason
        flash(f"Not extended: {extension_refusal(view)}", "error")
        return _back_to(request_id)
    choices = dict(extension_choices(view))
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
    return _act(
        request_id,
        lambda session, rid: requests.retry_job(session, rid, actor=current_principal()),
        "The request's job is queued again.",
    )


@bp.post("/console/requests/<request_id>/complete")
@requires("dsr.complete", resource=a_request)
def console_request_complete(request_id: str) -> ResponseReturnValue:
    method = _choice("method", requests.COMPLETION_METHODS)
    reference = request.form.get("reference", "")  # kept as an internal note; never flashed, logged or audited
    return _act(
        request_id,
        lambda session, rid: requests.complete_by_hand(
            session, rid, method=method, reference=reference, actor=current_principal()
        ),
        "Request completed; the person is told it is done.",
    )
