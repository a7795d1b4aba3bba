"""Filing a request: validate it, merge it into the open one of the same kind or create it, and start what can
start now (queue the export or erasure job, or apply a rectification or objection in the same transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from governance import audit, jobs, write_batch
from governance.access.principals import Principal
from governance.compiled import CompiledStatement
from governance.consent import service as consent
from governance.db import DIALECT_INSERTS, utcnow
from governance.errors import ValidationFailedError
from governance.requests.deadlines import compute_deadlines, receipt_date
from governance.requests.errors import UnknownRequestKindError
from governance.requests.lifecycle import ItemOutcome, RequestKind, Status, outcome_status
from governance.requests.models import DataSubjectRequest
from governance.requests.policy import RequestsPolicy
from governance.requests.records import (
    ERASURE_JOB,
    EXPORT_JOB,
    FiledRequest,
    RequestView,
    Source,
    audit_target,
    get_policy,
    subject_jurisdiction,
    transition,
    view_of,
)
from governance.vault import service as vault

VERIFICATION_METHOD_MAX = 60
QUEUED_KINDS = (RequestKind.ACCESS, RequestKind.PORTABILITY, RequestKind.ERASURE)  # run by a job


def file_request(
    session: Session,
    *,
    subject_id: uuid.UUID,
    kind: str,
    actor: Principal,
    source: Source,
    verification_method: str | None,
    params: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    policy: RequestsPolicy | None = None,
) -> FiledRequest:
    """File a request (or merge it into the open one of the same kind) and start what can start now.

    - verified at once when `verification_method` is given (a subject session always is);
    - access/portability and erasure are queued as durable jobs;
    - rectification (`params["fields"]`: field -> new value) and objection (`params["purposes"]`) are applied
      in this same transaction and the request is closed.

    Raises `UnknownRequestKindError` (422), `SubjectAlreadyErasedError` (404 `already_erased`), the vault's
    `SubjectNotFoundError` (404), `ValidationFailedError` for missing or bad parameters.
    """
    now = now or utcnow()
    policy = policy or get_policy()
    try:
        request_kind = RequestKind(kind)
    except ValueError:
        raise UnknownRequestKindError("Kind must be one of: " + ", ".join(k.value for k in RequestKind) + ".") from None
    params = dict(params or {})
    _validate_params(request_kind, params, verification_method)
    region = subject_jurisdiction(session, subject_id)  # the vault's region; raises 404 or already_erased

    row = _new_row(
        subject_id,
        request_kind,
        params,
        jurisdiction=policy.jurisdiction_for(region),
        actor=actor,
        source=source,
        verification_method=verification_method,
        now=now,
        policy=policy,
    )
    queued = request_kind in QUEUED_KINDS
    try:
        # The request is written once, as it stands after filing (received, verified and, for a queued kind, in
        # progress with its job), and first: `INSERT ... ON CONFLICT (open_key) DO NOTHING` writes nothing while
        # an open request of the same kind holds the key (on PostgreSQL it waits for one filed concurrently),
        # and the filing merges into that request. Its job and its audit entries (received, verified, confirmed,
        # in progress, in this order) are held until then and written after it in one statement, or dropped
        # with the block: nothing reached the database, so there is nothing to roll back and no savepoint. A
        # rectification or objection starts after them: the vault and consent write entries of their own,
        # which must follow these.
        with audit.deferred(session, write=False) as entries, jobs.deferred(session) as held:
            _record_received(session, row, actor=actor)
            if verification_method:
                transition(session, row, Status.VERIFIED, actor=actor, now=now, details={"method": verification_method})
                if queued:
                    start(session, row, actor=actor, now=now, params=params, policy=policy)
            if not _insert_unless_open(session, row):
                raise _AlreadyOpen
    except _AlreadyOpen:
        existing = _open_duplicate(session, subject_id, request_kind)
        if existing is None:  # the open one closed between the INSERT and this read: file again
            raise RuntimeError("the open request of this kind vanished while the filing merged into it") from None
        return FiledRequest(_merge(session, existing, actor=actor, source=source, now=now, policy=policy), True)
    write_batch.execute(session, [jobs.batch_part(held), audit.deferred_part(entries)])
    if verification_method and not queued:
        start(session, row, actor=actor, now=now, params=params, policy=policy)
        session.flush()
    return FiledRequest(view_of(row, policy, now), False)


class _AlreadyOpen(Exception):
    """The subject has an open request of this kind: the filing's held job and entries are dropped and it merges
    into that request."""


_REQUESTS = DataSubjectRequest.__table__
_REQUEST_COLUMNS = tuple(column.key for column in _REQUESTS.c)
_DEFAULTED_COLUMNS = frozenset(column.key for column in _REQUESTS.c if column.default is not None)
# ON CONFLICT DO NOTHING, not the ORM's flush and a caught unique-key failure: a filing that merges is expected,
# and a failed INSERT made PostgreSQL log an ERROR whose DETAIL quoted the open key, the subject's id. Compiled
# once, every column given (no client-side default applies: `_new_row` sets each column that has one).
_INSERT_UNLESS_OPEN = {
    dialect: CompiledStatement(
        insert(_REQUESTS).on_conflict_do_nothing(index_elements=[_REQUESTS.c.open_key]).returning(_REQUESTS.c.id),
        [_REQUESTS.c.id.type],
        column_keys=_REQUEST_COLUMNS,
    )
    for dialect, insert in DIALECT_INSERTS.items()
}


def _insert_unless_open(session: Session, row: DataSubjectRequest) -> bool:
    """INSERT `row` as it stands, unless an open request holds its open key; False then. On success `row` becomes
    persistent in `session` with the values it was written with (the columns it left unset are NULL)."""
    given = sa.inspect(row).dict
    missing = _DEFAULTED_COLUMNS - given.keys()  # a new column with a default that `_new_row` does not set yet
    if missing:
        raise RuntimeError(f"set these in _new_row, the compiled INSERT applies no default: {sorted(missing)}")
    values = {key: given.get(key) for key in _REQUEST_COLUMNS}
    if not _INSERT_UNLESS_OPEN[session.get_bind().dialect.name].rows(session, values):
        return False
    make_transient_to_detached(row)
    session.add(row)
    for key in _REQUEST_COLUMNS:
        if key not in given:
            set_committed_value(row, key, None)  # known to be NULL: not loaded again on first use
    return True


def _new_row(
    subject_id: uuid.UUID,
    kind: RequestKind,
    params: Mapping[str, Any],
    *,
    jurisdiction: str,
    actor: Principal,
    source: Source,
    verification_method: str | None,
    now: datetime,
    policy: RequestsPolicy,
) -> DataSubjectRequest:
    """The received request, its deadlines counted from the day of receipt in its jurisdiction."""
    rule = policy.rule(jurisdiction)
    received_on = receipt_date(now, rule)
    deadlines = compute_deadlines(rule, received_on)
    stored_at = utcnow()  # what the timestamp columns' own default gives: the time it is stored, not `now`
    return DataSubjectRequest(
        id=uuid.uuid4(),
        subject_id=subject_id,
        kind=kind.value,
        status=Status.RECEIVED.value,
        jurisdiction=jurisdiction,
        source=source,
        filed_by=f"{actor.kind}:{actor.id}",
        verification_method=verification_method,
        received_at=now,
        received_on=received_on,
        confirm_by=deadlines.confirm_by,
        original_due_on=deadlines.original_due,
        due_on=deadlines.due,
        extensions=[],
        outcome_items=[],
        params=_stored_params(kind, params),
        open_key=f"{subject_id}:{kind.value}",
        merged_count=0,
        step="new",
        result={},
        created_at=stored_at,
        updated_at=stored_at,
    )


def _record_received(session: Session, row: DataSubjectRequest, *, actor: Principal) -> None:
    audit.record(
        session,
        actor=actor,
        action="requests.request.received",
        target=audit_target(row),
        details={
            "kind": row.kind,
            "source": row.source,
            "jurisdiction": row.jurisdiction,
            "subject_id": str(row.subject_id),
            # days rather than dates: the audit log refuses digit runs that could be phone numbers
            "days_to_respond": (row.due_on - row.received_on).days,
        },
    )


def _validate_params(kind: RequestKind, params: Mapping[str, Any], verification_method: str | None) -> None:
    if verification_method is not None and not (0 < len(verification_method) <= VERIFICATION_METHOD_MAX):
        raise ValidationFailedError(fields={"verification_method": "1 to 60 characters"})
    allowed = {RequestKind.RECTIFICATION: {"fields"}, RequestKind.OBJECTION: {"purposes"}}.get(kind, set())
    unknown = set(params) - allowed
    if unknown:
        raise ValidationFailedError(fields=dict.fromkeys(unknown, f"not a parameter of a {kind.value} request"))
    if kind is RequestKind.RECTIFICATION:
        fields = params.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise ValidationFailedError(fields={"fields": "name the fields to correct and their new values"})
        if not verification_method:
            # the new values are personal data: they are applied at once and never parked unverified
            raise ValidationFailedError(fields={"verification_method": "required for rectification"})
    if kind is RequestKind.OBJECTION:
        purposes = params.get("purposes")
        if not isinstance(purposes, list) or not purposes or not all(isinstance(p, str) for p in purposes):
            raise ValidationFailedError(fields={"purposes": "name at least one purpose"})


def _stored_params(kind: RequestKind, params: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of the parameters: purposes, and only the *names* of rectified fields (never values)."""
    if kind is RequestKind.RECTIFICATION:
        return {"fields": sorted(params["fields"])}
    if kind is RequestKind.OBJECTION:
        return {"purposes": sorted(set(params["purposes"]))}
    return {}


