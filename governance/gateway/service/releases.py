"""Releases: requesting one (checked, queued, audited), completing or failing it with its lineage, finding
releases by subject, and the release store (files moved in, expired after the retention)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef, Principal
from governance.consent import service as consent
from governance.db import utcnow
from governance.gateway.errors import ReleaseNotFoundError, SpecNotAllowedError
from governance.gateway.models import DownloadLink, Release, ReleaseSubject
from governance.gateway.modes import REQUESTABLE_MODES, ModeInfo, ReleaseMode, mode_info, mode_of
from governance.gateway.policy import gateway_policy
from governance.gateway.service.linkage import joinable_releases
from governance.gateway.service.specs import DatasetBuild, DatasetSpec, check_spec, not_allowed
from governance.jobs import enqueue


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


def policy_version() -> str:
    if has_app_context():
        return str(current_app.extensions.get("governance.policy_version", "unknown"))
    return "unknown"


def request_release(session: Session, *, client: Principal, spec: DatasetSpec | Mapping[str, Any]) -> Release:
    """Check the spec, record the release as queued and enqueue the job that builds it (audited).

    Raises `SpecNotAllowedError` (nothing added); the route audits the refusal in its own transaction.
    """
    spec = DatasetSpec.of(spec)
    if spec.mode not in REQUESTABLE_MODES:
        raise SpecNotAllowedError([not_allowed("mode", spec.mode, "not_requestable")])
    check_spec(spec.purpose, client, spec)
    if spec.mode == ReleaseMode.PSEUDONYMIZED_ROWS:
        joinable_releases(session, client_id=client.id, spec=spec)  # raises while a joinable one is building
    block = consent.purposes()[spec.purpose].gateway
    release = Release(
        id=uuid.uuid4(),
        client_id=client.id,
        purpose=spec.purpose,
        spec=spec.as_dict(),
        status="queued",
        format=spec.format,
        pseudonym_mode=spec.pseudonyms,
        policy_version=policy_version(),
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
