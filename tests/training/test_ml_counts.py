"""Finding 3 of issue 15: model cards publish DP counts, so two jobs around one person's withdrawal no longer
reveal that person's exact event count."""

from __future__ import annotations

import math
import statistics

import pytest

from governance.training.ml.counts import noisy_counts


def test_the_difference_of_two_cards_no_longer_is_the_leavers_event_count() -> None:
    everyone = [3, 5, 9, 2, 7] * 4000  # large enough that clamping at 0 never happens
    without_leaver = everyone[1:]  # the leaver had 3 events
    differences = []
    for seed in range(400):
        before = noisy_counts(everyone, epsilon=0.05, max_rows_per_person=100, random_state=seed)
        after = noisy_counts(without_leaver, epsilon=0.05, max_rows_per_person=100, random_state=10_000 + seed)
        differences.append((before.rows - after.rows, before.people - after.people))
    exact = sum(1 for rows, people in differences if rows == 3 and people == 1)
    assert exact <= 4  # before: every pair of cards differed by exactly (3 rows, 1 person)
    # the noise has the stated scale: rows sensitivity 100 at epsilon 0.025 -> geometric scale 4000
    rows_diffs = [rows for rows, _ in differences]
    assert statistics.pstdev(rows_diffs) == pytest.approx(math.sqrt(2) * 4000 * math.sqrt(2), rel=0.25)


def test_counts_are_never_negative_and_say_how_they_were_made() -> None:
    counts = noisy_counts([1, 1], epsilon=0.05, max_rows_per_person=10, random_state=1)
    assert counts.people >= 0
    assert counts.rows >= 0
    card = counts.as_card()
    assert card["method"] == "dp"
    assert card["sensitivity_rows"] == 10
    assert card["epsilon_people"] + card["epsilon_rows"] == pytest.approx(0.05)
