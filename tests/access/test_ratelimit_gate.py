"""The rate-limit gate (access.ratelimit.RateGate) as a caller and an attacker meet it: the headers on every
limited answer, the smallest window first and the first breach stopping the count, sign-in limits per address in
place of the defaults, unrouted paths limited too, nothing stored by a refused call, no key in the logs."""

from __future__ import annotations

import logging
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from limits import parse
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import REGISTRY

from tests.access.conftest import audit_rows
from tests.fixtures.ports import unused_port

POLICY = "/api/v1/access/policy"


def _endpoint(app: Flask, path: str, method: str = "GET") -> str:
    return app.url_map.bind("localhost").match(path, method=method)[0]


def test_each_answer_carries_the_smallest_windows_state_and_only_a_429_says_when_to_retry(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RATELIMIT_DEFAULT="100/hour;3/minute")
    client = app.test_client()
    answers = [client.get(POLICY) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["3"] * 3  # the minute, not the hour
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    now = time.time()
    assert all(now < int(a.headers["X-RateLimit-Reset"]) <= now + 61 for a in answers)
    assert all("Retry-After" not in a.headers for a in answers)
    refused = client.get(POLICY)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (refused.headers["X-RateLimit-Limit"], refused.headers["X-RateLimit-Remaining"]) == ("3", "0")
    # The breach of the minute stopped the count: the hour saw the three admitted calls, not the refused one.
    hour = MovingWindowRateLimiter(app.extensions["governance.access.limiter"].storage)
    stats = hour.get_window_stats(parse("100/hour"), "governance", "addr:127.0.0.1", _endpoint(app, POLICY))
    assert stats.remaining == 97


def test_a_retry_after_the_wait_it_names_is_admitted(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RATELIMIT_DEFAULT="1/2 seconds")
    client = app.test_client()
    assert client.get(POLICY).status_code == 401
    refused = client.get(POLICY)
    assert refused.status_code == 429
    time.sleep(int(refused.headers["Retry-After"]))  # the server's own figure, which must be enough
    assert client.get(POLICY).status_code == 401


def test_sign_in_endpoints_count_per_address_against_their_own_limit(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RATELIMIT_DEFAULT="100/minute", RATELIMIT_SIGN_IN="2/minute")
    client = app.test_client()
    form = {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "wrong"}
    attacker = {"REMOTE_ADDR": "203.0.113.7"}
    answers = [client.post("/oauth/token", data=form, environ_base=attacker) for _ in range(3)]
    statuses = [a.status_code for a in answers]
    assert 429 not in statuses[:2]
    assert statuses[2] == 429
    assert answers[0].headers["X-RateLimit-Limit"] == "2"  # the sign-in limit in place of the default
    # Another address is counted apart, and other endpoints keep the default for the attacker's address.
    assert (
        client.post("/oauth/token", data=form, environ_base={"REMOTE_ADDR": "198.51.100.4"}).status_code == statuses[0]
    )
    other = client.get(POLICY, environ_base=attacker)
    assert (other.status_code, other.headers["X-RateLimit-Limit"]) == (401, "100")


def test_paths_that_match_no_route_share_one_count(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RATELIMIT_DEFAULT="2/minute")
    client = app.test_client()
    statuses = [client.get(f"/api/v1/{uuid.uuid4().hex}").status_code for _ in range(3)]
    assert statuses == [404, 404, 429]  # a scanner probing unknown paths is limited like any caller
    assert client.get(POLICY).status_code == 401  # a routed endpoint has its own count


def test_a_refused_call_stores_nothing(make_app, bearer) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RATELIMIT_DEFAULT="2/minute")
    client = app.test_client()
    token = bearer(["subjects:link"])
    subject = uuid.uuid4()
    path = f"/api/v1/subjects/{subject}/dashboard-links"
    before = len(audit_rows(app, "access.dashboard_link.created"))
    assert [client.post(path, headers=token).status_code for _ in range(3)] == [201, 201, 429]
    assert len(audit_rows(app, "access.dashboard_link.created")) == before + 2


def test_a_breach_logs_neither_the_address_nor_the_client(make_app, bearer, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RATELIMIT_DEFAULT="1/minute")
    client = app.test_client()
    address = "203.0.113.99"
    with caplog.at_level(logging.DEBUG, logger="governance"):
        client.get(POLICY, environ_base={"REMOTE_ADDR": address})
        refused = client.get(POLICY, environ_base={"REMOTE_ADDR": address})
        token = bearer(["subjects:link"])
        path = f"/api/v1/subjects/{uuid.uuid4()}/dashboard-links"
        client.post(path, headers=token)
        refused_client = client.post(path, headers=token)
    assert (refused.status_code, refused_client.status_code) == (429, 429)
    assert any(r.getMessage() == "rate limit exceeded" for r in caplog.records)
    logged = caplog.text + "".join(str(vars(r)) for r in caplog.records)
    assert address not in logged
    assert "client:" not in logged
    assert "addr:" not in logged
    assert address not in refused.get_data(as_text=True)


