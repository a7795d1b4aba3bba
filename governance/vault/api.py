"""The vault API under /api/v1: subjects, profiles (by view), event reads, key management. The event intake
routes are declared on this blueprint by `governance.intake.api` (they also ask consent, which the vault never
imports)."""

from __future__ import annotations

import uuid
from contextlib import closing
from typing import Any

from governance.access.decorators import current_principal, requires, resource_of
from governance.access.principals import Principal, Resource
from governance.access.service import allowed, authorize
from governance.api import api_blueprint, dump
from governance.audit import record
from governance.db import get_session, transaction
from governance.errors import ValidationFailedError
from governance.vault import keymanagement, service
from governance.vault.errors import SubjectNotFoundError
from governance.vault.schemas import (
    BreakGlassBody,
    CreateSubjectBody,
    DataKeyRotatedOut,
    EventsOut,
    EventsQuery,
    KeyStatusOut,
    LookupBody,
    ProfileBody,
    ProfileChangedOut,
    ProfileOut,
    ProfileQuery,
    RotationOut,
    SubjectOut,
    SubjectPath,
)

bp = api_blueprint("vault", description="Data subjects, encrypted profiles and behaviour events, keys")


@resource_of("Subject")
def subject_resource(view_args: dict[str, Any]) -> Resource:
    try:
        return Resource.subject(uuid.UUID(str(view_args.get("subject_id"))))
    except ValueError:
        return Resource(type="Subject", id="invalid")


@bp.post("/subjects", responses={201: SubjectOut})
@requires("subject.create")
def create_subject(body: CreateSubjectBody) -> tuple[dict[str, Any], int]:
    """Create a data subject (scope subjects:write). The profile is validated and encrypted; 422 names bad fields."""
    with transaction(get_session()) as session:
        view = service.create_subject(
            session,
            external_ref=body.external_ref,
            actor=current_principal(),
            profile=body.profile,
            jurisdiction=body.jurisdiction,
        )
    return dump(SubjectOut, view), 201


@bp.post("/subjects/lookup", responses={200: SubjectOut})
@requires("subject.read")
def lookup_subject(body: LookupBody) -> dict[str, Any]:
    """Find a subject by the product's reference or by email (blind indexes). 404 when none matches."""
    if (body.external_ref is None) == (body.email is None):
        raise ValidationFailedError("Give exactly one of external_ref or email.", code="bad_lookup")
    view = service.find_subject(get_session(), external_ref=body.external_ref, email=body.email)
    if view is None:
        raise SubjectNotFoundError()
    authorize(current_principal(), "subject.read", Resource.subject(view.id))
    return dump(SubjectOut, view)


@bp.get("/subjects/<subject_id>", responses={200: SubjectOut})
@requires("subject.read", resource=subject_resource)
def get_subject(path: SubjectPath) -> dict[str, Any]:
    return dump(SubjectOut, service.get_subject(get_session(), path.subject_id))


@bp.patch("/subjects/<subject_id>/profile", responses={200: ProfileChangedOut})
@requires("profile.write", resource=subject_resource)
def update_profile(path: SubjectPath, body: ProfileBody) -> dict[str, Any]:
    """Set or (with null) delete profile fields; all are validated before any is written."""
    with transaction(get_session()) as session:
        changed = service.update_profile(session, path.subject_id, body.fields, actor=current_principal())
    return {"changed": changed}


def _best_view(principal: Principal, resource: Resource) -> str:
    if allowed(principal, "profile.read_clear", resource):
        return "clear"
    if allowed(principal, "profile.read_masked", resource):
        return "masked"
    return "summary"


_VIEW_ACTIONS = {"clear": "profile.read_clear", "masked": "profile.read_masked", "summary": "subject.read"}


