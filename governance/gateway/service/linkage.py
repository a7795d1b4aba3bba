"""Which earlier releases to one client a new row-level release can be joined with, person by person, and the
footprints of their people (the new release's k per person is measured together with them)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.gateway.errors import JoinableReleaseInProgressError
from governance.gateway.models import Release, ReleaseSubject
from governance.gateway.modes import ReleaseMode, mode_of
from governance.gateway.service.specs import DatasetSpec

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


def _earlier_releases(session: Session, client_id: str, exclude: uuid.UUID | None) -> list[Release]:
    """The client's releases being built or built, requested before `exclude` (when given), oldest first."""
    query = sa.select(Release).where(Release.client_id == client_id).order_by(Release.created_at, Release.id)
    earlier = [r for r in session.scalars(query) if r.id != exclude and r.status in (*_BUILDING, *_BUILT)]
    if exclude is not None:
        own = session.get(Release, exclude)
        if own is not None:
            earlier = [r for r in earlier if (r.created_at, str(r.id)) < (own.created_at, str(own.id))]
    return earlier


def joinable_releases(
    session: Session, *, client_id: str, spec: DatasetSpec, exclude: uuid.UUID | None = None
) -> list[tuple[Release, str]]:
    """The client's built releases that `spec` joins, directly or through each other (oldest first), with how.

    Raises `JoinableReleaseInProgressError` when one of them is still being built (requested before this one)."""
    found: list[tuple[Release, str]] = []
    frontier: list[Mapping[str, Any]] = [spec.as_dict()]
    remaining = _earlier_releases(session, client_id, exclude)
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


def prior_footprints(session: Session, releases: list[Release]) -> dict[uuid.UUID, bytes]:
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
