"""Building a dataset (`build_dataset`), in named steps: plan the columns and the anonymity requirement, find
the earlier releases it joins, spill the permitted subjects, read their rows chunk by chunk (re-checking
consent), run the release pipeline (`governance.gateway.anonymize`) and write the manifest."""

from __future__ import annotations

import datetime as dt
import operator
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy.orm import Session

from governance.consent import service as consent
from governance.db import READ_ONLY_OPTION, utcnow
from governance.gateway.anonymize import (
    IdentifyingFieldError,
    Partitions,
    PersonLevel,
    ReleaseFigures,
    SubjectRecord,
    write_release,
)
from governance.gateway.errors import IdentifyingFieldsRefusedError
from governance.gateway.generalize import Generalizer
from governance.gateway.kanon import AnonymityRequirement
from governance.gateway.modes import ReleaseMode, mode_info
from governance.gateway.policy import LDiversity, gateway_policy
from governance.gateway.pseudonyms import Pseudonymizer, stable_key
from governance.gateway.service.linkage import CONTENT, joinable_releases, prior_footprints
from governance.gateway.service.partitions import (
    MIN_PARTITION_SUBJECTS,
    can_fork,
    forget_connections,
    partition_bounds,
    read_ids,
    release_processes,
    spill_permitted,
)
from governance.gateway.service.specs import DatasetBuild, DatasetSpec, mode_builder
from governance.gateway.writers import Column, ColumnType
from governance.vault import service as vault

_CHUNK = 2000  # subjects per consent re-check and vault read

# --- event values ------------------------------------------------------------------------------------------


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


def _pseudonymizer(purpose: str, client_id: str, mode: str) -> Pseudonymizer:
    if mode == "stable":
        keys = current_app.extensions["governance.keys"]
        key = stable_key(keys.secret("gateway_pseudonyms"), client_id=client_id, purpose=purpose)
        return Pseudonymizer(key, "stable")
    return Pseudonymizer.for_release()


