"""The request lifecycle state machine."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.requests.errors import InvalidTransitionError, OutcomeReasonRequiredError
from governance.requests.lifecycle import (
    CLOSED,
    OPEN,
    TRANSITIONS,
    ItemOutcome,
    Status,
    check_transition,
    outcome_status,
)

DONE = ItemOutcome("profile", done=True)
KEPT = ItemOutcome("billing", done=False, reason="Kept for 10 years under tax law.")


def test_the_happy_path() -> None:
    check_transition("received", "verified")
    check_transition(Status.VERIFIED, Status.IN_PROGRESS)
    check_transition(Status.IN_PROGRESS, Status.COMPLETED)


@pytest.mark.parametrize("closed", sorted(CLOSED))
@pytest.mark.parametrize("target", list(Status))
def test_closed_requests_are_final(closed: Status, target: Status) -> None:
    with pytest.raises(InvalidTransitionError):
        check_transition(closed, target, reason="r", items=[KEPT])


@pytest.mark.parametrize(("current", "target"), list(itertools.product(Status, Status)))
def test_only_listed_transitions_are_allowed(current: Status, target: Status) -> None:
    allowed = target in TRANSITIONS[current]
    try:
        check_transition(current, target, reason="Explained to the subject.", items=[DONE, KEPT])
    except InvalidTransitionError:
        assert not allowed
    else:
        assert allowed


def test_no_skipping_verification_and_no_going_back() -> None:
    for current, target in [
        ("received", "in_progress"),
        ("received", "completed"),
        ("in_progress", "verified"),
    ]:
        with pytest.raises(InvalidTransitionError):
            check_transition(current, target)


@pytest.mark.parametrize("current", sorted(OPEN))
@pytest.mark.parametrize("reason", [None, "", "  \n"])
def test_rejection_needs_a_readable_reason(current: Status, reason: str | None) -> None:
    with pytest.raises(OutcomeReasonRequiredError) as info:
        check_transition(current, Status.REJECTED, reason=reason)
    assert info.value.status == 422
    check_transition(current, Status.REJECTED, reason="We could not confirm your identity.")


def test_partial_completion_needs_a_reason_per_item_left() -> None:
    with pytest.raises(OutcomeReasonRequiredError):
        check_transition(Status.IN_PROGRESS, Status.PARTIALLY_COMPLETED, items=[DONE])
    with pytest.raises(OutcomeReasonRequiredError):
        check_transition(
            Status.IN_PROGRESS, Status.PARTIALLY_COMPLETED, items=[DONE, ItemOutcome("billing", done=False)]
        )
    check_transition(Status.IN_PROGRESS, Status.PARTIALLY_COMPLETED, items=[DONE, KEPT])


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid Status"):
        check_transition("received", "paused")


@given(st.lists(st.booleans(), min_size=1, max_size=10))
def test_outcome_status_is_complete_only_when_every_item_is_done(flags: list[bool]) -> None:
    items = [ItemOutcome(f"item{i}", done=flag, reason=None if flag else "kept") for i, flag in enumerate(flags)]
    status = outcome_status(items)
    assert (status is Status.COMPLETED) == all(flags)
    check_transition(Status.IN_PROGRESS, status, items=items)


def test_every_open_state_can_reach_a_closed_state() -> None:
    for state in OPEN:
        seen, frontier = {state}, [state]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & CLOSED