def _open_duplicate(session: Session, subject_id: uuid.UUID, kind: RequestKind) -> DataSubjectRequest | None:
    return session.scalars(
        select(DataSubjectRequest).where(DataSubjectRequest.open_key == f"{subject_id}:{kind.value}").with_for_update()
    ).first()


def _merge(
    session: Session,
    row: DataSubjectRequest,
    *,
    actor: Principal,
    source: Source,
    now: datetime,
    policy: RequestsPolicy,
) -> RequestView:
    row.merged_count += 1
    audit.record(
        session,
        actor=actor,
        action="requests.request.merged",
        target=audit_target(row),
        details={"kind": row.kind, "source": source, "merged_count": row.merged_count},
    )
    session.flush()
    return view_of(row, policy, now)


def start(
    session: Session,
    row: DataSubjectRequest,
    *,
    actor: Principal,
    now: datetime,
    params: Mapping[str, Any],
    policy: RequestsPolicy,
) -> None:
    """verified -> in_progress, then queue the job or apply the change at once."""
    kind = RequestKind(row.kind)
    transition(session, row, Status.IN_PROGRESS, actor=actor, now=now)
    if kind in QUEUED_KINDS:
        job_kind = ERASURE_JOB if kind is RequestKind.ERASURE else EXPORT_JOB
        row.job_id = jobs.enqueue(
            session,
            job_kind,
            {"request_id": str(row.id)},
            dedupe_key=f"{job_kind}:{row.id}",
            created_by=actor.owner_label,
            key_is_new=True,  # the transition to in_progress above happens once per request, under its row lock
            flush=False,  # written after the request's own row (filing: one INSERT of the row in its final state)
        )
        row.step = "queued"
        return
    if kind is RequestKind.RECTIFICATION:
        _rectify(session, row, params["fields"], actor=actor, now=now)
    else:
        _object(session, row, row.params["purposes"], actor=actor, now=now)


def _rectify(
    session: Session, row: DataSubjectRequest, fields: Mapping[str, Any], *, actor: Principal, now: datetime
) -> None:
    changed = set(vault.update_profile(session, row.subject_id, dict(fields), actor=actor))
    items = [
        ItemOutcome(name, done=True, reason=None if name in changed else "already held this value")
        for name in sorted(fields)
    ]
    row.result = {"changed": sorted(changed), "unchanged": sorted(set(fields) - changed)}
    row.step = "done"
    transition(
        session, row, outcome_status(items), actor=actor, now=now, items=items, details={"fields_changed": len(changed)}
    )


def _object(session: Session, row: DataSubjectRequest, purposes: list[str], *, actor: Principal, now: datetime) -> None:
    """Objection/restriction takes effect at once for every named purpose (marketing without any balancing)."""
    consent.object_to(session, row.subject_id, list(purposes), actor=actor)
    items = [ItemOutcome(f"purpose:{p}", done=True) for p in purposes]
    row.result = {"purposes": list(purposes)}
    row.step = "done"
    transition(session, row, Status.COMPLETED, actor=actor, now=now, items=items, details={"purposes": list(purposes)})
