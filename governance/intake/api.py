"""The event intake routes, `POST /api/v1/subjects/<id>/events` and `POST /api/v1/events`: they orchestrate the
vault (storage) and consent (the subject's lawful categories), so they live here, above both, rather than in the
vault, which never imports consent. They are declared on the vault's API blueprint (`governance.vault.api.bp`),
so that their endpoints, paths and OpenAPI tag stay the vault's; importing this module adds them, and the
composition root imports it before it registers that blueprint."""

from __future__ import annotations

from typing import Any

from governance.access.decorators import current_principal, requires
from governance.api import dump
from governance.db import get_session, transaction
from governance.intake.service import ingest_for_subject, ingest_mixed
from governance.vault.api import bp, subject_resource
from governance.vault.schemas import EventBatchBody, IntakeOut, MixedEventBatchBody, MixedIntakeOut, SubjectPath

__all__ = ["ingest_events", "ingest_mixed_events"]


@bp.post("/subjects/<subject_id>/events", responses={200: IntakeOut})
@requires("events.write", resource=subject_resource)
def ingest_events(path: SubjectPath, body: EventBatchBody) -> dict[str, Any]:
    """Up to 10,000 events; each accepted, reported as duplicate (same event_id), or rejected by index
    (`invalid_event`, `unknown_category`, `no_lawful_basis`: no purpose the subject permits covers it)."""
    with transaction(get_session()) as session:
        report = ingest_for_subject(session, path.subject_id, body.events, actor=current_principal())
    return dump(IntakeOut, report)


@bp.post("/events", responses={200: MixedIntakeOut})
@requires("events.write")
def ingest_mixed_events(body: MixedEventBatchBody) -> dict[str, Any]:
    """Up to 10,000 events for any number of subjects (each event names its `subject_id`). Judged per event
    as for one subject, plus `unknown_subject` and `subject_erased`; indexes refer to this request's list."""
    with transaction(get_session()) as session:
        return ingest_mixed(session, body.events, actor=current_principal())
