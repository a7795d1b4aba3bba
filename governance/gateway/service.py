"""The gateway's service: policy checks, dataset builds and releases, lineage, download links, and (re-exported
from `ledger`) the privacy budget. See docs/contracts.md for what other domains may call; nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
import os
import secrets
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef, Principal
from governance.core.runtime import runtime
from governance.db import utcnow
from governance.gateway.errors import (
    IdentifyingFieldsRefusedError,
    JoinableReleaseInProgressError,
    LinkExpiredError,
    ReleaseNotFoundError,
    ReleaseNotReadyError,
    SpecNotAllowedError,
)
from governance.gateway.history import LedgerEntry, budget_ledger, recent_releases  # re-exported: the contract
from governance.gateway.ledger import (  # re-exported: the contract names them on this module
    BudgetPreview,
    BudgetView,
    budget_status,
    commit_budget,
    preview_budget,
    refund_budget,
    reserve_budget,
)
from governance.gateway.models import DownloadLink, Release, ReleaseSubject
from governance.gateway.modes import REQUESTABLE_MODES, ModeInfo, ReleaseMode, mode_info, mode_of
from governance.gateway.policy import GATEWAY_POLICY, GatewayPolicyFile
from governance.gateway.preview import Preview, preview_spend

if TYPE_CHECKING:
    from governance.gateway.writers import ColumnType

__all__ = [
    "BudgetPreview",
    "BudgetView",
    "DatasetBuild",
    "DatasetSpec",
    "LedgerEntry",
    "Preview",
    "ReleaseSummary",
    "budget_ledger",
    "budget_status",
    "build_dataset",
    "check_spec",
    "commit_budget",
    "create_download_link",
    "get_release",
    "joinable_releases",
    "preview_budget",
    "preview_spend",
    "recent_releases",
    "refund_budget",
    "release_mode_info",
    "releases_including",
    "request_release",
    "reserve_budget",
    "resolve_download",
    "subjects_in_release",
]

EVENT_BASE_FIELDS = ("category", "occurred_at", "item", "value")
FORMATS = ("jsonl", "csv", "parquet")
PSEUDONYM_MODES = ("per_release", "stable")
_CHUNK = 2000
# a release is split into partitions (subject ranges) only from this many subjects each: below it the fork and
# the extra spill files cost more than a second core saves
MIN_PARTITION_SUBJECTS = 5_000


def gateway_policy() -> GatewayPolicyFile:
    """The app's `policies/gateway.yaml` (from its configured policies folder); raises outside an app."""
    return runtime().get(GATEWAY_POLICY)


