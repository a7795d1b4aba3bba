"""Subjects: creating them (one, or many in a few statements) with a fresh data key and an encrypted profile,
finding them through their blind indexes, loading them for the other services, and listing erased and active
ids. Profile values are validated here, before anything is written, for creation and for updates alike."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.audit import record
from governance.compiled import CompiledStatement
from governance.db import utcnow
from governance.vault import blind_index_rotation
from governance.vault.blind_index_rotation import EXTERNAL_REF_FIELD
from governance.vault.catalog import CategoryCatalog
from governance.vault.crypto import BlindIndex, Envelope, SubjectCipher
from governance.vault.errors import ProfileInvalidError, SubjectErasedError, SubjectExistsError, SubjectNotFoundError
from governance.vault.fields import FieldValueError, lookup_key, normalize, normalize_external_ref
from governance.vault.models import DataKey, ProfileFieldValue, Subject
from governance.vault.runtime import get_runtime
from governance.vault.service.datakeys import active_master_version
from governance.vault.service.results import Actor, SubjectView, _view
from governance.vault.service.statements import _CHUNK

_JURISDICTION = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")
_Planned = tuple[str, str, dict[str, str | None]]  # (external reference, jurisdiction, normalized profile)


def categories() -> CategoryCatalog:
    """The data-category catalog in force (`policies/categories.yaml`)."""
    return get_runtime().catalog


def _load_subject(session: Session, subject_id: uuid.UUID, *, lock: Literal["share", "update"] | None = None):
    query = select(Subject).where(Subject.id == subject_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        # populate_existing: a Subject loaded earlier in this session must not hide the locked row's state
        query = query.with_for_update(read=lock == "share").execution_options(populate_existing=True)
    subject = session.scalar(query)
    if subject is None:
        raise SubjectNotFoundError()
    if subject.status == "erased":
        raise SubjectErasedError()
    return subject


def get_subject(session: Session, subject_id: uuid.UUID) -> SubjectView:
    """The subject; raises `SubjectNotFoundError` or `SubjectErasedError`."""
    return _view(_load_subject(session, subject_id))


_STATUS_AND_JURISDICTION = CompiledStatement(
    select(Subject.status, Subject.jurisdiction).where(Subject.id == sa.bindparam("s", type_=Subject.id.type)),
    [Subject.status.type, Subject.jurisdiction.type],
)


def subject_jurisdiction(session: Session, subject_id: uuid.UUID) -> str:
    """The jurisdiction of an active subject; raises `SubjectNotFoundError` or `SubjectErasedError` as
    `get_subject` does. One primary-key read of two columns, compiled once (`governance.compiled`), for a caller
    that only needs to know the subject exists and where (filing a request; a consent write or check that found
    no state row): loading the whole subject through the ORM cost about ten times as much CPU."""
    rows = _STATUS_AND_JURISDICTION.rows(session, {"s": subject_id})
    if not rows:
        raise SubjectNotFoundError()
    status, jurisdiction = rows[0]
    if status == "erased":
        raise SubjectErasedError()
    return str(jurisdiction)


def find_subject(session: Session, *, external_ref: str | None = None, email: str | None = None):
    """The active subject with this external reference or email (through blind indexes), or None."""
    runtime = get_runtime()
    if external_ref is not None:
        try:
            ref = normalize_external_ref(external_ref)
        except FieldValueError:
            return None
        digests = blind_index_rotation.lookup_digests(session, "external_ref", ref)  # both versions mid-rotation
        query = select(Subject).where(Subject.external_ref_index.in_(digests))
    elif email is not None:
        spec = runtime.catalog.profile_fields["email"]
        try:
            normalized = normalize("email", spec, email)
        except FieldValueError:
            return None
        digests = blind_index_rotation.lookup_digests(session, "email", lookup_key("email", normalized))
        query = select(Subject).where(Subject.email_index.in_(digests)).order_by(Subject.created_at).limit(1)
    else:
        raise ValueError("find_subject needs external_ref or email")
    subject = session.scalar(query.where(Subject.status == "active"))
    return _view(subject) if subject else None


def _check_jurisdiction(jurisdiction: str) -> str:
    value = jurisdiction.strip().upper() if isinstance(jurisdiction, str) else ""
    if not _JURISDICTION.match(value):
        raise ProfileInvalidError(
            "The jurisdiction is invalid.", fields={"jurisdiction": "must look like EU, DE, US-CA"}
        )
    return value


def _normalize_profile(
    catalog: CategoryCatalog, fields: Mapping[str, Any], *, allow_delete: bool
) -> dict[str, str | None]:
    """Every field validated first; raises `ProfileInvalidError` naming each bad field (never its value)."""
    if not isinstance(fields, Mapping):
        raise ProfileInvalidError(fields={"profile": "must be an object of field names to values"})
    problems: dict[str, str] = {}
    normalized: dict[str, str | None] = {}
    unknown = 0
    for name, value in fields.items():
        spec = catalog.profile_fields.get(name)
        if spec is None:
            unknown += 1  # the name is the client's text: named by position, never echoed (docs/api.md)
            problems[f"(unknown {unknown})"] = "unknown field"
            continue
        if value is None:
            if allow_delete:
                normalized[name] = None
            else:
                problems[name] = "must not be null"
            continue
        try:
            normalized[name] = normalize(name, spec, value)
        except FieldValueError as exc:
            problems[name] = str(exc).partition(": ")[2]
    if problems:
        raise ProfileInvalidError(fields=problems)
    return normalized


def create_subject(
    session: Session,
    *,
    external_ref: str,
    actor: Actor,
    profile: Mapping[str, Any] | None = None,
    jurisdiction: str = "EU",
) -> SubjectView:
    """Create a subject with a fresh data key and (optionally) an encrypted profile.

    Raises `ProfileInvalidError` (422, fields named) or `SubjectExistsError` (409); nothing is written then.
    """
    runtime = get_runtime()
    try:
        ref = normalize_external_ref(external_ref)
    except FieldValueError as exc:
        raise ProfileInvalidError(fields={"external_ref": str(exc).partition(": ")[2]}) from None
    region = _check_jurisdiction(jurisdiction)
    values = _normalize_profile(runtime.catalog, profile or {}, allow_delete=False)
    index_version, index = blind_index_rotation.write_index(session)
    ref_index = index.compute("external_ref", ref)
    existing = blind_index_rotation.lookup_digests(session, "external_ref", ref)  # unique across versions
    if session.scalar(select(Subject.id).where(Subject.external_ref_index.in_(existing))) is not None:
        raise SubjectExistsError()

    subject_id = uuid.uuid4()
    master = active_master_version(session)
    wrapped, cipher = runtime.envelope.create(subject_id, 1, master)
    now = utcnow()
    subject = Subject(
        id=subject_id,
        external_ref_index=ref_index,
        email_index=_email_index(values.get("email"), index),
        index_version=index_version,
        external_ref_ciphertext=cipher.encrypt(EXTERNAL_REF_FIELD, ref.encode("utf-8")),
        jurisdiction=region,
        status="active",
        key_version=1,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(subject)
            session.flush()
    except sa.exc.IntegrityError:
        raise SubjectExistsError() from None  # a concurrent create with the same reference won
    session.add(DataKey(subject_id=subject_id, version=1, master_version=master, wrapped=wrapped.wrapped))
    for name, value in values.items():
        assert value is not None
        session.add(_field_row(cipher, name, value, now))
    session.flush()
    record(
        session,
        actor=actor,
        action="vault.subject.create",
        target=("subject", subject_id),
        details={"fields": sorted(values), "jurisdiction": region, "master_key_version": master},
    )
    return _view(subject)


def create_subjects(session: Session, subjects: Sequence[Mapping[str, Any]], *, actor: Actor) -> list[SubjectView]:
    """Create many subjects in the caller's transaction (bulk imports, benchmarks): for each item
    (`{"external_ref", "profile"?, "jurisdiction"?}`) exactly what `create_subject` does — a fresh data key
    wrapped by the active master version, the profile validated and encrypted, both blind indexes, one
    `vault.subject.create` audit entry — with the rows inserted in a few statements instead of one flush each.

    Everything is validated first: `ProfileInvalidError` (fields named `<index>.<field>`) or `SubjectExistsError`
    (a reference repeated in the batch or already stored) leave nothing written.
    """
    runtime = get_runtime()
    index_version, blind = blind_index_rotation.write_index(session)
    planned = _plan_subjects(runtime.catalog, subjects)
    _check_references_free(session, [p[0] for p in planned])
    master = active_master_version(session)
    rows = _bulk_rows(runtime.envelope, planned, master=master, index_version=index_version, blind=blind)
    if not rows.subjects:
        return []
    try:
        with session.begin_nested():
            session.execute(sa.insert(Subject), rows.subjects)
    except sa.exc.IntegrityError:
        raise SubjectExistsError() from None  # a concurrent create with one of the references won
    session.execute(sa.insert(DataKey), rows.keys)
    if rows.fields:
        session.execute(sa.insert(ProfileFieldValue), rows.fields)
    for view, (_, region, values) in zip(rows.views, planned, strict=True):
        record(
            session,
            actor=actor,
            action="vault.subject.create",
            target=("subject", view.id),
            details={"fields": sorted(values), "jurisdiction": region, "master_key_version": master},
        )
    return rows.views


def _plan_subjects(catalog: CategoryCatalog, subjects: Sequence[Mapping[str, Any]]) -> list[_Planned]:
    """Every item validated; raises `ProfileInvalidError` naming each problem as `<index>.<field>`."""
    planned: list[_Planned] = []
    problems: dict[str, str] = {}
    for index, item in enumerate(subjects):
        try:
            ref = normalize_external_ref(item.get("external_ref"))
            region = _check_jurisdiction(item.get("jurisdiction", "EU"))
            values = _normalize_profile(catalog, item.get("profile") or {}, allow_delete=False)
        except FieldValueError as exc:
            problems[f"{index}.external_ref"] = str(exc).partition(": ")[2]
            continue
        except ProfileInvalidError as exc:
            problems.update({f"{index}.{name}": rule for name, rule in (exc.fields or {}).items()})
            continue
        planned.append((ref, region, values))
    if problems:
        raise ProfileInvalidError(fields=problems)
    return planned


def _check_references_free(session: Session, refs: list[str]) -> None:
    """Raises `SubjectExistsError` when a reference repeats in the batch or is stored under any index version."""
    if len(set(refs)) != len(refs):
        raise SubjectExistsError()
    lookup = [
        blind_index_rotation.index_for_version(v) for v in blind_index_rotation.index_state(session).read_versions
    ]
    ref_indexes = [k.compute("external_ref", ref) for k in lookup for ref in refs]  # unique across versions
    for start in range(0, len(ref_indexes), _CHUNK):
        chunk = ref_indexes[start : start + _CHUNK]
        if session.scalar(select(Subject.id).where(Subject.external_ref_index.in_(chunk)).limit(1)) is not None:
            raise SubjectExistsError()


@dataclass(slots=True)
class _BulkRows:
    """A bulk create's rows, one list per table, and the views returned to the caller (in the batch's order)."""

    subjects: list[dict[str, Any]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    views: list[SubjectView] = field(default_factory=list)


def _bulk_rows(
    envelope: Envelope, planned: list[_Planned], *, master: int, index_version: int, blind: BlindIndex
) -> _BulkRows:
    """For each planned subject: a fresh data key wrapped by `master`, its indexed and encrypted row, its
    encrypted profile values."""
    now = utcnow()
    rows = _BulkRows()
    for ref, region, values in planned:
        subject_id = uuid.uuid4()
        wrapped, cipher = envelope.create(subject_id, 1, master)
        rows.subjects.append(
            {
                "id": subject_id,
                "external_ref_index": blind.compute("external_ref", ref),
                "email_index": _email_index(values.get("email"), blind),
                "index_version": index_version,
                "external_ref_ciphertext": cipher.encrypt(EXTERNAL_REF_FIELD, ref.encode("utf-8")),
                "jurisdiction": region,
                "status": "active",
                "key_version": 1,
                "created_at": now,
                "updated_at": now,
                "erased_at": None,
            }
        )
        rows.keys.append(
            {
                "subject_id": subject_id,
                "version": 1,
                "master_version": master,
                "wrapped": wrapped.wrapped,
                "created_at": now,
            }
        )
        for name, value in values.items():
            assert value is not None
            rows.fields.append(
                {
                    "subject_id": subject_id,
                    "name": name,
                    "key_version": 1,
                    "ciphertext": cipher.encrypt(name, value.encode("utf-8")),
                    "updated_at": now,
                }
            )
        rows.views.append(SubjectView(subject_id, region, "active", now, None, 1))
    return rows


def _email_index(email: str | None, index: BlindIndex | None = None) -> bytes | None:
    """The email's blind index with `index` (the version the row is indexed with; default version 1)."""
    if email is None:
        return None
    return (index or get_runtime().blind_index).compute("email", lookup_key("email", email))


