"""The vault's services: subjects, encrypted profiles and events, reads by view, crypto-shredding.

Every function takes the caller's `Session` and never commits: the route or job owns the transaction, and every
state change adds its audit entry to the same session. Values are validated before anything is written, so a
rejected call leaves nothing behind. Key management (master-key rotation, data-key rotation) and retention live
in `governance.vault.keys` and `governance.vault.retention`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from governance import inputs
from governance.access.principals import ActorRef, Principal
from governance.audit import record
from governance.db import utcnow
from governance.vault import batch_unwrap, blind_index_rotation
from governance.vault.blind_index_rotation import EXTERNAL_REF_FIELD
from governance.vault.catalog import CategoryCatalog
from governance.vault.crypto import BlindIndex, DecryptionError, SubjectCipher, WrappedKey
from governance.vault.errors import (
    IntakeTooLargeError,
    ProfileInvalidError,
    SubjectErasedError,
    SubjectExistsError,
    SubjectNotFoundError,
    VaultIntegrityError,
)
from governance.vault.fields import FieldValueError, lookup_key, mask, normalize, normalize_external_ref
from governance.vault.keyproviders import KeyProviderError, KeyProviderUnavailable
from governance.vault.models import DataKey, Event, MasterKeyVersion, ProfileFieldValue, Subject, Tombstone
from governance.vault.runtime import get_runtime

__all__ = [
    "MAX_EVENTS_PER_REQUEST",
    "EventRejection",
    "EventView",
    "IntakeReport",
    "ShredReport",
    "SubjectRows",
    "SubjectView",
    "all_active_subject_ids",
    "backups_unreadable_by",
    "bounded_event_count",
    "categories",
    "create_subject",
    "create_subjects",
    "erased_ids",
    "event_counts",
    "event_counts_by_month",
    "find_subject",
    "get_subject",
    "ingest_events",
    "iter_events",
    "iter_release_rows",
    "read_profile",
    "shred_subject",
    "update_profile",
]

Actor = Principal | ActorRef
View = Literal["clear", "masked", "summary"]
MAX_EVENTS_PER_REQUEST = 10_000
MAX_FUTURE_SKEW = dt.timedelta(minutes=10)
_JURISDICTION = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")
_EVENT_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


# ---------------------------------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class SubjectView:
    id: uuid.UUID
    jurisdiction: str
    status: str
    created_at: dt.datetime
    erased_at: dt.datetime | None
    key_version: int


@dataclass(frozen=True, slots=True)
class EventView:
    event_id: str
    category: str
    occurred_at: dt.datetime
    item_id: str | None
    value: float | None
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SubjectRows:
    """One subject's data for a release: the asked profile fields (absent ones omitted) and events."""

    subject_id: uuid.UUID
    profile: dict[str, str]
    events: list[EventView]


@dataclass(frozen=True, slots=True)
class EventRejection:
    index: int
    event_id: str | None
    error: str  # invalid_event | unknown_category | no_lawful_basis
    message: str


@dataclass(slots=True)
class IntakeReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[EventRejection] = field(default_factory=list)
    by_category: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ShredReport:
    subject_id: uuid.UUID
    erased_at: dt.datetime
    fields_destroyed: int
    events_destroyed: int
    keys_destroyed: int
    events_kept: int
    already_erased: bool = False


def _view(subject: Subject) -> SubjectView:
    return SubjectView(
        subject.id, subject.jurisdiction, subject.status, subject.created_at, subject.erased_at, subject.key_version
    )


def categories() -> CategoryCatalog:
    """The data-category catalog in force (`policies/categories.yaml`)."""
    return get_runtime().catalog


# ---------------------------------------------------------------------------------------------------- keys


def active_master_version(session: Session) -> int:
    """The master-key version new data keys are wrapped with, as recorded in the database.

    Registers the provider's active version on first use. On PostgreSQL the row is read FOR SHARE so that a
    rotation cannot retire the version between this read and the commit of the data key wrapped with it; a
    read that raced with a rotation's commit (the old row no longer active, the new one not yet visible to
    that statement) simply reads again.
    """
    is_postgres = session.get_bind().dialect.name == "postgresql"
    query = select(MasterKeyVersion.version).where(MasterKeyVersion.state == "active")
    if is_postgres:
        query = query.with_for_update(read=True)
    for _ in range(5):
        version = session.scalar(query)
        if version is not None:
            return version
        if session.scalar(select(func.count()).select_from(MasterKeyVersion)):
            continue  # a rotation committed between our snapshot and our lock: read again
        provider = get_runtime().provider
        session.execute(
            _insert_ignore(session, MasterKeyVersion).values(
                version=provider.active_version(), provider=provider.name, state="active", created_at=utcnow()
            )
        )
    raise VaultIntegrityError("No active master-key version is recorded.")


def backups_unreadable_by(session: Session, erased_at: dt.datetime) -> dt.date | None:
    """The day (UTC) by the end of which a person erased at `erased_at` is unreadable in every backup.

    Their data key was wrapped only by master versions in use up to `erased_at`; the latest of them (the
    active one) is retired when the next epoch opens (its start + epoch length, or at once if that is past)
    and destroyed a backup retention later; `margin` covers the hourly job and the re-wrap. None when the
    key provider does not rotate by itself (environment variables): the bound then depends on the operator.
    """
    runtime = get_runtime()
    if not runtime.provider.epochs_automatic:
        return None
    schedule = runtime.schedule
    active = session.scalar(select(MasterKeyVersion.created_at).where(MasterKeyVersion.state == "active"))
    epoch_ends = max((active or erased_at) + schedule.epoch, erased_at)
    return (epoch_ends + schedule.backup_retention + schedule.margin).astimezone(dt.UTC).date()