# --- specs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """What a client asks for. Event fields: category, occurred_at, item, value and released context keys."""

    purpose: str
    profile_fields: tuple[str, ...] = ()
    event_categories: tuple[str, ...] = ()
    event_fields: tuple[str, ...] = ("category", "occurred_at")
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    format: str = "jsonl"
    pseudonyms: str = "per_release"
    mode: str = ReleaseMode.PSEUDONYMIZED_ROWS.value

    @classmethod
    def of(cls, value: DatasetSpec | Mapping[str, Any]) -> DatasetSpec:
        if isinstance(value, DatasetSpec):
            return value
        data = dict(value)
        for key in ("profile_fields", "event_categories", "event_fields"):
            if key in data and data[key] is not None:
                data[key] = tuple(dict.fromkeys(data[key]))
        return cls(**{k: v for k, v in data.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "profile_fields": list(self.profile_fields),
            "event_categories": list(self.event_categories),
            "event_fields": list(self.event_fields) if self.event_categories else [],
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "format": self.format,
            "pseudonyms": self.pseudonyms,
            "mode": self.mode,
        }


class _ClientLike(Protocol):
    # read-only members, so a frozen `Principal` matches
    @property
    def id(self) -> str: ...
    @property
    def purposes(self) -> frozenset[str]: ...


def _not_allowed(item: str, name: str, reason: str) -> dict[str, str]:
    return {"item": item, "name": name, "reason": reason}


def check_spec(purpose: str, client: _ClientLike, spec: DatasetSpec | Mapping[str, Any]) -> None:
    """Policy check and minimization. Raises `SpecNotAllowedError` listing everything not allowed."""
    from governance.consent import service as consent
    from governance.vault import service as vault

    spec = DatasetSpec.of(spec)
    catalog = vault.categories()
    policy = gateway_policy()
    problems: list[dict[str, str]] = []
    found = consent.purposes().get(purpose)
    # A name the catalog does not know is the client's text: it is named by position, never echoed.
    if spec.purpose != purpose:
        problems.append(_not_allowed("purpose", "purpose", "spec_for_another_purpose"))
    if found is None:
        raise SpecNotAllowedError([_not_allowed("purpose", "purpose", "unknown_purpose")])
    if purpose not in client.purposes:
        problems.append(_not_allowed("purpose", purpose, "client_not_registered_for_purpose"))
    if found.gateway is None:
        problems.append(_not_allowed("purpose", purpose, "purpose_allows_no_releases"))
    for index, name in enumerate(spec.profile_fields):
        if name in catalog.direct_identifiers:
            problems.append(_not_allowed("profile_field", name, "direct_identifier"))
        elif name not in catalog.field_names:
            problems.append(_not_allowed("profile_field", f"profile_fields[{index}]", "unknown_field"))
        elif name not in found.profile_fields:
            problems.append(_not_allowed("profile_field", name, "not_allowed_for_purpose"))
        elif name in catalog.quasi_identifiers and name not in policy.quasi_identifiers:
            problems.append(_not_allowed("profile_field", name, "quasi_identifier_without_generalization"))
    context_keys: set[str] = set()
    for index, name in enumerate(spec.event_categories):
        if name not in catalog.event_category_names:
            problems.append(_not_allowed("event_category", f"event_categories[{index}]", "unknown_category"))
        elif name not in found.event_categories:
            problems.append(_not_allowed("event_category", name, "not_allowed_for_purpose"))
        else:
            context_keys |= catalog.event_categories[name].context_keys
    releasable_context = context_keys & set(policy.released_event_context)
    for index, name in enumerate(spec.event_fields if spec.event_categories else ()):
        if name in EVENT_BASE_FIELDS:
            continue
        if name in catalog.direct_identifiers:
            problems.append(_not_allowed("event_field", name, "direct_identifier"))
        elif name not in releasable_context:
            known = any(name in rule.context_keys for rule in catalog.event_categories.values())
            shown = name if known or name in catalog.field_names else f"event_fields[{index}]"
            problems.append(_not_allowed("event_field", shown, "not_releasable"))
    if spec.format not in FORMATS:
        problems.append(_not_allowed("format", "format", "unknown_format"))
    if spec.pseudonyms not in PSEUDONYM_MODES:
        problems.append(_not_allowed("pseudonyms", "pseudonyms", "unknown_mode"))
    elif spec.pseudonyms == "stable":
        grant = policy.client_grant(client.id, purpose)
        if found.gateway is None or not found.gateway.stable_pseudonyms or not (grant and grant.stable_pseudonyms):
            problems.append(_not_allowed("pseudonyms", "stable", "stable_pseudonyms_not_granted"))
    problems.extend(_mode_problems(spec, client, purpose, policy))
    if not spec.profile_fields and not spec.event_categories:
        problems.append(_not_allowed("spec", "empty", "nothing_requested"))
    if spec.since and spec.until and spec.since >= spec.until:
        problems.append(_not_allowed("window", "since/until", "empty_time_window"))
    if problems:
        raise SpecNotAllowedError(problems)


def _mode_problems(
    spec: DatasetSpec, client: _ClientLike, purpose: str, policy: GatewayPolicyFile
) -> list[dict[str, str]]:
    """Row-level pseudonymized data goes only to purposes (and clients) whose policy permits personal data."""
    try:
        mode = ReleaseMode(spec.mode)
    except ValueError:
        return [_not_allowed("mode", spec.mode, "unknown_mode")]
    if mode is ReleaseMode.PSEUDONYMIZED_ROWS and not policy.permits_pseudonymized_data(client.id, purpose):
        return [_not_allowed("mode", mode.value, "pseudonymized_personal_data_not_permitted")]
    if mode is ReleaseMode.DP_SYNTHETIC and mode.value not in _MODE_BUILDERS:
        # its spec carries epsilon and delta: POST /api/v1/datasets/synthetic (governance.gateway.synthetic_release)
        return [_not_allowed("mode", mode.value, "use_synthetic_endpoint")]
    return []


# Builders of modes other than pseudonymized rows (and training input), by mode value; a mode module registers
# itself here (see `register_mode_builder`).
_MODE_BUILDERS: dict[str, Callable[..., DatasetBuild]] = {}


def register_mode_builder(mode: ReleaseMode, builder: Callable[..., DatasetBuild]) -> None:
    """Register how releases of `mode` are built (same keyword arguments as `build_dataset`)."""
    _MODE_BUILDERS[mode.value] = builder


# --- building a dataset --------------------------------------------------------------------------------------


@dataclass(slots=True)
class DatasetBuild:
    """A built dataset: the file, its manifest, and the lineage (ids of subjects with a row in it)."""

    path: Path
    format: str
    columns: list[str]
    manifest: dict[str, Any]
    subject_ids: list[uuid.UUID] = field(default_factory=list)
    consent_snapshot_at: dt.datetime | None = None
    pseudonym_mode: str = "per_release"
    footprints: dict[uuid.UUID, bytes] = field(default_factory=dict)  # released people's footprint digests

    @property
    def rows(self) -> int:
        return int(self.manifest["counts"]["rows_released"])


def _event_getter(name: str) -> Callable[[Any], Any]:
    if name == "category":
        return lambda e: e.category
    if name == "occurred_at":
        return lambda e: e.occurred_at
    if name == "item":
        return lambda e: e.item_id
    if name == "value":
        return lambda e: e.value
    return lambda e: (e.context or {}).get(name)


_EVENT_ATTRIBUTES = {"category": "category", "occurred_at": "occurred_at", "item": "item_id", "value": "value"}


def _event_values(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """An event's values in the order of `names`, as a tuple (one C call when no context key is asked)."""
    if names and all(n in _EVENT_ATTRIBUTES for n in names):
        getter = operator.attrgetter(*(_EVENT_ATTRIBUTES[n] for n in names))
        return getter if len(names) > 1 else lambda e: (getter(e),)
    getters = [_event_getter(n) for n in names]
    return lambda e: tuple([get(e) for get in getters])


def _column_type(name: str) -> ColumnType:
    return "number" if name == "value" else "string"


def _pseudonymizer(purpose: str, client_id: str, mode: str) -> Any:
    from governance.gateway.pseudonyms import Pseudonymizer, stable_key

    if mode == "stable":
        keys = current_app.extensions["governance.keys"]
        key = stable_key(keys.secret("gateway_pseudonyms"), client_id=client_id, purpose=purpose)
        return Pseudonymizer(key, "stable")
    return Pseudonymizer.for_release()


def _spill_permitted(session: Session, purpose: str, as_of: dt.datetime, spill: Any) -> int:
    from governance.consent import service as consent

    count = 0
    for subject_id in consent.iter_permitted_subjects(session, purpose, now=as_of):
        spill.write(subject_id.bytes)
        count += 1
    return count


def _read_ids(spill: Any, size: int, first: int = 0, last: int | None = None) -> Iterator[list[uuid.UUID]]:
    """Ids ``first`` to ``last`` (exclusive) of the spill, ``size`` at a time. `os.pread` leaves the file offset
    alone, so forked partitions can read their ranges of the one inherited file at the same time."""
    end = os.fstat(spill.fileno()).st_size // 16 if last is None else last
    for start in range(first, end, size):
        block = os.pread(spill.fileno(), 16 * (min(start + size, end) - start), 16 * start)
        yield [uuid.UUID(bytes=block[i : i + 16]) for i in range(0, len(block), 16)]


def release_processes() -> int:
    """Processes a release's pass one runs in (`GOVERNANCE_GATEWAY_RELEASE_PROCESSES`, default: every core)."""
    settings = current_app.extensions["governance.settings"]
    return max(1, settings.get_int("GATEWAY_RELEASE_PROCESSES", os.cpu_count() or 1))


# threads known to survive a fork: the vault's key-cache sweeper restarts itself in the child
_FORK_SAFE_THREADS = frozenset({"vault-key-cache-sweeper"})


def can_fork() -> bool:
    """Partitions are forked only from the main thread of a process with no other thread than fork-safe ones
    (`governance worker`): a fork copies only the calling thread, and a lock another thread held (logging, a
    connection pool) would stay locked in the child. The in-process worker thread of `governance serve` builds
    releases in one process."""
    if "jax" in sys.modules:  # a synthetic-data job ran in this process: JAX's threads make a fork unsafe
        return False
    main = threading.main_thread()
    return threading.current_thread() is main and all(
        t is main or t.name in _FORK_SAFE_THREADS for t in threading.enumerate()
    )


def _partition_bounds(count: int, processes: int, minimum: int) -> list[tuple[int, int]]:
    """Contiguous subject ranges: two per process (a slow partition does not hold the others up), none smaller
    than ``minimum`` subjects."""
    parts = max(1, min(2 * processes, count // max(minimum, 1)))
    if processes < 2 or parts < 2:
        return [(0, count)]
    size = -(-count // parts)
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def _forget_connections() -> None:
    """In a forked partition process: never touch the parent's pooled connections (they belong to its sockets
    and transactions); the child opens its own."""
    current_app.extensions["governance.db"].engine.dispose(close=False)


def build_dataset(
    session: Session,
    *,
    purpose: str,
    client_id: str,
    spec: DatasetSpec | Mapping[str, Any],
    as_of: dt.datetime | None = None,
    output_dir: Path | None = None,
    session_factory: Callable[[], Session] | None = None,
    progress: Callable[[int, str], None] | None = None,
    release_id: uuid.UUID | None = None,
    processes: int | None = None,
    partition_subjects: int = MIN_PARTITION_SUBJECTS,
) -> DatasetBuild:
    """Build the consent-filtered, minimized, pseudonymized, generalized, k-anonymous dataset for `spec`.

    Subjects: those `consent.iter_permitted_subjects` gives at `as_of`, re-checked per chunk just before their
    data is read (a withdrawal or objection meanwhile takes effect), erased ones skipped. Reads go through
    `session`, or, with `session_factory`, through one short session per chunk (long builds must not hold
    SQLite's write lock). The caller is expected to have run `check_spec`. Writes nothing to the database.

    Mode `pseudonymized_rows`: k per person, measured together with the client's earlier releases this one can
    be joined with (`release_id`: the release being built, excluded from them); raises
    `JoinableReleaseInProgressError` while one of those is still being built.

    With `session_factory`, a release of at least 2 x `partition_subjects` subjects is split by subject range
    into partitions whose pass one runs in `processes` forked processes (default `release_processes()`); the
    file, manifest figures and lineage are the same as in one process (`anonymize.Partitions`).
    """
    from governance.consent import service as consent
    from governance.gateway.anonymize import (
        IdentifyingFieldError,
        Partitions,
        PersonLevel,
        SubjectRecord,
        write_release,
    )
    from governance.gateway.generalize import Generalizer
    from governance.gateway.kanon import AnonymityRequirement
    from governance.gateway.writers import Column
    from governance.vault import service as vault

    spec = DatasetSpec.of(spec)
    builder = _MODE_BUILDERS.get(spec.mode)
    if builder is not None:
        return builder(
            session,
            purpose=purpose,
            client_id=client_id,
            spec=spec,
            as_of=as_of,
            output_dir=output_dir,
            session_factory=session_factory,
            progress=progress,
        )
    moment = as_of or utcnow()
    policy = gateway_policy()
    catalog = vault.categories()
    found = consent.purposes()[purpose]
    block = found.gateway
    k = block.k_anonymity if block is not None else policy.default_k
    profile_columns = [Column(n, "string") for n in spec.profile_fields]
    event_names = list(spec.event_fields) if spec.event_categories else []
    event_columns = [Column(n, _column_type(n)) for n in event_names]
    values = _event_values(event_names)
    additions = policy.purposes.get(purpose)
    diversity = additions.l_diversity if additions else None
    released = {c.name for c in profile_columns + event_columns}
    requirement = (
        AnonymityRequirement(k=k, l=diversity.l, sensitive=diversity.attribute)
        if diversity and diversity.attribute in released
        else AnonymityRequirement(k=k)
    )
    generalizer = Generalizer(policy.generalization_rules(), as_of=moment.date())
    out_dir = output_dir or Path(tempfile.mkdtemp(prefix="gateway-build-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"dataset-{uuid.uuid4().hex}.{spec.format}"
    lineage: list[uuid.UUID] = []
    footprints: dict[uuid.UUID, bytes] = {}
    person_level = None
    joint: list[dict[str, str]] = []
    if spec.mode == ReleaseMode.PSEUDONYMIZED_ROWS:
        reader = session_factory() if session_factory else session
        try:
            joined = joinable_releases(reader, client_id=client_id, spec=spec, exclude=release_id)
            prior = _prior_footprints(reader, [r for r, _ in joined])
        finally:
            if session_factory:
                reader.close()
        joint = [{"release_id": str(r.id), "joinable_by": why} for r, why in joined]
        check = policy.identifying_power
        declared = set(policy.quasi_identifiers)
        person_level = PersonLevel(
            candidates=[n for n in [*spec.profile_fields, *event_names] if n not in declared and n not in CONTENT],
            content=[n for n in event_names if n in CONTENT],
            max_conditional_entropy_bits=check.max_conditional_entropy_bits,
            max_newly_singled_out_fraction=check.max_newly_singled_out_fraction,
            refuse_identifying=check.action == "refuse",
            prior=prior,
        )

    def records(spill: Any, first: int = 0, last: int | None = None) -> Iterator[SubjectRecord]:
        for chunk in _read_ids(spill, _CHUNK, first, last):
            reader = session_factory() if session_factory else session
            try:
                permitted = consent.check_many(reader, chunk, purpose)
                erased = vault.erased_ids(reader, chunk)  # the vault skips them too; checked here on purpose
                keep = [s for s in chunk if permitted[s].allowed and s not in erased]
                rows = list(
                    vault.iter_release_rows(
                        reader,
                        keep,
                        fields=spec.profile_fields,
                        event_categories=spec.event_categories,
                        since=spec.since,
                        until=spec.until,
                    )
                )
            finally:
                if session_factory:
                    reader.close()  # end the read transaction before the pipeline (and progress) runs
            for row in rows:
                yield SubjectRecord(row.subject_id, row.profile, [values(e) for e in row.events])

    with tempfile.TemporaryFile(prefix="gateway-ids-") as spill:
        if session_factory:
            with session_factory() as snapshot:
                count = _spill_permitted(snapshot, purpose, moment, spill)
        else:
            count = _spill_permitted(session, purpose, moment, spill)
        spill.flush()
        workers = (processes or release_processes()) if session_factory and can_fork() else 1
        bounds = _partition_bounds(count, workers, partition_subjects)
        source: Any = records(spill)
        if len(bounds) > 1:
            source = Partitions(
                sources=[partial(records, spill, first, last) for first, last in bounds],
                processes=workers,
                after_fork=_forget_connections,
            )
        try:
            figures = write_release(
                source,
                profile_columns=profile_columns,
                event_columns=event_columns,
                generalizer=generalizer,
                requirement=requirement,
                pseudonymize=_pseudonymizer(purpose, client_id, spec.pseudonyms),
                path=path,
                fmt=spec.format,
                forbidden_columns=catalog.direct_identifiers,
                on_released_subjects=lineage.extend,
                on_footprints=footprints.update,
                progress=progress,
                person_level=person_level,
            )
        except IdentifyingFieldError as exc:
            path.unlink(missing_ok=True)
            raise IdentifyingFieldsRefusedError(exc.fields) from None
    manifest = {"release_mode": mode_info(spec.mode).as_manifest(), **figures.as_manifest()}
    manifest["pseudonyms"] = {
        "mode": spec.pseudonyms,
        "key": "fresh random key, discarded after the build"
        if spec.pseudonyms == "per_release"
        else "stable key for this client and purpose",
    }
    if person_level is not None:
        manifest["joint_measurement"] = {
            "rule": "measured together with every earlier release to this client that shares stable pseudonyms "
            "(same purpose) or can be joined on event content (a shared item or value field, overlapping event "
            "categories and time windows), and with the releases those join in turn",
            "releases": joint,
        }
    if diversity and requirement.l is None:
        manifest["l_diversity"] = {"attribute": diversity.attribute, "applied": False, "reason": "not released"}
    return DatasetBuild(
        path=path,
        format=spec.format,
        columns=figures.columns,
        manifest=manifest,
        subject_ids=lineage,
        consent_snapshot_at=moment,
        pseudonym_mode=spec.pseudonyms,
        footprints=footprints,
    )


CONTENT = ("item", "value")  # what a person did: measured and reported, never a quasi-identifier
_BUILDING = ("queued", "running")
_BUILT = ("ready", "expired")  # an expired release's file is gone from here, not from the client


def _overlap(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two specs' time windows overlap (open ends overlap everything)."""
    a_since, a_until, b_since, b_until = (a.get("since"), a.get("until"), b.get("since"), b.get("until"))
    parse = dt.datetime.fromisoformat
    if a_since and b_until and parse(a_since) >= parse(b_until):
        return False
    return not (b_since and a_until and parse(b_since) >= parse(a_until))


def joinable_by(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """How two row-level releases to one client can be joined person by person, or None.

    Stable pseudonyms are shared within one (client, purpose); event rows with a shared content field (item or
    value) over overlapping categories and windows link people whatever the pseudonyms."""
    rows = ReleaseMode.PSEUDONYMIZED_ROWS
    if mode_of(dict(a)) != rows or mode_of(dict(b)) != rows:
        return None
    if a.get("pseudonyms") == "stable" == b.get("pseudonyms") and a.get("purpose") == b.get("purpose"):
        return "stable_pseudonyms"
    shared_content = set(a.get("event_fields") or ()) & set(b.get("event_fields") or ()) & set(CONTENT)
    shared_categories = set(a.get("event_categories") or ()) & set(b.get("event_categories") or ())
    if shared_content and shared_categories and _overlap(a, b):
        return "event_content"
    return None


def joinable_releases(
    session: Session, *, client_id: str, spec: DatasetSpec, exclude: uuid.UUID | None = None
) -> list[tuple[Release, str]]:
    """The client's built releases that `spec` joins, directly or through each other (oldest first), with how.

    Raises `JoinableReleaseInProgressError` when one of them is still being built (requested before this one)."""
    query = sa.select(Release).where(Release.client_id == client_id).order_by(Release.created_at, Release.id)
    earlier = [r for r in session.scalars(query) if r.id != exclude and r.status in (*_BUILDING, *_BUILT)]
    if exclude is not None:
        own = session.get(Release, exclude)
        if own is not None:
            earlier = [r for r in earlier if (r.created_at, str(r.id)) < (own.created_at, str(own.id))]
    found: list[tuple[Release, str]] = []
    frontier: list[Mapping[str, Any]] = [spec.as_dict()]
    remaining = list(earlier)
    while frontier:
        current = frontier.pop()
        for release in list(remaining):
            why = joinable_by(current, release.spec)
            if why is None:
                continue
            if release.status in _BUILDING:
                raise JoinableReleaseInProgressError()
            remaining.remove(release)
            found.append((release, why))
            frontier.append(release.spec)
    return sorted(found, key=lambda pair: (pair[0].created_at, str(pair[0].id)))


def _prior_footprints(session: Session, releases: list[Release]) -> dict[uuid.UUID, bytes]:
    """Per subject, the joint key of their footprints in `releases` (a release built before footprints were kept
    makes each of its people unique: they cannot be measured, so they are treated as singled out)."""
    prior: dict[uuid.UUID, bytearray] = {}
    for index, release in enumerate(releases):
        rows = session.execute(
            sa.select(ReleaseSubject.subject_id, ReleaseSubject.footprint).where(
                ReleaseSubject.release_id == release.id
            )
        )
        tag = index.to_bytes(4, "big")
        for subject_id, footprint in rows:
            part = footprint if footprint is not None else b"unmeasured:" + subject_id.bytes
            prior.setdefault(subject_id, bytearray()).extend(tag + part)
    return {subject: bytes(key) for subject, key in prior.items()}


# --- releases ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReleaseSummary:
    release_id: uuid.UUID
    purpose: str
    client_id: str
    status: str
    created_at: dt.datetime
    completed_at: dt.datetime | None
    format: str


def _summary(release: Release) -> ReleaseSummary:
    return ReleaseSummary(
        release.id,
        release.purpose,
        release.client_id,
        release.status,
        release.created_at,
        release.completed_at,
        release.format,
    )


def releases_dir() -> Path:
    settings = current_app.extensions["governance.settings"]
    path = Path(settings.get("GATEWAY_RELEASE_DIR") or settings.instance_path / "releases")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _policy_version() -> str:
    if has_app_context():
        return str(current_app.extensions.get("governance.policy_version", "unknown"))
    return "unknown"


def request_release(session: Session, *, client: Principal, spec: DatasetSpec | Mapping[str, Any]) -> Release:
    """Check the spec, record the release as queued and enqueue the job that builds it (audited).

    Raises `SpecNotAllowedError` (nothing added); the route audits the refusal in its own transaction.
    """
    from governance.jobs import enqueue

    spec = DatasetSpec.of(spec)
    if spec.mode not in REQUESTABLE_MODES:
        raise SpecNotAllowedError([_not_allowed("mode", spec.mode, "not_requestable")])
    check_spec(spec.purpose, client, spec)
    if spec.mode == ReleaseMode.PSEUDONYMIZED_ROWS:
        joinable_releases(session, client_id=client.id, spec=spec)  # raises while a joinable one is building
    from governance.consent import service as consent

    block = consent.purposes()[spec.purpose].gateway
    release = Release(
        id=uuid.uuid4(),
        client_id=client.id,
        purpose=spec.purpose,
        spec=spec.as_dict(),
        status="queued",
        format=spec.format,
        pseudonym_mode=spec.pseudonyms,
        policy_version=_policy_version(),
        k_required=block.k_anonymity if block else gateway_policy().default_k,
    )
    session.add(release)
    session.flush()
    release.job_id = enqueue(
        session, "gateway.release", {"release_id": str(release.id)}, created_by=f"client:{client.id}"
    )
    audit.record(
        session,
        actor=client,
        action="gateway.release.requested",
        target=("release", release.id),
        details={"purpose": spec.purpose, "format": spec.format, "pseudonyms": spec.pseudonyms, "mode": spec.mode},
    )
    return release


def release_mode_info(release: Release) -> ModeInfo:
    """What kind of data a release is (its mode's label, classification and guarantee)."""
    return mode_info(mode_of(release.spec))


def get_release(session: Session, release_id: uuid.UUID, *, client_id: str | None = None) -> Release:
    """The release; with `client_id`, only that client's (others look absent)."""
    release = session.get(Release, release_id)
    if release is None or (client_id is not None and release.client_id != client_id):
        raise ReleaseNotFoundError()
    return release


def complete_release(session: Session, release: Release, build: DatasetBuild, file_name: str) -> None:
    """Store the manifest and lineage of a built release and mark it ready (audited). Idempotent."""
    session.execute(sa.delete(ReleaseSubject).where(ReleaseSubject.release_id == release.id))
    ids = build.subject_ids
    footprints = build.footprints
    for start in range(0, len(ids), 5000):
        session.execute(
            sa.insert(ReleaseSubject),
            [
                {"release_id": release.id, "subject_id": s, "footprint": footprints.get(s)}
                for s in ids[start : start + 5000]
            ],
        )
    counts = build.manifest["counts"]
    release.status = "ready"
    release.manifest = {
        **build.manifest,
        "release_id": str(release.id),
        "purpose": release.purpose,
        "policy_version": release.policy_version,
        "consent_snapshot_at": build.consent_snapshot_at.isoformat() if build.consent_snapshot_at else None,
        "spec": release.spec,
    }
    release.consent_snapshot_at = build.consent_snapshot_at
    release.rows_released = counts["rows_released"]
    release.rows_suppressed = counts["rows_suppressed"]
    release.subjects_released = counts["subjects_released"]
    release.k_achieved = build.manifest["k_anonymity"]["k_achieved"]
    release.checksum_sha256 = build.manifest["checksum_sha256"]
    release.bytes = build.manifest["bytes"]
    release.file_name = file_name
    release.completed_at = utcnow()
    release.error_code = None
    audit.record(
        session,
        actor=ActorRef("system", "gateway"),
        action="gateway.release.completed",
        target=("release", release.id),
        details={
            "purpose": release.purpose,
            "client_id": release.client_id,
            "rows": release.rows_released,
            "suppressed": release.rows_suppressed,
            "subjects": release.subjects_released,
            "k_achieved": release.k_achieved,
            "checksum_sha256": release.checksum_sha256,
        },
    )


def fail_release(session: Session, release: Release, error_code: str) -> None:
    release.status = "failed"
    release.error_code = error_code[:64]
    release.completed_at = utcnow()
    audit.record(
        session,
        actor=ActorRef("system", "gateway"),
        action="gateway.release.failed",
        target=("release", release.id),
        details={"error_code": release.error_code},
    )


def releases_including(session: Session, subject_id: uuid.UUID) -> list[ReleaseSummary]:
    """The releases with at least one row of this subject (lineage for export, erasure, the dashboard)."""
    query = (
        sa.select(Release)
        .join(ReleaseSubject, ReleaseSubject.release_id == Release.id)
        .where(ReleaseSubject.subject_id == subject_id)
        .order_by(Release.created_at)
    )
    return [_summary(r) for r in session.scalars(query)]


def subjects_in_release(session: Session, release_id: uuid.UUID) -> set[uuid.UUID]:
    return set(session.scalars(sa.select(ReleaseSubject.subject_id).where(ReleaseSubject.release_id == release_id)))


# --- download links ------------------------------------------------------------------------------------------


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def create_download_link(session: Session, release: Release, *, actor: Principal) -> tuple[str, dt.datetime]:
    """A new expiring download token for a ready release (only its hash is stored); audited."""
    if release.status != "ready":
        raise ReleaseNotReadyError()
    token = secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(minutes=gateway_policy().release_download_ttl_minutes)
    session.add(DownloadLink(token_hash=_token_hash(token), release_id=release.id, expires_at=expires))
    audit.record(
        session,
        actor=actor,
        action="gateway.release.link_created",
        target=("release", release.id),
        details={"expires_in_minutes": gateway_policy().release_download_ttl_minutes},
    )
    return token, expires


def resolve_download(session: Session, release_id: uuid.UUID, token: str) -> tuple[Release, Path]:
    """The release and file a download token opens; raises `LinkExpiredError` for any bad or old token."""
    link = session.get(DownloadLink, _token_hash(token))
    if link is None or link.release_id != release_id or link.expires_at <= utcnow():
        raise LinkExpiredError()
    release = session.get(Release, release_id)
    if release is None or release.status != "ready" or not release.file_name:
        raise LinkExpiredError()
    path = releases_dir() / release.file_name
    if not path.is_file():
        raise LinkExpiredError()
    link.downloads += 1
    audit.record(
        session,
        actor=ActorRef("client", release.client_id),
        action="gateway.release.downloaded",
        target=("release", release.id),
        details={"bytes": release.bytes},
    )
    return release, path


def expire_release_files(session: Session, *, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Delete release files older than the retention (manifest and lineage stay) and expired download links;
    returns the releases expired. Audited per release."""
    moment = now or utcnow()
    cutoff = moment - dt.timedelta(days=gateway_policy().release_file_retention_days)
    due = session.scalars(
        sa.select(Release).where(Release.status == "ready", Release.completed_at < cutoff).limit(limit)
    ).all()
    for release in due:
        if release.file_name:
            (releases_dir() / release.file_name).unlink(missing_ok=True)
        release.status = "expired"
        release.file_name = None
        release.file_expires_at = moment
        audit.record(
            session,
            actor=ActorRef("system", "gateway"),
            action="gateway.release.expired",
            target=("release", release.id),
            details={"retention_days": gateway_policy().release_file_retention_days},
        )
    session.execute(sa.delete(DownloadLink).where(DownloadLink.expires_at < moment))
    return len(due)


def move_into_store(build: DatasetBuild, release_id: uuid.UUID) -> str:
    """Move a built file into the release store under a name derived from the release id."""
    name = f"{release_id}.{build.format}"
    target = releases_dir() / name
    os.replace(build.path, target)
    os.chmod(target, 0o600)
    return name
