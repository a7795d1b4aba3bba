"""The lifecycle of a data subject request as a pure state machine.

    received ─► verified ─► in_progress ─► completed
        │           │            ├──────► partially_completed   (a reason for every item not done)
        └───────────┴────────────┴──────► rejected              (a reason the subject can read)

Closed states are final. The service stores the status and writes one audit entry per transition; this module
only decides whether a transition and its outcome are valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from governance.requests.errors import InvalidTransitionError, OutcomeReasonRequiredError

__all__ = [
    "CLOSED",
    "OPEN",
    "TRANSITIONS",
    "ItemOutcome",
    "RequestKind",
    "Status",
    "check_transition",
    "outcome_status",
]


class RequestKind(StrEnum):
    ACCESS = "access"  # GDPR Art. 15, CCPA right to know
    PORTABILITY = "portability"  # GDPR Art. 20 (machine-readable)
    ERASURE = "erasure"  # GDPR Art. 17, CCPA delete
    RECTIFICATION = "rectification"  # GDPR Art. 16
    OBJECTION = "objection"  # GDPR Art. 21 and 18 (objection / restriction)


class Status(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    PARTIALLY_COMPLETED = "partially_completed"
    REJECTED = "rejected"


OPEN: frozenset[Status] = frozenset({Status.RECEIVED, Status.VERIFIED, Status.IN_PROGRESS})
CLOSED: frozenset[Status] = frozenset({Status.COMPLETED, Status.PARTIALLY_COMPLETED, Status.REJECTED})

TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.VERIFIED, Status.REJECTED}),
    Status.VERIFIED: frozenset({Status.IN_PROGRESS, Status.REJECTED}),
    Status.IN_PROGRESS: frozenset({Status.COMPLETED, Status.PARTIALLY_COMPLETED, Status.REJECTED}),
    Status.COMPLETED: frozenset(),
    Status.PARTIALLY_COMPLETED: frozenset(),
    Status.REJECTED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What happened to one part of a request (a data category, a purpose, a field, a processor).

    `reason` is shown to the subject and is required when the item was not done.
    """

    item: str
    done: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"item": self.item, "done": self.done, "reason": self.reason}


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def check_transition(
    current: Status | str,
    target: Status | str,
    *,
    reason: str | None = None,
    items: Iterable[ItemOutcome] = (),
) -> None:
    """Raise unless `current -> target` is allowed and carries what the target status needs.

    Raises `InvalidTransitionError` for a move the lifecycle does not allow (including any move out of a
    closed state) and `OutcomeReasonRequiredError` for a rejection without a reason, or a partial completion
    without an item left undone or without a reason for each such item.
    """
    current, target = Status(current), Status(target)
    if target not in TRANSITIONS[current]:
        raise InvalidTransitionError(f"A request cannot move from {current} to {target}.")
    if target is Status.REJECTED and _blank(reason):
        raise OutcomeReasonRequiredError("A rejection needs a reason the subject can read.")
    if target is Status.PARTIALLY_COMPLETED:
        undone = [item for item in items if not item.done]
        if not undone:
            raise OutcomeReasonRequiredError("A partial completion must name the items that were not done.")
        if any(_blank(item.reason) for item in undone):
            raise OutcomeReasonRequiredError("Every item not done needs a reason.")


def outcome_status(items: Iterable[ItemOutcome]) -> Status:
    """`completed` when every item was done, otherwise `partially_completed`."""
    return Status.COMPLETED if all(item.done for item in items) else Status.PARTIALLY_COMPLETED