@bp.get("/subjects/<subject_id>/profile", responses={200: ProfileOut})
@requires("subject.read", resource=subject_resource)
def read_profile(path: SubjectPath, query: ProfileQuery) -> dict[str, Any]:
    """The profile as the caller may see it: the subject (and the DPO) in clear, support masked, auditors a
    summary of fields and event counts. Asking for a fuller view than allowed is refused (403)."""
    principal = current_principal()
    resource = subject_resource({"subject_id": str(path.subject_id)})
    view = query.view or _best_view(principal, resource)
    authorize(principal, _VIEW_ACTIONS[view], resource)
    with transaction(get_session()) as session:
        result = service.read_profile(session, path.subject_id, actor=principal, view=view)  # type: ignore[arg-type]
    return ProfileOut.model_validate(result).model_dump(mode="json", exclude_none=True)


@bp.post("/subjects/<subject_id>/profile/break-glass", responses={200: ProfileOut})
@requires("subject.read", resource=subject_resource)
def break_glass(path: SubjectPath, body: BreakGlassBody) -> dict[str, Any]:
    """Clear values for staff who normally see them masked, with a written reason (audited)."""
    principal = current_principal()
    resource = subject_resource({"subject_id": str(path.subject_id)})
    authorize(principal, "profile.break_glass", resource, {"reason": body.reason})
    with transaction(get_session()) as session:
        result = service.read_profile(session, path.subject_id, actor=principal, view="clear", reason=body.reason)
    return ProfileOut.model_validate(result).model_dump(mode="json", exclude_none=True)


@bp.get("/subjects/<subject_id>/events", responses={200: EventsOut})
@requires("events.read", resource=subject_resource)
def list_events(path: SubjectPath, query: EventsQuery) -> dict[str, Any]:
    """The subject's events, oldest first, decrypted (audited as a clear read). Page with `next_since`."""
    events: list[service.EventView] = []
    next_since = None
    with transaction(get_session()) as session:
        stream = service.iter_events(
            session, path.subject_id, categories=query.category, since=query.since, until=query.until
        )
        with closing(stream):
            for event in stream:
                if len(events) == query.limit:
                    next_since = event.occurred_at
                    break
                events.append(event)
        record(
            session,
            actor=current_principal(),
            action="vault.events.read",
            target=("subject", path.subject_id),
            details={"events": len(events)},
        )
    return {"events": [_dump_event(e) for e in events], "next_since": next_since.isoformat() if next_since else None}


def _dump_event(event: service.EventView) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "category": event.category,
        "occurred_at": event.occurred_at.isoformat(),
        "item_id": event.item_id,
        "value": event.value,
        "context": event.context,
    }


@bp.get("/keys", responses={200: KeyStatusOut})
@requires("keys.read")
def key_status() -> dict[str, Any]:
    """Master-key versions, how many data keys each wraps, recent rotations. Never key material."""
    with transaction(get_session()) as session:
        status = keymanagement.key_status(session)
    rotations = [dump(RotationOut, rotation) for rotation in status["rotations"]]
    body = {"versions": status["versions"], "rotations": rotations, "epochs": status["epochs"]}
    return KeyStatusOut.model_validate(body).model_dump(mode="json")


@bp.post("/keys/rotate", responses={202: RotationOut})
@requires("keys.rotate")
def rotate_master_key() -> tuple[dict[str, Any], int]:
    """Start a master-key rotation: a new version becomes active and a job re-wraps every data key."""
    with transaction(get_session()) as session:
        view = keymanagement.start_master_rotation(session, actor=current_principal())
    return dump(RotationOut, view), 202


@bp.post("/subjects/<subject_id>/keys/rotate", responses={200: DataKeyRotatedOut})
@requires("keys.rotate", resource=subject_resource)
def rotate_data_key(path: SubjectPath) -> dict[str, Any]:
    """Give one subject a fresh data key and re-encrypt its values under it."""
    with transaction(get_session()) as session:
        version = keymanagement.rotate_data_key(session, path.subject_id, actor=current_principal())
    return {"subject_id": str(path.subject_id), "key_version": version}
