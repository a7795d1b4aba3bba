"""The durable job queue: claims, retries with backoff, leases, cancellation, concurrency on PostgreSQL."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select, update

from governance import write_batch
from governance.db import utcnow
from governance.jobs import JobCancelledError, JobContext, enqueue, get_job, register, request_cancel
from governance.jobs import service as job_service
from governance.jobs.models import Job
from governance.jobs.worker import Worker, drain

RUNS = sa.Table(
    "test_job_runs",
    sa.MetaData(),
    sa.Column("job_id", sa.String(64), primary_key=True),  # a second run of the same job would violate this
    sa.Column("worker", sa.String(120)),
)


@pytest.fixture
def runs_table(app: Flask) -> Iterator[sa.Table]:
    """A scratch table outside the models (dropped afterwards, so the drift test never sees it)."""
    engine = app.extensions["governance.db"].engine
    RUNS.drop(engine, checkfirst=True)
    RUNS.create(engine)
    yield RUNS
    RUNS.drop(engine, checkfirst=True)


def _session(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["governance.db"].session()


def _enqueue(app: Flask, kind: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> uuid.UUID:
    with _session(app) as session:
        job_id = enqueue(session, kind, payload or {}, **kwargs)
        session.commit()
    return job_id


@register("test.record_run")
def _record_run(ctx: JobContext) -> dict[str, Any]:
    with ctx.session() as session:
        session.execute(RUNS.insert().values(job_id=str(ctx.job_id), worker=ctx.payload.get("worker", "")))
        session.commit()
    ctx.progress(1, 1, "recorded")
    return {"ok": True}


_flaky_calls: dict[str, int] = {}


@register("test.flaky", max_attempts=3)
def _flaky(ctx: JobContext) -> dict[str, Any]:
    _flaky_calls[str(ctx.job_id)] = _flaky_calls.get(str(ctx.job_id), 0) + 1
    if ctx.attempt < 2:
        raise ConnectionError("transient")
    return {"attempt": ctx.attempt}


@register("test.always_fails", max_attempts=2)
def _always_fails(ctx: JobContext) -> None:
    raise RuntimeError("broken handler")


@register("test.cancellable")
def _cancellable(ctx: JobContext) -> dict[str, Any]:
    for step in range(100):
        ctx.progress(step, 100, "working")
        if ctx.cancelled():
            raise JobCancelledError()
        time.sleep(0.01)
    return {"finished": True}


def _make_due(app: Flask, job_id: uuid.UUID) -> None:
    with _session(app) as session:
        session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow() - timedelta(seconds=1)))
        session.commit()


def test_a_job_runs_once_and_records_result_and_progress(app: Flask, runs_table: sa.Table) -> None:
    job_id = _enqueue(app, "test.record_run", {"worker": "w1"})
    assert drain(app) == 1
    with _session(app) as session:
        view = get_job(session, job_id)
        assert (view.status, view.attempts, view.result) == ("succeeded", 1, {"ok": True})
        assert (view.progress_done, view.progress_total, view.progress_message) == (1, 1, "recorded")
        assert session.execute(select(sa.func.count()).select_from(runs_table)).scalar() == 1
    assert drain(app) == 0


def test_dedupe_key_returns_the_existing_job(app: Flask) -> None:
    first = _enqueue(app, "test.record_run", dedupe_key="same")
    second = _enqueue(app, "test.record_run", dedupe_key="same")
    assert first == second


def test_a_key_known_new_skips_the_lookup_and_a_duplicate_still_fails(app: Flask) -> None:
    engine = app.extensions["governance.db"].engine
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        first = _enqueue(app, "test.record_run", dedupe_key="minted", key_is_new=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert [s for s in seen if s.lstrip().upper().startswith("SELECT")] == []
    assert [s.split(None, 3)[2] for s in seen if s.lstrip().upper().startswith("INSERT")] == ["jobs"]
    # the unique key still refuses a second job: the transaction fails, and nothing more is queued
    with _session(app) as session, pytest.raises(sa.exc.IntegrityError):
        enqueue(session, "test.record_run", {}, dedupe_key="minted", key_is_new=True)  # refused at its flush
    with _session(app) as session:
        assert session.scalars(select(Job.id).where(Job.dedupe_key == "minted")).all() == [first]


class _ChangedMind(Exception):
    pass


def test_jobs_enqueued_in_a_deferred_block_are_held_for_the_caller_and_dropped_if_it_raises(app: Flask) -> None:
    """`jobs.deferred` holds the jobs back: nothing reaches the database inside the block (a caller's own first
    write goes before them), the caller writes what it holds (`batch_part`), and a block that raises leaves no
    job."""
    engine = app.extensions["governance.db"].engine
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    with _session(app) as session:
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            with job_service.deferred(session) as held:
                first = enqueue(session, "test.record_run", {}, dedupe_key="held", key_is_new=True)  # flush=True
                second = enqueue(session, "test.record_run", {}, key_is_new=True)
                assert seen == []
                assert not session.new  # held, not even pending in the session
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        write_batch.execute(session, [job_service.batch_part(held)])
        session.commit()
        assert {first, second} <= set(session.scalars(select(Job.id)).all())
    with _session(app) as session:
        with contextlib.suppress(_ChangedMind), job_service.deferred(session):
            dropped = enqueue(session, "test.record_run", {}, dedupe_key="dropped")
            raise _ChangedMind
        session.commit()
        assert session.get(Job, dropped) is None
        assert session.scalar(select(Job.id).where(Job.dedupe_key == "dropped")) is None
        # blocks do not nest: each caller writes what it holds, so an inner block's jobs would be written twice
        with job_service.deferred(session), pytest.raises(RuntimeError), job_service.deferred(session):
            pass


def test_transient_failure_is_retried_after_backoff(app: Flask) -> None:
    job_id = _enqueue(app, "test.flaky")
    drain(app)
    with _session(app) as session:
        view = get_job(session, job_id)
        assert (view.status, view.error_code) == ("queued", "ConnectionError")
        run_after = session.get(Job, job_id).run_after  # type: ignore[union-attr]
        assert run_after > utcnow()  # backoff: not due yet
    assert drain(app) == 0
    _make_due(app, job_id)
    drain(app)
    with _session(app) as session:
        view = get_job(session, job_id)
    assert (view.status, view.attempts, view.result) == ("succeeded", 2, {"attempt": 2})


def test_a_job_fails_for_good_after_max_attempts(app: Flask) -> None:
    job_id = _enqueue(app, "test.always_fails")
    drain(app)
    _make_due(app, job_id)
    drain(app)
    with _session(app) as session:
        view = get_job(session, job_id)
    assert (view.status, view.attempts, view.error_code) == ("failed", 2, "RuntimeError")


def test_unknown_kind_fails_without_retry(app: Flask) -> None:
    job_id = _enqueue(app, "test.no_such_kind")
    drain(app)
    with _session(app) as session:
        assert get_job(session, job_id).error_code == "unknown_job_kind"


def test_backoff_grows_exponentially_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    delays = [job_service.backoff_seconds(n, rng) for n in range(1, 12)]
    assert delays[0] < delays[1] < delays[2] < delays[3]
    assert max(delays) <= job_service.BACKOFF_MAX_SECONDS * 1.1


def test_cancelling_a_queued_job(app: Flask) -> None:
    job_id = _enqueue(app, "test.record_run")
    with _session(app) as session:
        assert request_cancel(session, job_id).status == "cancelled"
        session.commit()
    assert drain(app) == 0


def test_cancelling_a_running_job(app: Flask) -> None:
    job_id = _enqueue(app, "test.cancellable")
    worker = threading.Thread(target=drain, args=(app,))
    worker.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with _session(app) as session:
            if get_job(session, job_id).status == "running":
                request_cancel(session, job_id)
                session.commit()
                break
        time.sleep(0.01)
    worker.join(timeout=10)
    with _session(app) as session:
        assert get_job(session, job_id).status == "cancelled"


def test_expired_lease_is_claimed_again_and_a_late_finish_is_ignored(app: Flask) -> None:
    job_id = _enqueue(app, "test.record_run")
    with _session(app) as session:
        stale = job_service.claim_next(session, worker_id="dead-worker")
    assert stale is not None
    assert stale.job_id == job_id
    with _session(app) as session:  # the dead worker's lease runs out
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    with _session(app) as session:
        fresh = job_service.claim_next(session, worker_id="live-worker")
    assert fresh is not None
    assert fresh.attempt == 2
    with _session(app) as session:
        assert job_service.finish(session, stale, result={"from": "dead"}) is False
        assert job_service.finish(session, fresh, result={"from": "live"}) is True
        assert get_job(session, job_id).result == {"from": "live"}


@pytest.mark.postgres_only
@pytest.mark.slow
def test_four_workers_claim_200_jobs_each_runs_exactly_once(app: Flask, runs_table: sa.Table) -> None:
    with _session(app) as session:
        for _ in range(200):
            enqueue(session, "test.record_run", {})
        session.commit()
    stop = threading.Event()
    workers = [Worker(app, worker_id=f"w{i}") for i in range(4)]
    counts: list[int] = [0] * 4

    def work(index: int) -> None:
        while True:
            if not workers[index].run_once():
                break
            counts[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    with _session(app) as session:
        runs = session.execute(select(sa.func.count()).select_from(runs_table)).scalar()
        statuses = job_service.queue_depth(session)
    assert runs == 200
    assert sum(counts) == 200
    assert statuses == {"succeeded": 200}
    assert sum(1 for c in counts if c > 0) >= 2  # the work was actually shared


WORKER_SCRIPT = textwrap.dedent(
    """
    import sys, time, threading
    from governance import create_app
    from governance.jobs import register
    from governance.jobs.worker import Worker

    @register("test.slow_then_record", lease_seconds=2)
    def slow(ctx):
        import sqlalchemy as sa
        marker = ctx.payload["marker"]
        if ctx.attempt == 1:
            open(marker, "w").write("started")
            time.sleep(600)  # killed here (long, so a slow kill under load cannot let it finish)
        with ctx.session() as session:
            session.execute(sa.text("INSERT INTO test_job_runs (job_id, worker) VALUES (:j, :w)"),
                            {"j": str(ctx.job_id), "w": "attempt-%d" % ctx.attempt})
            session.commit()
        return {"attempt": ctx.attempt}

    app = create_app({"ENV": "test", "DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2],
                      "LOG_LEVEL": "ERROR"})
    Worker(app, worker_id=sys.argv[3]).run(threading.Event(), poll_seconds=0.1)
    """
)


@contextlib.contextmanager
def _reaped(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """The process, killed and waited for on the way out whatever happened (no zombie, no ResourceWarning)."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes], failure: str) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        assert process.poll() is None, f"{failure}: the worker exited with {process.returncode}"
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)


