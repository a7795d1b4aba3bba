"""DP synthetic releases (mode `dp_synthetic`): check, preview, reserve, build as a durable job, commit.

A synthetic release is a `Release` like the others (status, manifest, lineage, download links, expiry), with
`spec.mode = "dp_synthetic"`. Its privacy loss is reserved on the purpose's budget (and the client's share) when it
is requested, in the same transaction that records it: a request beyond the budget is refused with nothing stored.
The job builds a person-level table from the permitted, non-erased people (one row per person), runs the generator
(governance.gateway.synthetic) and commits what the generator's own accounting says was spent, with the manifest,
lineage and audit entry in one transaction. The reservation is refunded only when the job fails before any
personal data was read; once the data was read it counts as spent (a failure must not answer anything for free).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef, Principal
from governance.consent import service as consent
from governance.db import utcnow
from governance.gateway.budget import delta_from_units, epsilon_from_micro
from governance.gateway.errors import SpecNotAllowedError
from governance.gateway.generalize import Generalizer
from governance.gateway.ledger import commit_budget, refund_budget, reserve_budget
from governance.gateway.models import BudgetReservation, Release, ReleaseSubject
from governance.gateway.modes import ReleaseMode, mode_info
from governance.gateway.policy import gateway_policy
from governance.gateway.preview import preview_spend
from governance.gateway.service import FORMATS, fail_release, policy_version
from governance.gateway.synthetic import PersonColumn, count_bucket, count_keys, match_key, synthesize, utility_report
from governance.gateway.writers import Column, open_writer, sha256_file
from governance.jobs import enqueue
from governance.vault import service as vault

__all__ = [
    "MODE",
    "SyntheticSpec",
    "build_synthetic",
    "check_synthetic_spec",
    "collect_person_table",
    "preview_synthetic",
    "request_synthetic_release",
]

MODE = ReleaseMode.DP_SYNTHETIC.value
RESERVATION_REASON = "dp_synthetic"
_CHUNK = 2000
_SYSTEM = ActorRef("system", "gateway")

UNIT_OF_PRIVACY = "person"
NEIGHBOURING = (
    "two person-level tables are neighbours when one has one more person's row (all of that person's released "
    "profile fields and bucketed event counts) than the other"
)
COVERS = [
    "the synthetic rows and their number, against anyone, whatever they know about the other people",
    "each person's profile fields in the release and how many events of each released category they had",
]
DOES_NOT_COVER = list(mode_info(ReleaseMode.DP_SYNTHETIC).not_covered)


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    """What a client asks for: which profile fields and event categories become columns, the window, and the
    privacy loss (epsilon, and delta or the policy's default)."""

    purpose: str
    epsilon: Decimal
    profile_fields: tuple[str, ...] = ()
    event_categories: tuple[str, ...] = ()
    delta: Decimal | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    format: str = "csv"
    utility_target: str | None = None

    @classmethod
    def of(cls, value: SyntheticSpec | Mapping[str, Any]) -> SyntheticSpec:
        if isinstance(value, SyntheticSpec):
            return value
        data = {k: v for k, v in dict(value).items() if v is not None and k != "mode"}
        for key in ("profile_fields", "event_categories"):
            if key in data:
                data[key] = tuple(dict.fromkeys(data[key]))
        for key in ("epsilon", "delta"):
            if key in data:
                data[key] = Decimal(str(data[key]))
        for key in ("since", "until"):
            if isinstance(data.get(key), str):
                data[key] = dt.datetime.fromisoformat(data[key])
        return cls(**data)

    @property
    def delta_or_default(self) -> Decimal:
        return self.delta if self.delta is not None else gateway_policy().synthetic.default_delta

    def column_names(self) -> list[str]:
        return [*self.profile_fields, *(f"{c}_events" for c in self.event_categories)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": MODE,
            "purpose": self.purpose,
            "profile_fields": list(self.profile_fields),
            "event_categories": list(self.event_categories),
            "epsilon": str(self.epsilon),
            "delta": format(self.delta_or_default, "f"),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "format": self.format,
            "utility_target": self.target,
        }

    @property
    def target(self) -> str | None:
        names = self.column_names()
        return self.utility_target or (names[-1] if names else None)


def _problem(item: str, name: str, reason: str) -> dict[str, str]:
    return {"item": item, "name": name[:64], "reason": reason}


def check_synthetic_spec(client: Principal, spec: SyntheticSpec) -> None:
    """Policy check. Raises `SpecNotAllowedError` listing everything not allowed (no personal data read)."""
    catalog = vault.categories()
    policy = gateway_policy().synthetic
    found = consent.purposes().get(spec.purpose)
    if found is None:
        raise SpecNotAllowedError([_problem("purpose", spec.purpose, "unknown_purpose")])
    problems: list[dict[str, str]] = []
    if spec.purpose not in client.purposes:
        problems.append(_problem("purpose", spec.purpose, "client_not_registered_for_purpose"))
    if found.gateway is None:
        problems.append(_problem("purpose", spec.purpose, "purpose_allows_no_releases"))
    for name in spec.profile_fields:
        if name in catalog.direct_identifiers:
            problems.append(_problem("profile_field", name, "direct_identifier"))
        elif name not in catalog.field_names:
            problems.append(_problem("profile_field", name, "unknown_field"))
        elif name not in found.profile_fields:
            problems.append(_problem("profile_field", name, "not_allowed_for_purpose"))
        elif name not in policy.profile_fields:
            problems.append(_problem("profile_field", name, "no_public_domain"))
    for name in spec.event_categories:
        if name not in catalog.event_category_names:
            problems.append(_problem("event_category", name, "unknown_category"))
        elif name not in found.event_categories:
            problems.append(_problem("event_category", name, "not_allowed_for_purpose"))
    if len(spec.column_names()) < 2:
        problems.append(_problem("spec", "columns", "fewer_than_two_columns"))
    if spec.utility_target is not None and spec.utility_target not in spec.column_names():
        problems.append(_problem("utility_target", spec.utility_target, "not_a_column"))
    if spec.format not in FORMATS:
        problems.append(_problem("format", spec.format, "unknown_format"))
    if not 0 < spec.epsilon <= policy.max_epsilon:
        problems.append(_problem("epsilon", str(spec.epsilon), "outside_policy_limit"))
    if not 0 < spec.delta_or_default <= policy.default_delta * 10:
        problems.append(_problem("delta", str(spec.delta_or_default), "outside_policy_limit"))
    if spec.since and spec.until and spec.since >= spec.until:
        problems.append(_problem("window", "since/until", "empty_time_window"))
    if problems:
        raise SpecNotAllowedError(problems)


# --- preview -------------------------------------------------------------------------------------------------


def preview_synthetic(session: Session, *, client: Principal, spec: SyntheticSpec | Mapping[str, Any]) -> dict:
    """What the release would charge and what would remain, at no cost: nothing is reserved, read or stored
    (the preview itself is audited, through the gateway's shared `preview_spend`).

    The charge is the requested epsilon (in the ledger's micro-units): the job picks the largest rho whose
    OpenDP conversion stays within it, and commits OpenDP's figure for the measurement it ran. The expected
    accuracy is not computed before the run (it needs the generator; the manifest's utility report gives it).
    """
    spec = SyntheticSpec.of(spec)
    check_synthetic_spec(client, spec)
    preview = preview_spend(
        session,
        actor=client,
        kind="synthetic",
        purpose=spec.purpose,
        client_id=client.id,
        epsilon=spec.epsilon,
        delta=spec.delta_or_default,
        accuracy={
            "measured": "1- and 2-way marginals with Gaussian noise (OpenDP's MST)",
            "expected_error": "reported after the run in the manifest's utility report",
            "columns": spec.column_names(),
        },
        unit_of_privacy=UNIT_OF_PRIVACY,
        neighbouring=NEIGHBOURING,
    )
    return preview.as_dict()


# --- request -------------------------------------------------------------------------------------------------


def _ref(release_id: uuid.UUID) -> str:
    return f"release:{release_id}"


def request_synthetic_release(
    session: Session, *, client: Principal, spec: SyntheticSpec | Mapping[str, Any]
) -> Release:
    """Check, reserve the privacy loss, record the release (queued) and enqueue its job; audited. Raises
    `SpecNotAllowedError` or `BudgetExhaustedError` (then nothing is stored, the caller rolls back)."""
    spec = SyntheticSpec.of(spec)
    check_synthetic_spec(client, spec)
    release = Release(
        id=uuid.uuid4(),
        client_id=client.id,
        purpose=spec.purpose,
        spec=spec.as_dict(),
        status="queued",
        format=spec.format,
        pseudonym_mode="none",  # no pseudonyms: no synthetic row stands for a person
        policy_version=policy_version(),
        k_required=0,  # k-anonymity does not apply; the guarantee is differential privacy
    )
    reserve_budget(
        session,
        purpose=spec.purpose,
        client_id=client.id,
        epsilon=spec.epsilon,
        delta=spec.delta_or_default,
        reason=RESERVATION_REASON,
        ref=_ref(release.id),
        actor=client,
    )
    session.add(release)
    session.flush()
    release.job_id = enqueue(session, JOB_KIND, {"release_id": str(release.id)}, created_by=f"client:{client.id}")
    audit.record(
        session,
        actor=client,
        action="gateway.release.requested",
        target=("release", release.id),
        details={"purpose": spec.purpose, "format": spec.format, "mode": MODE},
    )
    return release


def reservation_of(session: Session, release_id: uuid.UUID) -> BudgetReservation | None:
    return session.scalars(
        sa.select(BudgetReservation).where(
            BudgetReservation.ref == _ref(release_id), BudgetReservation.reason == RESERVATION_REASON
        )
    ).one_or_none()


# --- building ------------------------------------------------------------------------------------------------


def person_columns(spec: SyntheticSpec) -> list[Any]:
    policy = gateway_policy().synthetic
    columns = [PersonColumn(n, policy.profile_fields[n].keys, f"profile:{n}") for n in spec.profile_fields]
    counts = count_keys(policy.event_count_cuts)
    columns += [PersonColumn(f"{c}_events", counts, f"events:{c}") for c in spec.event_categories]
    return columns


def collect_person_table(
    session_factory: Callable[[], Session], spec: SyntheticSpec, *, now: dt.datetime
) -> tuple[list[uuid.UUID], list[tuple[str | None, ...]]]:
    """One row per permitted, non-erased person: generalized profile fields mapped to their public categories and
    each asked category's event count in the window, bucketed and top-coded (each person's contribution is one
    bounded row). Consent is snapshotted at `now` and re-checked per chunk just before reading."""
    policy = gateway_policy()
    cuts = policy.synthetic.event_count_cuts
    generalize = Generalizer(policy.generalization_rules(), as_of=now.date()).functions(list(spec.profile_fields))
    keys = [policy.synthetic.profile_fields[n].keys for n in spec.profile_fields]
    with session_factory() as session:
        ids = list(consent.iter_permitted_subjects(session, spec.purpose, now=now))
    people: list[uuid.UUID] = []
    rows: list[tuple[str | None, ...]] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        with session_factory() as session:
            permitted = consent.check_many(session, chunk, spec.purpose)
            erased = vault.erased_ids(session, chunk)
            keep = [s for s in chunk if permitted[s].allowed and s not in erased]
            found = list(
                vault.iter_release_rows(
                    session,
                    keep,
                    fields=spec.profile_fields,
                    event_categories=spec.event_categories,
                    since=spec.since,
                    until=spec.until,
                )
            )
        for record in found:
            profile = []
            for name, fn, domain in zip(spec.profile_fields, generalize, keys, strict=True):
                raw = record.profile.get(name)
                profile.append(match_key(fn(raw) if fn is not None and raw is not None else raw, domain))
            per_category = dict.fromkeys(spec.event_categories, 0)
            for event in record.events:
                if event.category in per_category:
                    per_category[event.category] += 1
            counts = [count_bucket(per_category[c], cuts) for c in spec.event_categories]
            people.append(record.subject_id)
            rows.append((*profile, *counts))
    return people, rows


@dataclass(slots=True)
class SyntheticBuild:
    path: Path
    manifest: dict[str, Any]
    subject_ids: list[uuid.UUID]
    rows: int
    epsilon: float
    delta: float
    consent_snapshot_at: dt.datetime


class DataReadError(Exception):
    """The job failed after personal data was read: the reservation counts as spent."""


def build_synthetic(
    session_factory: Callable[[], Session],
    spec: SyntheticSpec,
    *,
    output_dir: Path,
    now: dt.datetime | None = None,
    seed: int | None = None,
) -> SyntheticBuild:
    """Read the person-level table, run the generator and write the synthetic file with its manifest."""
    moment = now or utcnow()
    columns = person_columns(spec)
    people, rows = collect_person_table(session_factory, spec, now=moment)
    try:
        result = synthesize(rows, columns, epsilon=float(spec.epsilon), delta=float(spec.delta_or_default), seed=seed)
        report = utility_report(rows, result.rows, columns, target=spec.target or columns[-1].name)
        path = output_dir / f"synthetic-{uuid.uuid4().hex}.{spec.format}"
        writer = open_writer(path, spec.format, [Column(c.name, "string") for c in columns])
        try:
            for start in range(0, len(result.rows), 5000):
                writer.write_rows(result.rows[start : start + 5000])
        finally:
            writer.close()
    except Exception as exc:
        raise DataReadError() from exc
    policy = gateway_policy().synthetic
    manifest = {
        "mode": MODE,
        "release_mode": mode_info(ReleaseMode.DP_SYNTHETIC).as_manifest(),
        "anonymity": "differentially private synthetic data: no row stands for a real person",
        "privacy": {
            "epsilon": repr(result.epsilon),
            "delta": repr(result.delta),
            "rho": repr(result.rho),
            "unit_of_privacy": UNIT_OF_PRIVACY,
            "neighbouring_relation": NEIGHBOURING,
            "contribution_bound": "one row per person: profile fields and, per event category, one bucketed "
            f"count top-coded at {policy.event_count_cuts[-1]}",
            "guarantee": f"({result.epsilon:.6g}, {result.delta:.3g})-differential privacy for each person",
            "covers": COVERS,
            "does_not_cover": DOES_NOT_COVER,
            "accounting": result.accounting,
        },
        "columns": [{"name": c.name, "source": c.source, "categories": [*c.keys, None]} for c in columns],
        "counts": {"rows_released": len(result.rows), "rows_note": "the synthetic row count is itself noisy"},
        "utility": report,
        "format": spec.format,
        "bytes": path.stat().st_size,
        "checksum_sha256": sha256_file(path),
    }
    return SyntheticBuild(
        path=path,
        manifest=manifest,
        subject_ids=people,
        rows=len(result.rows),
        epsilon=result.epsilon,
        delta=result.delta,
        consent_snapshot_at=moment,
    )


def complete_synthetic(session: Session, release: Release, build: SyntheticBuild, file_name: str) -> None:
    """Commit the generator's spend, store manifest and lineage, mark the release ready; audited, one transaction
    (the caller's)."""
    reservation = reservation_of(session, release.id)
    if reservation is None:
        raise RuntimeError("synthetic release without a reservation")
    commit_budget(
        session,
        reservation.id,
        epsilon_spent=Decimal(repr(build.epsilon)),
        delta_spent=Decimal(repr(build.delta)),
    )
    charged = session.get_one(BudgetReservation, reservation.id)
    session.execute(sa.delete(ReleaseSubject).where(ReleaseSubject.release_id == release.id))
    ids = build.subject_ids
    for start in range(0, len(ids), 5000):
        session.execute(
            sa.insert(ReleaseSubject), [{"release_id": release.id, "subject_id": s} for s in ids[start : start + 5000]]
        )
    release.status = "ready"
    release.manifest = {
        **build.manifest,
        "release_id": str(release.id),
        "purpose": release.purpose,
        "policy_version": release.policy_version,
        "consent_snapshot_at": build.consent_snapshot_at.isoformat(),
        "spec": release.spec,
        "budget_charged": {
            "epsilon_micro": int(charged.epsilon_micro),
            "delta_units": int(charged.delta_units),
        },
    }
    release.consent_snapshot_at = build.consent_snapshot_at
    release.rows_released = build.rows
    release.rows_suppressed = 0
    release.subjects_released = len(ids)
    release.k_achieved = None
    release.checksum_sha256 = build.manifest["checksum_sha256"]
    release.bytes = build.manifest["bytes"]
    release.file_name = file_name
    release.completed_at = utcnow()
    release.error_code = None
    audit.record(
        session,
        actor=_SYSTEM,
        action="gateway.release.completed",
        target=("release", release.id),
        details={
            "purpose": release.purpose,
            "client_id": release.client_id,
            "mode": MODE,
            "rows": release.rows_released,
            "subjects": release.subjects_released,
            "epsilon_micro": release.manifest["budget_charged"]["epsilon_micro"],
            "checksum_sha256": release.checksum_sha256,
        },
    )


def settle_failure(session: Session, release: Release, error_code: str, *, data_read: bool) -> None:
    """Fail the release; refund its reservation only if no personal data was read."""
    reservation = reservation_of(session, release.id)
    if reservation is not None and reservation.state == "reserved":
        if data_read:
            commit_budget(
                session,
                reservation.id,
                epsilon_spent=epsilon_from_micro(reservation.epsilon_micro),
                delta_spent=delta_from_units(reservation.delta_units),
            )
        else:
            refund_budget(session, reservation.id)
    fail_release(session, release, error_code)


def spec_of(release: Release) -> SyntheticSpec:
    return SyntheticSpec.of(json.loads(json.dumps(release.spec)))


# --- the job (its handler, which commits, is `tasks.run_synthetic_job`) -----------------------------------------

JOB_KIND = "gateway.synthetic_release"
MAX_ATTEMPTS = 2
