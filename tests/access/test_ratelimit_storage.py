"""The in-process rate-limit storage (access.ratelimit.SweptMemoryStorage): limits' MemoryStorage without a
timer thread per hit. It must refuse exactly what the moving window refuses and still free expired entries."""

from __future__ import annotations

import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from governance.access.ratelimit import SweptMemoryStorage


def test_the_app_uses_it_when_no_storage_url_is_set(app) -> None:  # type: ignore[no-untyped-def]
    limiter = app.extensions["governance.access.limiter"]
    assert isinstance(limiter.storage, SweptMemoryStorage)


def test_the_window_refuses_the_hit_over_the_limit_and_counts_per_key() -> None:
    storage = storage_from_string("governance+memory://")
    window = MovingWindowRateLimiter(storage)
    limit = parse("3/hour")
    assert [window.hit(limit, "client:a") for _ in range(4)] == [True, True, True, False]
    assert window.hit(limit, "client:b")
    assert window.get_window_stats(limit, "client:a").remaining == 0


def test_hits_start_no_timer_thread() -> None:
    storage = SweptMemoryStorage()
    timer = storage.timer  # the one the base class starts when it is made
    window = MovingWindowRateLimiter(storage)
    for index in range(200):
        window.hit(parse("1000/hour"), f"addr:{index % 7}")
    assert storage.timer is timer  # MemoryStorage replaces it with a new started Timer on a hit after it fired


def test_expired_entries_are_swept_and_the_key_admits_again() -> None:
    storage = SweptMemoryStorage()
    window = MovingWindowRateLimiter(storage)
    limit = parse("2/second")
    assert [window.hit(limit, "addr:old") for _ in range(2)] == [True, True]
    key = limit.key_for("addr:old")
    expires = max(entry.expiry for entry in storage.events[key])
    deadline = time.time() + 60
    while time.time() <= expires:  # a condition, not a fixed sleep: the entries' own expiry time
        assert time.time() < deadline
        time.sleep(0.05)
    # The window no longer counts them, swept or not.
    assert window.get_window_stats(limit, "addr:old").remaining == 2
    storage._next_sweep = 0.0  # the next hit on any key sweeps
    assert window.hit(limit, "addr:other")
    assert not storage.events.get(key)  # emptied (the base class keeps the empty list)
    assert window.hit(limit, "addr:old")
