"""Fewer garbage-collector passes while a release is built (and restored after, however the build ends), and
the parent's heap kept out of its forked partition processes' collections."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

RELEASE_GEN0_THRESHOLD = 100_000  # net allocations between young collections while a release is built

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, ...] | None = None


@contextmanager
def fewer_collections(threshold: int = RELEASE_GEN0_THRESHOLD) -> Iterator[None]:
    """Raise the collector's young-generation threshold for the block.

    A release keeps hundreds of thousands of container objects alive at once (a spill chunk's rows and
    combinations, the class counts, the encoder's cache) while allocating millions more. At the default
    threshold (700) the collector runs every few hundred allocations and its older generations rescan
    everything alive, the application's modules and metadata included: about 30 % of a 100,000-event release's
    CPU (measured in docs/performance.md). The pipeline's objects form no reference cycles, so collection can
    wait; it still runs, every ``threshold`` net allocations. The threshold is process-wide: overlapping
    releases (threads) share one raise, and the last to finish restores the saved setting. Forked partition
    processes inherit it."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(threshold, _saved[0]), *_saved[1:])
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None


@contextmanager
def frozen_for_fork() -> Iterator[None]:
    """Move everything alive to the collector's permanent generation while forked partition processes start
    and run (`gc.freeze`): a child's collections then skip the heap it inherits instead of walking it, which
    would touch (and so copy, page by page) the parent's memory in every child. Unfrozen afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