def test_probes_and_the_disabled_gate_count_nothing(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RATELIMIT_DEFAULT="1/minute")
    gate = app.extensions["governance.access.limiter"]
    client = app.test_client()
    assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers
    gate.enabled = False
    assert [client.get(POLICY).status_code for _ in range(3)] == [401, 401, 401]
    gate.enabled = True
    assert [client.get(POLICY).status_code for _ in range(2)] == [401, 429]  # nothing was counted while off


def test_redis_counts_sit_under_the_keys_flask_limiter_used(make_app) -> None:  # type: ignore[no-untyped-def]
    """Counts survive the change from flask-limiter: a rolling upgrade keeps each caller's window."""
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        server = redis.Redis.from_url(url, socket_connect_timeout=1)
        server.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    prefix = f"test-{uuid.uuid4().hex}"
    app = make_app(RATELIMIT_STORAGE_URL=url, RATELIMIT_DEFAULT="2/minute", RATELIMIT_KEY_PREFIX=prefix)
    assert app.test_client().get(POLICY).status_code == 401
    # flask-limiter's identifiers: its key prefix, the key function's value, the endpoint (limits adds the rest)
    key = f"LIMITER/{prefix}/addr:127.0.0.1/{_endpoint(app, POLICY)}/2/1/minute"
    assert [k.decode() for k in server.keys(f"*{prefix}*")] == [f"LIMITS:{key}"]
    server.delete(f"LIMITS:{key}")


class OwnRedis:
    """A Redis server of the test's own on a free port, which the test stops and starts again: a real outage and
    a real recovery, without touching the shared server."""

    def __init__(self, directory: Path) -> None:
        self.port = unused_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*command, "--dir", str(self.directory)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60  # a busy CI machine: a generous deadline, checked often
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except redis.exceptions.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=60)
        self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


# A LogRecord's own numbers (its timestamps, thread and process ids, line number) can hold a port's digits by
# chance ("relativeCreated: 57840.343713760376" holds 37137): only what the code put in the record is searched.
_RECORD_NUMBERS = frozenset({"created", "msecs", "relativeCreated", "thread", "process", "lineno", "levelno"})


def _mentions_port(records: list[logging.LogRecord], port: int) -> bool:
    written = [repr(value) for record in records for name, value in vars(record).items() if name not in _RECORD_NUMBERS]
    return any(re.search(rf"(?<!\d){port}(?!\d)", text) for text in written)


def _storage_errors() -> float:
    return REGISTRY.get_sample_value("governance_ratelimit_storage_errors_total") or 0.0


def test_a_storage_outage_lets_requests_through_uncounted_and_counting_resumes(  # type: ignore[no-untyped-def]
    make_app, own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down must not stop the service (sign-in stays bounded by the database's lockouts): calls pass
    uncounted, the failure is logged once per rest without naming the server, and counting resumes after."""
    own_redis.start()
    app = make_app(RATELIMIT_STORAGE_URL=own_redis.url, RATELIMIT_DEFAULT="2/minute")
    client = app.test_client()
    assert client.get(POLICY).headers["X-RateLimit-Remaining"] == "1"

    own_redis.stop()
    errors_before = _storage_errors()
    with caplog.at_level(logging.DEBUG, logger="governance"):
        during = [client.get(POLICY) for _ in range(4)]
    assert [r.status_code for r in during] == [401] * 4  # the access check answers; never a 500, never a 429
    assert not any("X-RateLimit-Limit" in r.headers for r in during)
    logged = [r for r in caplog.records if r.name == "governance.access.ratelimit"]
    assert [(r.levelname, r.error_type) for r in logged] == [("WARNING", "ConnectionError")]  # once: it rests
    assert not _mentions_port(caplog.records, own_redis.port)
    assert _storage_errors() == errors_before + 1

    own_redis.start()  # the same address, empty: what the dead server counted is gone
    app.extensions["governance.access.limiter"]._resting_until = 0.0  # as if the rest were over
    assert [client.get(POLICY).status_code for _ in range(3)] == [401, 401, 429]