def _job_status(app: Flask, job_id: uuid.UUID) -> str:
    with _session(app) as session:
        return get_job(session, job_id).status


@pytest.mark.slow
def test_a_killed_worker_s_job_is_claimed_again_after_the_lease_and_completes_once(
    app: Flask, runs_table: sa.Table, database_url: str, instance_dir: Path, tmp_path: Path
) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    marker = tmp_path / "started"
    job_id = _enqueue(app, "test.slow_then_record", {"marker": str(marker)}, max_attempts=3)
    cwd = Path(__file__).resolve().parents[2]
    command = [sys.executable, str(script), database_url, str(instance_dir)]
    # Deadlines are generous and each wait ends as soon as its condition holds: on a busy 2-core CI machine
    # (load average 10+) starting a worker process alone can take well over 30 s.
    with _reaped(subprocess.Popen([*command, "first"], cwd=cwd)) as first:
        _wait_until(marker.exists, first, "the first worker never started the job")
        first.kill()  # SIGKILL mid-job: no cleanup, the lease is left to run out
        first.wait()
    with _reaped(subprocess.Popen([*command, "second"], cwd=cwd)) as second:
        _wait_until(lambda: _job_status(app, job_id) == "succeeded", second, "the second worker never finished it")
    with _session(app) as session:
        view = get_job(session, job_id)
        rows = session.execute(select(runs_table.c.worker)).scalars().all()
    assert (view.status, view.attempts) == ("succeeded", 2)
    assert rows == ["attempt-2"]


def test_a_worker_started_minutes_after_boot_schedules_the_periodic_jobs_at_once(app: Flask) -> None:
    """Linux counts monotonic time from boot: a worker on a machine up for 2 seconds must not take its first
    scheduling round for one it already did."""
    from governance.jobs.registry import periodic_specs

    kinds = {spec.kind for spec in periodic_specs()}
    assert kinds  # the app registers its periodic jobs (audit.seal, consent expiry...)
    Worker(app, clock=lambda: 2.0).schedule_periodic()
    with app.extensions["governance.db"].session() as session:
        scheduled = set(session.scalars(select(Job.kind).where(Job.created_by == "system:scheduler")))
    assert scheduled == kinds
