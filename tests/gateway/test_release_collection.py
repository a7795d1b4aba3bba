"""A release raises the garbage collector's young threshold while it runs and restores the setting however it
ends: finished, failed in the middle, or overlapping another release in another thread."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from governance.gateway.anonymize import SubjectRecord, write_release
from governance.gateway.anonymize.collection import RELEASE_GEN0_THRESHOLD, fewer_collections
from governance.gateway.kanon import AnonymityRequirement
from governance.gateway.pseudonyms import Pseudonymizer
from tests.gateway.test_anonymize import COLUMNS, GENERALIZER, population


@pytest.fixture(autouse=True)
def default_threshold() -> Iterator[tuple[int, ...]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def _watched(records: list[SubjectRecord], seen: list[int], fail_at: int | None = None) -> Iterator[SubjectRecord]:
    for n, record in enumerate(records):
        if n == fail_at:
            raise RuntimeError("source failed")
        seen.append(gc.get_threshold()[0])
        yield record


def _release(tmp_path, records) -> None:
    write_release(
        records,
        **COLUMNS,
        generalizer=GENERALIZER,
        requirement=AnonymityRequirement(k=5),
        pseudonymize=Pseudonymizer.for_release(),
        path=tmp_path / "release.jsonl",
        fmt="jsonl",
    )


def test_a_release_reads_its_records_under_the_raised_threshold_and_restores_it(tmp_path, default_threshold):
    seen: list[int] = []
    _release(tmp_path, _watched(population(50), seen))
    assert seen
    assert set(seen) == {RELEASE_GEN0_THRESHOLD}
    assert gc.get_threshold() == default_threshold


def test_a_release_that_fails_midway_restores_the_threshold(tmp_path, default_threshold):
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="source failed"):
        _release(tmp_path, _watched(population(50), seen, fail_at=20))
    assert set(seen) == {RELEASE_GEN0_THRESHOLD}
    assert gc.get_threshold() == default_threshold


def test_overlapping_releases_share_one_raise_and_the_last_to_finish_restores(default_threshold):
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    during: list[int] = []

    def second() -> None:
        first_in.wait(timeout=60)
        with fewer_collections():
            second_in.set()
            first_out.wait(timeout=60)
            during.append(gc.get_threshold()[0])  # the first has finished: still raised for this one

    thread = threading.Thread(target=second)
    thread.start()
    with fewer_collections():
        first_in.set()
        assert second_in.wait(timeout=60)
    first_out.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert during == [RELEASE_GEN0_THRESHOLD]
    assert gc.get_threshold() == default_threshold


def test_a_threshold_already_higher_is_left_alone():
    gc.set_threshold(RELEASE_GEN0_THRESHOLD * 2, 10, 10)
    with fewer_collections():
        assert gc.get_threshold()[0] == RELEASE_GEN0_THRESHOLD * 2
    assert gc.get_threshold() == (RELEASE_GEN0_THRESHOLD * 2, 10, 10)
