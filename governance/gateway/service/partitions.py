"""How a release's subjects are spilled to a temporary file and split into ranges (partitions) whose pass one
runs in forked processes, and when forking is safe."""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import IO

from flask import current_app
from sqlalchemy.orm import Session

from governance.consent import service as consent

# a release is split into partitions (subject ranges) only from this many subjects each: below it the fork and
# the extra spill files cost more than a second core saves
MIN_PARTITION_SUBJECTS = 5_000
# threads known to survive a fork: the vault's key-cache sweeper restarts itself in the child
_FORK_SAFE_THREADS = frozenset({"vault-key-cache-sweeper"})


def spill_permitted(session: Session, purpose: str, as_of: dt.datetime, spill: IO[bytes]) -> int:
    """Write the ids of the subjects permitted for `purpose` at `as_of` to `spill` (16 bytes each); the count."""
    count = 0
    for subject_id in consent.iter_permitted_subjects(session, purpose, now=as_of):
        spill.write(subject_id.bytes)
        count += 1
    return count


def read_ids(spill: IO[bytes], size: int, first: int = 0, last: int | None = None) -> Iterator[list[uuid.UUID]]:
    """Ids ``first`` to ``last`` (exclusive) of the spill, ``size`` at a time. `os.pread` leaves the file offset
    alone, so forked partitions can read their ranges of the one inherited file at the same time."""
    end = os.fstat(spill.fileno()).st_size // 16 if last is None else last
    for start in range(first, end, size):
        block = os.pread(spill.fileno(), 16 * (min(start + size, end) - start), 16 * start)
        yield [uuid.UUID(bytes=block[i : i + 16]) for i in range(0, len(block), 16)]


def release_processes() -> int:
    """Processes a release's pass one runs in (`GOVERNANCE_GATEWAY_RELEASE_PROCESSES`, default: every core)."""
    settings = current_app.extensions["governance.settings"]
    return max(1, settings.get_int("GATEWAY_RELEASE_PROCESSES", os.cpu_count() or 1))


def can_fork() -> bool:
    """Partitions are forked only from the main thread of a process with no other thread than fork-safe ones
    (`governance worker`): a fork copies only the calling thread, and a lock another thread held (logging, a
    connection pool) would stay locked in the child. The in-process worker thread of `governance serve` builds
    releases in one process."""
    if "jax" in sys.modules:  # a synthetic-data job ran in this process: JAX's threads make a fork unsafe
        return False
    main = threading.main_thread()
    return threading.current_thread() is main and all(
        t is main or t.name in _FORK_SAFE_THREADS for t in threading.enumerate()
    )


def partition_bounds(count: int, processes: int, minimum: int) -> list[tuple[int, int]]:
    """Contiguous subject ranges: two per process (a slow partition does not hold the others up), none smaller
    than ``minimum`` subjects."""
    parts = max(1, min(2 * processes, count // max(minimum, 1)))
    if processes < 2 or parts < 2:
        return [(0, count)]
    size = -(-count // parts)
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def forget_connections() -> None:
    """In a forked partition process: never touch the parent's pooled connections (they belong to its sockets
    and transactions); the child opens its own."""
    current_app.extensions["governance.db"].engine.dispose(close=False)
