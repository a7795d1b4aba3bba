"""What the vault's services return: subjects, events and release rows as plain values, and the reports of an
intake and of a shredding. Also the `Actor` and `View` argument types the services share."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from governance.access.principals import ActorRef, Principal
from governance.vault.models import Subject

Actor = Principal | ActorRef
View = Literal["clear", "masked", "summary"]


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
