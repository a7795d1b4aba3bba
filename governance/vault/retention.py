"""Retention: delete profile fields and events older than every purpose that may use them allows.

A category's retention is the longest `retention_days` among the purposes using it (`retention_days_by_category`);
a category no purpose uses has retention 0 and is deleted on the next run. Counts only go to the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from governance.access.principals import ActorRef, Principal
from governance.audit import record
from governance.core.runtime import Slot
from governance.db import utcnow
from governance.vault.catalog import CategoryCatalog
from governance.vault.models import DataKey, Event, ProfileFieldValue, Subject
from governance.vault.service import rowcount


class _PurposeLike(Protocol):
    @property
    def retention_days(self) -> int: ...
    @property
    def profile_fields(self) -> Iterable[str]: ...
    @property
    def event_categories(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class PurposeSource:
    """Where the retention job reads the purposes from: consent's catalog. Vault sits below consent and never
    imports it; the composition root (governance/composition.py) fills `RETENTION_PURPOSES` at start-up."""

    read: Callable[[], Iterable[_PurposeLike]]


RETENTION_PURPOSES = Slot("vault.retention_purposes", PurposeSource)


def retention_days_by_category(catalog: CategoryCatalog, purposes: Iterable[_PurposeLike]) -> dict[str, int]:
    """For every field and event category: the longest retention among the purposes that use it (0: none)."""
    days = dict.fromkeys(catalog.field_names | catalog.event_category_names, 0)
    for purpose in purposes:
        for name in (*purpose.profile_fields, *purpose.event_categories):
            if name in days:
                days[name] = max(days[name], int(purpose.retention_days))
    return days


def apply_retention(
    session: Session,
    *,
    catalog: CategoryCatalog,
    retention_days: Mapping[str, int],
    actor: Principal | ActorRef,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Delete what has outlived its retention; record the counts per category in the audit log (same
    transaction). Also destroys the last data key of erased subjects once no kept event remains."""
    now = now or utcnow()
    fields_deleted: dict[str, int] = {}
    events_deleted: dict[str, int] = {}
    for name in sorted(catalog.field_names):
        cutoff = now - dt.timedelta(days=retention_days.get(name, 0))
        count = rowcount(
            session.execute(
                delete(ProfileFieldValue).where(ProfileFieldValue.name == name, ProfileFieldValue.updated_at < cutoff)
            )
        )
        if count:
            fields_deleted[name] = count
    for category in sorted(catalog.event_category_names):
        cutoff = now - dt.timedelta(days=retention_days.get(category, 0))
        count = rowcount(session.execute(delete(Event).where(Event.category == category, Event.occurred_at < cutoff)))
        if count:
            events_deleted[category] = count
    orphan_keys = rowcount(
        session.execute(
            delete(DataKey).where(
                DataKey.subject_id.in_(select(Subject.id).where(Subject.status == "erased")),
                ~exists().where(Event.subject_id == DataKey.subject_id),
            )
        )
    )
    # events of categories no longer in the catalog would otherwise live forever
    unknown = rowcount(
        session.execute(delete(Event).where(Event.category.not_in(sorted(catalog.event_category_names))))
    )
    details = {
        "fields_deleted": fields_deleted,
        "events_deleted": events_deleted,
        "erased_subject_keys_destroyed": orphan_keys,
        "events_of_unknown_categories_deleted": unknown,
        "retention_days": dict(sorted(retention_days.items())),
    }
    record(session, actor=actor, action="vault.retention.apply", target=None, details=details)
    session.flush()
    return details