# --- the steps ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reads:
    """How a build reads: through the caller's session, or (with a factory) one short read-only session per
    read, so that a long build holds no read transaction while the pipeline runs. On SQLite those reads begin
    deferred (a WAL snapshot): they take no write lock, so the API's writers never queue behind a release, and
    a release's partitions read at the same time (with `BEGIN IMMEDIATE` they took turns)."""

    session: Session
    factory: Callable[[], Session] | None

    @contextmanager
    def open(self) -> Iterator[Session]:
        if self.factory is None:
            yield self.session
            return
        reader = self.factory()
        try:
            reader.connection(execution_options={READ_ONLY_OPTION: True})  # procured now, so its BEGIN is deferred
            yield reader
        finally:
            reader.close()


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a row-level build releases: its columns, the anonymity requirement, the generalizer, the file."""

    spec: DatasetSpec
    purpose: str
    client_id: str
    moment: dt.datetime
    event_names: list[str]
    profile_columns: list[Column]
    event_columns: list[Column]
    values: Callable[[Any], tuple[Any, ...]]
    requirement: AnonymityRequirement
    diversity: LDiversity | None
    generalizer: Generalizer
    path: Path


def _plan(spec: DatasetSpec, *, purpose: str, client_id: str, moment: dt.datetime, output_dir: Path | None) -> _Plan:
    """k from the purpose's gateway block (else the policy's default), l-diversity when its sensitive attribute
    is released, and a fresh file name in `output_dir` (else a new temporary folder)."""
    policy = gateway_policy()
    block = consent.purposes()[purpose].gateway
    k = block.k_anonymity if block is not None else policy.default_k
    profile_columns = [Column(n, "string") for n in spec.profile_fields]
    event_names = list(spec.event_fields) if spec.event_categories else []
    event_columns = [Column(n, _column_type(n)) for n in event_names]
    additions = policy.purposes.get(purpose)
    diversity = additions.l_diversity if additions else None
    released = {c.name for c in profile_columns + event_columns}
    requirement = (
        AnonymityRequirement(k=k, l=diversity.l, sensitive=diversity.attribute)
        if diversity and diversity.attribute in released
        else AnonymityRequirement(k=k)
    )
    out_dir = output_dir or Path(tempfile.mkdtemp(prefix="gateway-build-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    return _Plan(
        spec=spec,
        purpose=purpose,
        client_id=client_id,
        moment=moment,
        event_names=event_names,
        profile_columns=profile_columns,
        event_columns=event_columns,
        values=_event_values(event_names),
        requirement=requirement,
        diversity=diversity,
        generalizer=Generalizer(policy.generalization_rules(), as_of=moment.date()),
        path=out_dir / f"dataset-{uuid.uuid4().hex}.{spec.format}",
    )


def _person_level(
    reads: _Reads, plan: _Plan, release_id: uuid.UUID | None
) -> tuple[PersonLevel | None, list[dict[str, str]]]:
    """For pseudonymized rows: k per person, measured with the earlier releases this one joins (and how)."""
    if plan.spec.mode != ReleaseMode.PSEUDONYMIZED_ROWS:
        return None, []
    with reads.open() as reader:
        joined = joinable_releases(reader, client_id=plan.client_id, spec=plan.spec, exclude=release_id)
        prior = prior_footprints(reader, [r for r, _ in joined])
    check = gateway_policy().identifying_power
    declared = set(gateway_policy().quasi_identifiers)
    names = [*plan.spec.profile_fields, *plan.event_names]
    person_level = PersonLevel(
        candidates=[n for n in names if n not in declared and n not in CONTENT],
        content=[n for n in plan.event_names if n in CONTENT],
        max_conditional_entropy_bits=check.max_conditional_entropy_bits,
        max_newly_singled_out_fraction=check.max_newly_singled_out_fraction,
        refuse_identifying=check.action == "refuse",
        prior=prior,
    )
    return person_level, [{"release_id": str(r.id), "joinable_by": why} for r, why in joined]


def _records(
    reads: _Reads, plan: _Plan, spill: IO[bytes], first: int = 0, last: int | None = None
) -> Iterator[SubjectRecord]:
    """The records of spilled subjects ``first`` to ``last``: consent re-checked per chunk just before their data
    is read (a withdrawal or objection meanwhile takes effect), erased ones skipped."""
    spec = plan.spec
    for chunk in read_ids(spill, _CHUNK, first, last):
        with reads.open() as reader:  # the read transaction ends before the pipeline (and progress) runs
            permitted = consent.check_many(reader, chunk, plan.purpose)
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
        for row in rows:
            yield SubjectRecord(row.subject_id, row.profile, [plan.values(e) for e in row.events])


def _source(
    reads: _Reads, plan: _Plan, spill: IO[bytes], count: int, *, processes: int | None, partition_subjects: int
) -> Iterable[SubjectRecord] | Partitions:
    """One stream of records, or (with a session factory, where forking is safe) partitions by subject range."""
    workers = (processes or release_processes()) if reads.factory and can_fork() else 1
    bounds = partition_bounds(count, workers, partition_subjects)
    if len(bounds) < 2:
        return _records(reads, plan, spill)
    return Partitions(
        sources=[partial(_records, reads, plan, spill, first, last) for first, last in bounds],
        processes=workers,
        after_fork=forget_connections,
    )


@dataclass(slots=True)
class _Written:
    figures: ReleaseFigures
    lineage: list[uuid.UUID]
    footprints: dict[uuid.UUID, bytes]


def _write(
    reads: _Reads,
    plan: _Plan,
    person_level: PersonLevel | None,
    *,
    processes: int | None,
    partition_subjects: int,
    progress: Callable[[int, str], None] | None,
) -> _Written:
    """Spill the subjects permitted at the plan's moment, then run the release pipeline over their records."""
    lineage: list[uuid.UUID] = []
    footprints: dict[uuid.UUID, bytes] = {}
    with tempfile.TemporaryFile(prefix="gateway-ids-") as spill:
        with reads.open() as snapshot:
            count = spill_permitted(snapshot, plan.purpose, plan.moment, spill)
        spill.flush()
        source = _source(reads, plan, spill, count, processes=processes, partition_subjects=partition_subjects)
        try:
            figures = write_release(
                source,
                profile_columns=plan.profile_columns,
                event_columns=plan.event_columns,
                generalizer=plan.generalizer,
                requirement=plan.requirement,
                pseudonymize=_pseudonymizer(plan.purpose, plan.client_id, plan.spec.pseudonyms),
                path=plan.path,
                fmt=plan.spec.format,
                forbidden_columns=vault.categories().direct_identifiers,
                on_released_subjects=lineage.extend,
                on_footprints=footprints.update,
                progress=progress,
                person_level=person_level,
            )
        except IdentifyingFieldError as exc:
            plan.path.unlink(missing_ok=True)
            raise IdentifyingFieldsRefusedError(exc.fields) from None
    return _Written(figures, lineage, footprints)


def _manifest(
    plan: _Plan, figures: ReleaseFigures, person_level: PersonLevel | None, joint: list[dict[str, str]]
) -> dict[str, Any]:
    spec = plan.spec
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
    if plan.diversity and plan.requirement.l is None:
        manifest["l_diversity"] = {"attribute": plan.diversity.attribute, "applied": False, "reason": "not released"}
    return manifest


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
    spec = DatasetSpec.of(spec)
    builder = mode_builder(spec.mode)
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
    plan = _plan(spec, purpose=purpose, client_id=client_id, moment=as_of or utcnow(), output_dir=output_dir)
    reads = _Reads(session, session_factory)
    person_level, joint = _person_level(reads, plan, release_id)
    written = _write(
        reads, plan, person_level, processes=processes, partition_subjects=partition_subjects, progress=progress
    )
    return DatasetBuild(
        path=plan.path,
        format=spec.format,
        columns=written.figures.columns,
        manifest=_manifest(plan, written.figures, person_level, joint),
        subject_ids=written.lineage,
        consent_snapshot_at=plan.moment,
        pseudonym_mode=spec.pseudonyms,
        footprints=written.footprints,
    )