def _field_row(cipher: SubjectCipher, name: str, value: str, now: dt.datetime) -> ProfileFieldValue:
    return ProfileFieldValue(
        subject_id=cipher.subject_id,
        name=name,
        key_version=cipher.version,
        ciphertext=cipher.encrypt(name, value.encode("utf-8")),
        updated_at=now,
    )


def erased_ids(session: Session, subject_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these subjects are erased."""
    ids = list(subject_ids)
    found: set[uuid.UUID] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.update(session.scalars(select(Subject.id).where(Subject.id.in_(chunk), Subject.status == "erased")))
    return found


def active_subject_select(subject_id: sa.ColumnElement[Any]) -> sa.Select[uuid.UUID]:
    """One column `id`: the subject's id when it is active (neither unknown nor erased), for another domain to
    join inside its own statement (the consent write locks its state rows and checks the subject in one)."""
    return select(Subject.id.label("id")).where(Subject.id == subject_id, Subject.status == "active")


def all_active_subject_ids(session: Session) -> Iterator[uuid.UUID]:
    """Every active subject id, streaming."""
    query = select(Subject.id).where(Subject.status == "active").order_by(Subject.id)
    result = session.scalars(query.execution_options(yield_per=2000))
    try:
        yield from result
    finally:
        result.close()