def rowcount(result: Any) -> int:
    """Rows a DML statement touched (`Session.execute` is typed as returning a plain `Result`)."""
    return int(cast(sa.CursorResult[Any], result).rowcount)


def _insert_ignore(session: Session, model: type[Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the backend in use."""
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model.__table__).on_conflict_do_nothing()
    return sqlite.insert(model.__table__).on_conflict_do_nothing()


def _wrapped(row: DataKey) -> WrappedKey:
    return WrappedKey(row.subject_id, row.version, row.master_version, row.wrapped)


def _cipher_for(session: Session, subject: Subject, version: int | None = None) -> SubjectCipher:
    version = subject.key_version if version is None else version
    row = session.get(DataKey, (subject.id, version))
    if row is None:
        raise VaultIntegrityError("The subject's data key is missing.")
    return _unwrap(row)


def _unwrap(row: DataKey) -> SubjectCipher:
    try:
        return get_runtime().envelope.cipher(_wrapped(row))
    except KeyProviderUnavailable:
        raise  # the HSM is down (503), not the data broken
    except KeyProviderError:
        raise VaultIntegrityError("A data key could not be unwrapped.") from None


def _decrypt(cipher: SubjectCipher, name: str, blob: bytes) -> bytes:
    try:
        return cipher.decrypt(name, blob)
    except DecryptionError:
        raise VaultIntegrityError("A stored value failed its integrity check.") from None


# ---------------------------------------------------------------------------------------------------- subjects


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
    catalog = runtime.catalog
    index_version, blind = blind_index_rotation.write_index(session)
    planned: list[tuple[bytes, str, dict[str, str | None]]] = []
    problems: dict[str, str] = {}
    for index, item in enumerate(subjects):
        try:
            ref = normalize_external_ref(item.get("external_ref"))  # type: ignore[arg-type]
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
    refs = [p[0] for p in planned]
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
    master = active_master_version(session)
    now = utcnow()
    subject_rows: list[dict[str, Any]] = []
    key_rows: list[dict[str, Any]] = []
    field_rows: list[dict[str, Any]] = []
    views: list[SubjectView] = []
    for ref, region, values in planned:
        subject_id = uuid.uuid4()
        wrapped, cipher = runtime.envelope.create(subject_id, 1, master)
        subject_rows.append(
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
        key_rows.append(
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
            field_rows.append(
                {
                    "subject_id": subject_id,
                    "name": name,
                    "key_version": 1,
                    "ciphertext": cipher.encrypt(name, value.encode("utf-8")),
                    "updated_at": now,
                }
            )
        views.append(SubjectView(subject_id, region, "active", now, None, 1))
    if not subject_rows:
        return []
    try:
        with session.begin_nested():
            session.execute(sa.insert(Subject), subject_rows)
    except sa.exc.IntegrityError:
        raise SubjectExistsError() from None  # a concurrent create with one of the references won
    session.execute(sa.insert(DataKey), key_rows)
    if field_rows:
        session.execute(sa.insert(ProfileFieldValue), field_rows)
    for view, (_, region, values) in zip(views, planned, strict=True):
        record(
            session,
            actor=actor,
            action="vault.subject.create",
            target=("subject", view.id),
            details={"fields": sorted(values), "jurisdiction": region, "master_key_version": master},
        )
    return views


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


# ---------------------------------------------------------------------------------------------------- profile


def _key_columns() -> tuple[Any, ...]:
    return (
        DataKey.subject_id.label("k_subject"),
        DataKey.version.label("k_version"),
        DataKey.master_version,
        DataKey.wrapped,
    )


def _row_cipher(row: Any) -> SubjectCipher:
    """The cipher for a row that carries its data key's columns (joined in the same statement, so that the
    ciphertext and its key come from one snapshot even while the subject's key is being rotated)."""
    if row.wrapped is None:
        raise VaultIntegrityError("A stored value has no data key.")
    try:
        return get_runtime().envelope.cipher(WrappedKey(row.k_subject, row.k_version, row.master_version, row.wrapped))
    except KeyProviderUnavailable:
        raise  # the HSM is down (503), not the data broken
    except KeyProviderError:
        raise VaultIntegrityError("A data key could not be unwrapped.") from None


def _field_query(subject_ids: Sequence[uuid.UUID], names: Iterable[str] | None) -> sa.Select[Any]:
    query = (
        select(ProfileFieldValue.subject_id, ProfileFieldValue.name, ProfileFieldValue.ciphertext, *_key_columns())
        .outerjoin(
            DataKey,
            (DataKey.subject_id == ProfileFieldValue.subject_id) & (DataKey.version == ProfileFieldValue.key_version),
        )
        .where(ProfileFieldValue.subject_id.in_(list(subject_ids)))
    )
    if names is not None:
        query = query.where(ProfileFieldValue.name.in_(list(names)))
    return query


def _decrypt_fields(session: Session, subject: Subject, names: Iterable[str] | None = None) -> dict[str, str]:
    return {
        row.name: _decrypt(_row_cipher(row), row.name, row.ciphertext).decode("utf-8")
        for row in session.execute(_field_query([subject.id], names))
    }


def update_profile(session: Session, subject_id: uuid.UUID, fields: Mapping[str, Any], *, actor: Actor) -> list[str]:
    """Set (or, with None, delete) profile fields; returns the names that actually changed (rectification).

    All values are validated before any is written: `ProfileInvalidError` leaves the profile untouched.
    """
    runtime = get_runtime()
    values = _normalize_profile(runtime.catalog, fields, allow_delete=True)
    subject = _load_subject(session, subject_id, lock="share")
    current = _decrypt_fields(session, subject, values)
    cipher = _cipher_for(session, subject)
    now = utcnow()
    changed: list[str] = []
    for name, value in values.items():
        if current.get(name) == value:
            continue
        changed.append(name)
        existing = session.get(ProfileFieldValue, (subject.id, name))
        if value is None:
            if existing is not None:
                session.delete(existing)
        elif existing is None:
            session.add(_field_row(cipher, name, value, now))
        else:
            existing.key_version = cipher.version
            existing.ciphertext = cipher.encrypt(name, value.encode("utf-8"))
            existing.updated_at = now
        if name == "email":
            # the row's own version: its two indexes always share one (the re-indexing job moves both)
            subject.email_index = _email_index(value, blind_index_rotation.index_for_version(subject.index_version))
    if changed:
        subject.updated_at = now
        session.flush()
        record(
            session,
            actor=actor,
            action="vault.profile.update",
            target=("subject", subject.id),
            details={"fields": sorted(changed)},
        )
    return sorted(changed)


def read_profile(
    session: Session, subject_id: uuid.UUID, *, actor: Actor, view: View, reason: str | None = None
) -> dict[str, Any]:
    """The subject's profile as `view`: clear values (audited, with `reason` for break-glass), masked values,
    or a summary of which fields exist and how many events per category (no values at all)."""
    subject = _load_subject(session, subject_id)
    catalog = get_runtime().catalog
    if view == "summary":
        present = session.scalars(
            select(ProfileFieldValue.name).where(ProfileFieldValue.subject_id == subject.id)
        ).all()
        counts = event_counts(session, subject.id)
        return {
            "subject_id": str(subject.id),
            "view": "summary",
            "fields_present": sorted(present),
            "event_counts": counts,
            "events_total": sum(counts.values()),
        }
    values = _decrypt_fields(session, subject)
    if view == "masked":
        shown = {name: mask(catalog.profile_fields[name], value) for name, value in values.items()}
        return {"subject_id": str(subject.id), "view": "masked", "fields": dict(sorted(shown.items()))}
    if view != "clear":
        raise ValueError("view must be clear, masked or summary")
    # the break-glass reason itself is stored by the access domain (access.break_glass.granted)
    details: dict[str, Any] = {"fields": sorted(values), "break_glass": reason is not None}
    record(session, actor=actor, action="vault.profile.read_clear", target=("subject", subject.id), details=details)
    return {"subject_id": str(subject.id), "view": "clear", "fields": dict(sorted(values.items()))}


# ---------------------------------------------------------------------------------------------------- events


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message


def _parse_time(value: Any) -> dt.datetime:
    """The shared timestamp rule (governance.inputs): ISO 8601 with a time zone, inside the calendar."""
    try:
        return inputs.parse_timestamp(value)
    except ValueError as exc:
        raise _Invalid("invalid_event", f"occurred_at {exc}") from None


_EVENT_KEYS = frozenset({"event_id", "category", "occurred_at", "item_id", "value", "context"})
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True)
class _CategoryRule:
    """An event category's checks, precomputed once per catalog (the intake hot path)."""

    name: str
    item_required: bool
    context_keys: frozenset[str]
    value_name: str | None
    value_min: float
    value_max: float
    value_required: bool


_RULES: dict[int, dict[str, _CategoryRule]] = {}


def _rules(catalog: CategoryCatalog) -> dict[str, _CategoryRule]:
    rules = _RULES.get(id(catalog))
    if rules is None:
        rules = {
            name: _CategoryRule(
                name,
                spec.item,
                spec.context_keys,
                spec.value.name if spec.value else None,
                spec.value.min if spec.value else 0.0,
                spec.value.max if spec.value else 0.0,
                bool(spec.value and spec.value.required),
            )
            for name, spec in catalog.event_categories.items()
        }
        _RULES[id(catalog)] = rules
    return rules


def _is_number(value: Any) -> bool:
    kind = type(value)
    return (kind is int or kind is float) and math.isfinite(value)


def _validate_event(
    rules: Mapping[str, _CategoryRule], raw: Any, lawful: set[str] | frozenset[str], latest: dt.datetime
) -> tuple[str, str, dt.datetime, bytes]:
    """(event_id, category, occurred_at, plaintext payload) or `_Invalid` naming the problem (never a value)."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise _Invalid("invalid_event", "an event must be an object")
    if not raw.keys() <= _EVENT_KEYS:
        # the attribute names are the client's text: say how many, never which
        raise _Invalid("invalid_event", f"{len(set(raw) - _EVENT_KEYS)} unknown event attribute(s)")
    event_id = raw.get("event_id")
    if type(event_id) is not str or not _EVENT_ID.match(event_id):
        raise _Invalid("invalid_event", "event_id must be 1-128 printable ASCII characters")
    category = raw.get("category")
    rule = rules.get(category) if type(category) is str else None
    if rule is None:
        raise _Invalid("unknown_category", "category is not a known event category")
    occurred_at = _parse_time(raw.get("occurred_at"))
    if occurred_at > latest:
        raise _Invalid("invalid_event", "occurred_at is in the future")
    item_id = raw.get("item_id")
    if item_id is None:
        if rule.item_required:
            raise _Invalid("invalid_event", f"item_id is required for {category} events")
    elif type(item_id) is not str or not 1 <= len(item_id) <= 128:
        raise _Invalid("invalid_event", "item_id must be a string of 1-128 characters")
    value = raw.get("value")
    if value is not None:
        if rule.value_name is None:
            raise _Invalid("invalid_event", f"{category} events carry no value")
        if not _is_number(value):
            raise _Invalid("invalid_event", "value must be a number")
        if not rule.value_min <= value <= rule.value_max:
            bounds = f"[{rule.value_min:g}, {rule.value_max:g}]"
            raise _Invalid("invalid_event", f"value ({rule.value_name}) must be in {bounds}")
    elif rule.value_required:
        raise _Invalid("invalid_event", f"value ({rule.value_name}) is required for {category} events")
    context = raw.get("context")
    if context:
        if type(context) is not dict and not isinstance(context, Mapping):
            raise _Invalid("invalid_event", "context must be an object")
        if not context.keys() <= rule.context_keys:
            raise _Invalid("invalid_event", f"context key not allowed for {category} events")
        for item in context.values():
            if type(item) is str:
                if len(item) > 500:
                    raise _Invalid("invalid_event", "context values must be at most 500 characters")
            elif not _is_number(item):
                raise _Invalid("invalid_event", "context values must be strings or numbers")
    elif context is not None and context != {}:
        raise _Invalid("invalid_event", "context must be an object")
    if category not in lawful:
        raise _Invalid("no_lawful_basis", "no purpose the subject permits covers this category")
    # the client's id travels encrypted with the event; the column holds only its keyed hash (`stored_event_id`)
    payload = _JSON.encode({"e": event_id, "i": item_id, "v": value, "c": context or {}}).encode("utf-8")
    return event_id, rule.name, occurred_at, payload


STORED_EVENT_ID_PREFIX = "h:"


def stored_event_ids(blind_index: Any, subject_id: uuid.UUID) -> Callable[[str], str]:
    """The form a subject's event ids are stored in: a keyed hash (the blind-index key, per subject), so that
    nothing a client chose survives an erasure in clear, while a retried batch still finds its events."""
    compute = blind_index.hasher("event_id", f"{subject_id}:")

    def stored(event_id: str) -> str:
        return STORED_EVENT_ID_PREFIX + compute(event_id).hex()

    return stored


_INTAKE_COLUMNS = ("subject_id", "event_id", "category", "occurred_at", "received_at", "key_version", "ciphertext")


def _insert_ignoring_duplicates(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """Insert event rows (tuples in `_INTAKE_COLUMNS` order); rows whose (subject, event id) is already stored
    are skipped by ON CONFLICT DO NOTHING. Returns how many were inserted."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return _copy_insert(session, rows)
    return _sqlite_insert(session, rows)


def _sqlite_insert(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """SQLite: one executemany of a plain INSERT ... ON CONFLICT DO NOTHING. Values go through the columns'
    own bind processors (so they are stored exactly as the ORM stores them), once per distinct value where
    the batch shares it (subject, receive time)."""
    dialect = session.get_bind().dialect
    columns = Event.__table__.c
    to_uuid = columns.subject_id.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    to_time = columns.occurred_at.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    subject, received = to_uuid(rows[0][0]), to_time(rows[0][4])
    params = [
        (subject, event_id, category, to_time(occurred_at), received, version, blob)
        for _, event_id, category, occurred_at, _, version, blob in rows
    ]
    names = ", ".join(_INTAKE_COLUMNS)
    result = session.connection().exec_driver_sql(
        f"INSERT INTO vault_events ({names}) VALUES (?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - fixed names  # nosec B608
        "ON CONFLICT (subject_id, event_id) DO NOTHING",
        params,
    )
    return rowcount(result)


def _copy_insert(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """PostgreSQL: COPY into a per-connection temporary table, then one INSERT ... SELECT ... ON CONFLICT DO
    NOTHING (several times faster than row-wise INSERTs), in the caller's transaction."""
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS vault_events_intake ("
            "subject_id uuid, event_id varchar(128), category varchar(64), occurred_at timestamptz, "
            "received_at timestamptz, key_version integer, ciphertext bytea) ON COMMIT DELETE ROWS"
        )
        columns = ", ".join(_INTAKE_COLUMNS)
        with cursor.copy(f"COPY vault_events_intake ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO vault_events ({columns}) SELECT {columns} FROM vault_events_intake "  # noqa: S608 - fixed  # nosec B608
            "ON CONFLICT (subject_id, event_id) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE vault_events_intake")
    finally:
        cursor.close()
    return inserted


def ingest_events(
    session: Session,
    subject_id: uuid.UUID,
    events: Sequence[Any],
    *,
    actor: Actor,
    lawful_categories: set[str] | frozenset[str],
) -> IntakeReport:
    """Validate, encrypt and store a batch of events for one subject; idempotent by event id.

    Each event is judged alone: invalid ones (`invalid_event`, `unknown_category`) and those no permitted
    purpose covers (`no_lawful_basis`) are reported by index and not stored; the others are stored. Events
    already stored (same event id) count as duplicates and are not stored again.
    """
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise IntakeTooLargeError()
    runtime = get_runtime()
    rules = _rules(runtime.catalog)
    subject = _load_subject(session, subject_id, lock="share")
    cipher = _cipher_for(session, subject)
    report = IntakeReport()
    now = utcnow()
    latest = now + MAX_FUTURE_SKEW
    rows: list[tuple[Any, ...]] = []
    seen: set[str] = set()
    by_category: Counter[str] = Counter()
    encrypt, version, sid = cipher.encrypt, cipher.version, subject.id
    stored_id = stored_event_ids(runtime.blind_index, sid)
    for index, raw in enumerate(events):
        try:
            event_id, category, occurred_at, payload = _validate_event(rules, raw, lawful_categories, latest)
        except _Invalid as problem:
            raw_id = raw.get("event_id") if isinstance(raw, Mapping) else None
            safe_id = raw_id if isinstance(raw_id, str) and _EVENT_ID.match(raw_id) else None
            report.rejected.append(EventRejection(index, safe_id, problem.code, problem.message))
            continue
        if event_id in seen:
            report.duplicates += 1
            continue
        seen.add(event_id)
        stored = stored_id(event_id)
        rows.append((sid, stored, category, occurred_at, now, version, encrypt("event:" + stored, payload)))
        by_category[category] += 1
    legacy = _stored_in_clear(session, sid, seen) if seen else 0
    if legacy:  # events stored before ids were hashed count as duplicates too
        clear = {row[1]: row for row in rows}
        rows = [row for key, row in clear.items() if key not in legacy]
        report.duplicates += len(clear) - len(rows)
        by_category = Counter(row[2] for row in rows)
    inserted = _insert_ignoring_duplicates(session, rows)
    if inserted < len(rows):  # some were stored before: count per category from what is now new
        by_category = _new_categories(session, sid, rows, now)
    report.duplicates += len(rows) - inserted
    report.accepted = inserted
    report.by_category = dict(by_category)
    rejected_codes = Counter(r.error for r in report.rejected)
    if report.accepted or report.rejected or report.duplicates:
        record(
            session,
            actor=actor,
            action="vault.events.ingest",
            target=("subject", subject.id),
            details={
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "rejected": dict(rejected_codes),
                "categories": report.by_category,
            },
        )
    return report


# Per database: whether rows with client ids in clear (written before ids were hashed) may exist. New rows are
# always hashed, so once a database has none it never has any again; the scan runs once per process.
_CLEAR_IDS_MAY_EXIST: dict[str, bool] = {}


def forget_clear_id_check() -> None:
    """Run the one-time scan for ids stored in clear again (tests that write such rows by hand)."""
    _CLEAR_IDS_MAY_EXIST.clear()


def _clear_ids_may_exist(session: Session) -> bool:
    url = str(session.get_bind().url)
    known = _CLEAR_IDS_MAY_EXIST.get(url)
    if known is None:
        prefix = STORED_EVENT_ID_PREFIX + "%"
        known = session.scalar(select(Event.id).where(Event.event_id.not_like(prefix)).limit(1)) is not None
        _CLEAR_IDS_MAY_EXIST[url] = known
    return known


def _stored_in_clear(session: Session, subject_id: uuid.UUID, client_ids: set[str]) -> set[str]:
    """Stored ids (hashed) of this batch's events that an older version stored with the client's id in clear.
    Returns the hashed forms, so the caller can drop those rows as duplicates."""
    if not _clear_ids_may_exist(session):
        return set()
    found: set[str] = set()
    ids = sorted(client_ids)
    stored = stored_event_ids(get_runtime().blind_index, subject_id)
    for start in range(0, len(ids), _CHUNK):
        query = select(Event.event_id).where(
            Event.subject_id == subject_id, Event.event_id.in_(ids[start : start + _CHUNK])
        )
        found.update(stored(event_id) for event_id in session.scalars(query))
    return found


def _new_categories(session: Session, subject_id: uuid.UUID, rows: list[tuple[Any, ...]], now: dt.datetime):
    """Per-category counts of the rows this call stored (those with its `received_at`)."""
    ids = [row[1] for row in rows]
    counts: Counter[str] = Counter()
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(Event.category, func.count())
            .where(Event.subject_id == subject_id, Event.event_id.in_(ids[start : start + _CHUNK]))
            .where(Event.received_at == now)
            .group_by(Event.category)
        )
        for category, count in session.execute(query):
            counts[str(category)] += int(count)
    return counts


def _event_view(cipher: SubjectCipher, row: Any) -> EventView:
    payload = json.loads(_decrypt(cipher, "event:" + row.event_id, row.ciphertext))
    client_id = payload.get("e", row.event_id)  # rows stored before ids were hashed hold it in the column
    return EventView(client_id, row.category, row.occurred_at, payload["i"], payload["v"], payload["c"])


def _event_query(
    subject_ids: Sequence[uuid.UUID],
    categories: Iterable[str] | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> sa.Select[Any]:
    query = (
        select(Event.subject_id, Event.event_id, Event.category, Event.occurred_at, Event.ciphertext, *_key_columns())
        .outerjoin(DataKey, (DataKey.subject_id == Event.subject_id) & (DataKey.version == Event.key_version))
        .where(Event.subject_id.in_(list(subject_ids)))
    )
    if categories is not None:
        query = query.where(Event.category.in_(list(categories)))
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if until is not None:
        query = query.where(Event.occurred_at < until)
    return query.order_by(Event.subject_id, Event.occurred_at, Event.id)


def iter_events(
    session: Session,
    subject_id: uuid.UUID,
    *,
    categories: Iterable[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Generator[EventView, None, None]:
    """The subject's events, oldest first, decrypted as they stream (`since` inclusive, `until` exclusive)."""
    subject = _load_subject(session, subject_id)
    query = _event_query([subject.id], categories, since, until).execution_options(yield_per=1000)
    result = session.execute(query)
    try:
        for row in result:
            yield _event_view(_row_cipher(row), row)
    finally:
        result.close()  # a consumer that stops early must not leave a server-side cursor open


def event_counts(session: Session, subject_id: uuid.UUID) -> dict[str, int]:
    """Events stored per category (no values)."""
    rows = session.execute(
        select(Event.category, func.count()).where(Event.subject_id == subject_id).group_by(Event.category)
    )
    return {str(category): int(count) for category, count in rows}


def event_counts_by_month(
    session: Session, subject_id: uuid.UUID, *, since: dt.datetime | None = None
) -> dict[str, dict[str, int]]:
    """Events per calendar month (UTC, "YYYY-MM") and category, oldest month first; nothing is decrypted."""
    query = select(Event.category, Event.occurred_at).where(Event.subject_id == subject_id)
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    months: dict[str, Counter[str]] = {}
    for category, occurred_at in session.execute(query):
        months.setdefault(occurred_at.strftime("%Y-%m"), Counter())[category] += 1
    return {month: dict(counts) for month, counts in sorted(months.items())}


def iter_release_rows(
    session: Session,
    subject_ids: Iterable[uuid.UUID],
    *,
    fields: Iterable[str],
    event_categories: Iterable[str],
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> Iterator[SubjectRows]:
    """Bulk, streaming decryption for the gateway: for each active subject (in the given order, erased ones
    skipped), the asked profile fields it has and its events of the asked categories in [since, until)."""
    field_names = list(fields)
    category_names = list(event_categories)
    batch: list[uuid.UUID] = []
    for subject_id in subject_ids:
        batch.append(subject_id)
        if len(batch) >= _CHUNK:
            yield from _release_batch(session, batch, field_names, category_names, since, until)
            batch = []
    if batch:
        yield from _release_batch(session, batch, field_names, category_names, since, until)


_SCAN_JSON = json.JSONDecoder().scan_once


def _raw_time(value: Any) -> dt.datetime:
    """A stored UTC time as read without SQLAlchemy's per-row processing: SQLite's naive ISO text, or the
    driver's aware datetime (PostgreSQL)."""
    if type(value) is str:
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


def _release_event_query(
    chunk: list[uuid.UUID], categories: list[str], since: dt.datetime | None, until: dt.datetime | None
) -> sa.Select[Any]:
    """Events of a chunk of subjects, raw ids and times (see `_release_batch`), with their data keys."""
    raw_text = sa.String()
    query = (
        select(
            sa.type_coerce(Event.subject_id, raw_text),
            Event.event_id,
            Event.category,
            sa.type_coerce(Event.occurred_at, raw_text),
            Event.ciphertext,
            Event.key_version,
            DataKey.master_version,
            DataKey.wrapped,
        )
        .outerjoin(
            DataKey,
            (DataKey.subject_id == Event.subject_id)
            & (DataKey.version == Event.key_version)
            & DataKey.subject_id.in_(chunk),  # PostgreSQL: hash only this chunk's keys, not the whole table
        )
        .where(Event.subject_id.in_(chunk), Event.category.in_(categories))
    )
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if until is not None:
        query = query.where(Event.occurred_at < until)
    return query.order_by(Event.subject_id, Event.occurred_at, Event.id)


def _release_batch(
    session: Session,
    subject_ids: list[uuid.UUID],
    fields: list[str],
    categories: list[str],
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> Iterator[SubjectRows]:
    """One chunk of `iter_release_rows`: the hot path of releases and DP queries.

    Ids and times are selected without SQLAlchemy's per-row result processing (`type_coerce`) and mapped back
    here: a subject id arrives as its stored form (32-hex text on SQLite, a UUID from psycopg), looked up in a
    dict of the chunk's ids. Each row still carries its own data key's columns (one statement, one snapshot),
    but a key is turned into a cipher once per (subject, version), not once per row."""
    active = set(session.scalars(select(Subject.id).where(Subject.id.in_(subject_ids), Subject.status == "active")))
    if not active:
        return
    ids: dict[Any, uuid.UUID] = {}
    for sid in active:
        ids[sid] = sid
        ids[sid.hex] = sid
    envelope = get_runtime().envelope
    ciphers: dict[tuple[Any, int], SubjectCipher] = {}
    if batch_unwrap.provider_batches():  # an HSM: the chunk's data keys in one call, not one call per subject
        for (sid, version), ready in batch_unwrap.chunk_ciphers(session, list(active)).items():
            ciphers[(sid, version)] = ciphers[(sid.hex, version)] = ready  # raw ids: UUID (psycopg) or hex

    def cipher_of(raw_subject: Any, version: int, master_version: int | None, wrapped: bytes | None) -> SubjectCipher:
        cipher = ciphers.get((raw_subject, version))
        if cipher is None:
            if wrapped is None or master_version is None:
                raise VaultIntegrityError("A stored value has no data key.")
            try:
                cipher = envelope.cipher(WrappedKey(ids[raw_subject], version, master_version, wrapped), remember=False)
            except KeyProviderUnavailable:
                raise  # the HSM is down (503), not the data broken
            except KeyProviderError:
                raise VaultIntegrityError("A data key could not be unwrapped.") from None
            ciphers[(raw_subject, version)] = cipher
        return cipher

    raw_text = sa.String()
    chunk = list(active)
    profiles: dict[uuid.UUID, dict[str, str]] = {sid: {} for sid in active}
    if fields:
        query = (
            select(
                sa.type_coerce(ProfileFieldValue.subject_id, raw_text),
                ProfileFieldValue.name,
                ProfileFieldValue.ciphertext,
                ProfileFieldValue.key_version,
                DataKey.master_version,
                DataKey.wrapped,
            )
            .outerjoin(
                DataKey,
                (DataKey.subject_id == ProfileFieldValue.subject_id)
                & (DataKey.version == ProfileFieldValue.key_version)
                & DataKey.subject_id.in_(chunk),  # PostgreSQL: hash only this chunk's keys, not the whole table
            )
            .where(ProfileFieldValue.subject_id.in_(chunk), ProfileFieldValue.name.in_(fields))
        )
        for raw_subject, name, blob, version, master_version, wrapped in session.connection().execute(query):
            cipher = cipher_of(raw_subject, version, master_version, wrapped)
            profiles[ids[raw_subject]][name] = _decrypt(cipher, name, blob).decode("utf-8")
    events: dict[uuid.UUID, list[EventView]] = {sid: [] for sid in active}
    if categories:
        query = _release_event_query(chunk, categories, since, until)
        scan = _SCAN_JSON
        current: Any = None
        target: list[EventView] = []
        cipher: SubjectCipher | None = None
        cipher_key: tuple[Any, int] | None = None
        # Core execution on the session's connection (same transaction): no ORM row loading per event
        for (
            raw_subject,
            event_id,
            category,
            occurred_at,
            blob,
            version,
            master_version,
            wrapped,
        ) in session.connection().execute(query):
            if raw_subject != current:
                current, target = raw_subject, events[ids[raw_subject]]
            if cipher_key != (raw_subject, version):
                cipher_key = (raw_subject, version)
                cipher = cipher_of(raw_subject, version, master_version, wrapped)
            assert cipher is not None
            # our own payload (it authenticated): one JSON object, read by the C scanner without json.loads'
            # encoding detection and trailing-whitespace checks (about 3x faster per event)
            try:
                payload = scan(cipher.decrypt_event(event_id, blob).decode("utf-8"), 0)[0]
            except DecryptionError:
                raise VaultIntegrityError("A stored value failed its integrity check.") from None
            client_id = payload.get("e", event_id)  # rows stored before ids were hashed hold it in the column
            target.append(
                EventView(client_id, category, _raw_time(occurred_at), payload["i"], payload["v"], payload["c"])
            )
    seen: set[uuid.UUID] = set()
    for subject_id in subject_ids:
        if subject_id in active and subject_id not in seen:
            seen.add(subject_id)
            yield SubjectRows(subject_id, profiles[subject_id], events[subject_id])


# ---------------------------------------------------------------------------------------------------- erasure


def shred_subject(
    session: Session,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    reason: str,
    keep_categories: set[str] | frozenset[str] = frozenset(),
) -> ShredReport:
    """Crypto-shred a subject: delete its wrapped data keys, profile ciphertexts and events, clear its blind
    indexes, and leave a tombstone (id, time, reason). Idempotent: shredding an erased subject again returns
    the earlier outcome with `already_erased=True`.

    `keep_categories` (for example purchases under a legal retention duty) keeps those events, re-encrypted
    under a new data key; everything else, and every older key, is destroyed. Without it nothing decrypts.
    """
    subject = session.scalar(
        select(Subject).where(Subject.id == subject_id).with_for_update().execution_options(populate_existing=True)
        if session.get_bind().dialect.name == "postgresql"
        else select(Subject).where(Subject.id == subject_id)
    )
    if subject is None:
        raise SubjectNotFoundError()
    if subject.status == "erased":
        tomb = session.get(Tombstone, subject.id)
        destroyed = tomb.destroyed if tomb else {}
        return ShredReport(
            subject.id,
            subject.erased_at or utcnow(),
            destroyed.get("fields", 0),
            destroyed.get("events", 0),
            destroyed.get("keys", 0),
            destroyed.get("events_kept", 0),
            already_erased=True,
        )
    runtime = get_runtime()
    kept = 0
    keys_before = session.scalar(select(func.count()).select_from(DataKey).where(DataKey.subject_id == subject.id))
    if keep_categories:
        kept = _reencrypt_kept_events(session, subject, set(keep_categories))
    fields_destroyed = rowcount(
        session.execute(delete(ProfileFieldValue).where(ProfileFieldValue.subject_id == subject.id))
    )
    event_filter = Event.subject_id == subject.id
    if kept:
        event_filter = event_filter & Event.category.not_in(sorted(keep_categories))
    events_destroyed = rowcount(session.execute(delete(Event).where(event_filter)))
    key_filter = DataKey.subject_id == subject.id
    if kept:
        key_filter = key_filter & (DataKey.version != subject.key_version)
    keys_destroyed = rowcount(session.execute(delete(DataKey).where(key_filter)))
    now = utcnow()
    subject.status = "erased"
    subject.erased_at = now
    subject.updated_at = now
    subject.external_ref_index = None
    subject.email_index = None
    subject.external_ref_ciphertext = None
    destroyed = {
        "fields": fields_destroyed,
        "events": events_destroyed,
        "keys": keys_destroyed if not kept else (keys_before or 0),
        "events_kept": kept,
    }
    ref = actor.ref if isinstance(actor, Principal) else actor
    session.add(
        Tombstone(
            subject_id=subject.id,
            erased_at=now,
            reason=reason.strip()[:200] or "unspecified",
            actor_kind=ref.kind,
            actor_id=str(ref.id)[:128],
            destroyed=destroyed,
            kept_categories=sorted(keep_categories) if kept else [],
        )
    )
    session.flush()
    record(
        session,
        actor=actor,
        action="vault.subject.shred",
        target=("subject", subject.id),
        details={**destroyed, "kept_categories": sorted(keep_categories) if kept else []},
    )
    runtime.envelope.forget(subject.id)
    return ShredReport(subject.id, now, fields_destroyed, events_destroyed, destroyed["keys"], kept)


def _reencrypt_kept_events(session: Session, subject: Subject, keep: set[str]) -> int:
    """Move the kept events under a brand-new data key so that every older key can be destroyed."""
    rows = session.execute(
        select(Event.id, Event.event_id, Event.key_version, Event.ciphertext).where(
            Event.subject_id == subject.id, Event.category.in_(sorted(keep))
        )
    ).all()
    if not rows:
        return 0
    runtime = get_runtime()
    new_version = subject.key_version + 1
    master = active_master_version(session)
    wrapped, new_cipher = runtime.envelope.create(subject.id, new_version, master)
    session.add(DataKey(subject_id=subject.id, version=new_version, master_version=master, wrapped=wrapped.wrapped))
    ciphers: dict[int, SubjectCipher] = {}
    updates = []
    for row in rows:
        cipher = ciphers.get(row.key_version) or _cipher_for(session, subject, row.key_version)
        ciphers[row.key_version] = cipher
        name = "event:" + row.event_id
        plain = _decrypt(cipher, name, row.ciphertext)
        updates.append({"id": row.id, "key_version": new_version, "ciphertext": new_cipher.encrypt(name, plain)})
    session.execute(sa.update(Event), updates)
    subject.key_version = new_version
    session.flush()
    return len(rows)


def erased_ids(session: Session, subject_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these subjects are erased."""
    ids = list(subject_ids)
    found: set[uuid.UUID] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.update(session.scalars(select(Subject.id).where(Subject.id.in_(chunk), Subject.status == "erased")))
    return found


_AGGREGATE_CHUNK = 2000  # ids per IN (...) list of an aggregate (one statement each)


def bounded_event_count(
    session: Session,
    subject_ids: Iterable[uuid.UUID] | sa.Select[Any],
    *,
    category: str,
    max_rows_per_subject: int,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> int:
    """Sum over the given active subjects of min(their events of ``category`` in [since, until), N): the exact
    count of a DP count whose contributions are bounded to N rows per person. Category and time are stored in
    clear, so nothing is decrypted: one grouped aggregate per chunk of ids (index-only on
    (subject_id, category, occurred_at)), the per-person bound applied in SQL. Erased subjects count nothing.
    ``subject_ids`` may be a SELECT of one id column (`consent.permitted_subjects_select`): then it is one
    statement, the ids never leave the database."""
    per_subject = (
        select(func.count().label("n"))
        .select_from(Event)
        # erased subjects are few: excluding their (kept) events is one small list, not a lookup per subject
        .where(
            Event.category == category, Event.subject_id.not_in(select(Subject.id).where(Subject.status != "active"))
        )
        .group_by(Event.subject_id)
    )
    if since is not None:
        per_subject = per_subject.where(Event.occurred_at >= since)
    if until is not None:
        per_subject = per_subject.where(Event.occurred_at < until)

    def bounded_sum(ids: Any) -> int:
        grouped = per_subject.where(Event.subject_id.in_(ids)).subquery()
        bounded = sa.case((grouped.c.n > max_rows_per_subject, max_rows_per_subject), else_=grouped.c.n)
        return int(session.scalar(select(func.coalesce(func.sum(bounded), 0))) or 0)

    if isinstance(subject_ids, sa.Select):
        return bounded_sum(subject_ids.scalar_subquery())
    ids = list(subject_ids)
    return sum(bounded_sum(ids[first : first + _AGGREGATE_CHUNK]) for first in range(0, len(ids), _AGGREGATE_CHUNK))


def all_active_subject_ids(session: Session) -> Iterator[uuid.UUID]:
    """Every active subject id, streaming."""
    query = select(Subject.id).where(Subject.status == "active").order_by(Subject.id)
    result = session.scalars(query.execution_options(yield_per=2000))
    try:
        yield from result
    finally:
        result.close()
