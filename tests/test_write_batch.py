"""`governance.write_batch`: several tables' rows in one statement store exactly what the tables' own INSERTs
store (same bound values, same order of generated ids), upsert parts update, and a target declared after a
connection was made still works on it. On both databases (the real migrated schema)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from governance import audit, jobs, write_batch
from governance.access.principals import ActorRef
from governance.outbox import service as outbox

MOMENT = dt.datetime(2026, 12, 2, 10, 30, 15, 123456, tzinfo=dt.UTC)
ACTOR = ActorRef("system", "tests.batch")


def _raw(session: Session, sql: str) -> list[tuple]:
    """Rows as the database stores them (no SQLAlchemy result processing)."""
    return [tuple(row) for row in session.connection().exec_driver_sql(sql)]


def test_rows_written_in_one_statement_are_stored_as_the_tables_own_inserts_store_them(
    app: Flask, session: Session
) -> None:
    subject = uuid.uuid4()
    events = [outbox.OutboxEvent("consent.granted", subject, {"purposes": ["a", "b"], "n": 1})]
    entries = [audit.Entry(actor=ACTOR, action="tests.batch.written", target=("subject", subject), details={"k": i})
               for i in range(3)]  # fmt: skip
    # the tables' own calls
    direct_ids = outbox.write(session, events, now=MOMENT)
    audit.record_many(session, entries)
    session.commit()
    # the same rows through one statement
    part = outbox.batch_part(events, now=MOMENT)
    statements: list[str] = []
    engine = app.extensions["governance.db"].engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        write_batch.execute(session, [audit.batch_part(entries), part, write_batch.Part(part.target, [])])
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    session.commit()
    assert [s for s in statements if not s.startswith("BEGIN")] == [statements[-1]]  # one statement
    outbox_rows = _raw(session, "SELECT event, subject_id, data, created_at, id FROM outbox_messages ORDER BY seq")
    assert len(outbox_rows) == 2
    direct, batched = outbox_rows
    assert direct[:4] == batched[:4]  # byte for byte: UUID, JSON and UTC time bound the same way
    assert (direct[4], batched[4]) == (_stored_uuid(session, direct_ids[0]), _stored_uuid(session, part.rows[0]["id"]))
    audit_rows = _raw(
        session,
        "SELECT id, actor_kind, actor_id, action, target_kind, target_id, policy_version, details"
        " FROM audit_entries ORDER BY id",
    )
    assert len(audit_rows) == 6
    assert [r[1:] for r in audit_rows[:3]] == [r[1:] for r in audit_rows[3:]]
    ids = [r[0] for r in audit_rows]
    assert ids == sorted(ids)  # provisional ids in list order, after the earlier ones
    assert len(set(ids)) == 6


def test_jobs_held_and_written_in_one_statement_are_stored_as_enqueue_and_a_flush_store_them(
    session: Session,
) -> None:
    """A filing holds its job (`jobs.deferred`) and writes it with its audit entries in one
    statement: the row must be the one `enqueue` and the ORM's flush would have stored, column for column."""
    job_args: dict[str, Any] = {"run_after": MOMENT, "created_by": "subject:tests"}
    direct = jobs.enqueue(session, "requests.export", {"request_id": "r", "n": [1, 2]}, **job_args)
    session.commit()
    with jobs.deferred(session) as held:
        batched = jobs.enqueue(session, "requests.export", {"request_id": "r", "n": [1, 2]}, **job_args)
    assert not session.new  # held for the caller, not added to the session
    write_batch.execute(session, [jobs.batch_part(held)])
    session.commit()
    stored = _raw(session, "SELECT * FROM jobs ORDER BY created_at, id")
    names = [c[0] for c in session.connection().exec_driver_sql("SELECT * FROM jobs").cursor.description]
    assert len(stored) == 2
    by_id = {row[names.index("id")]: dict(zip(names, row, strict=True)) for row in stored}
    first, second = by_id[_stored_uuid(session, direct)], by_id[_stored_uuid(session, batched)]
    generated = {"id", "created_at", "updated_at"}
    assert {k: v for k, v in first.items() if k not in generated} == {
        k: v for k, v in second.items() if k not in generated
    }
    assert second["created_at"] == second["updated_at"]
    assert type(second["created_at"]) is type(first["created_at"])
    assert second["created_at"] >= first["created_at"]  # the same form of stored UTC time, written later


def _stored_uuid(session: Session, value: uuid.UUID) -> object:
    return value if session.get_bind().dialect.name == "postgresql" else value.hex


def test_an_upsert_part_updates_and_a_late_target_works_on_an_existing_connection(make_app: Any) -> None:
    # its own app and engine: a pooled connection an earlier test left inside a read transaction (SQLite WAL keeps
    # that snapshot's schema) must not decide whether the probe table is visible
    app = make_app()
    session = app.extensions["governance.db"].session()
    metadata = sa.MetaData()
    table = sa.Table(
        f"batch_probe_{uuid.uuid4().hex[:8]}",
        metadata,
        sa.Column("k", sa.String(8), primary_key=True),
        sa.Column("v", sa.Integer, nullable=False),
    )
    engine = app.extensions["governance.db"].engine
    metadata.create_all(engine)
    try:
        session.connection()  # this connection exists before the target does
        probe = write_batch.target(table.name, table, ("k", "v"), conflict=("k",), update=("v",))
        write_batch.execute(session, [write_batch.Part(probe, [{"k": "a", "v": 1}, {"k": "b", "v": 2}])])
        session.commit()
        write_batch.execute(session, [write_batch.Part(probe, [{"k": "a", "v": 10}])])
        session.commit()
        assert sorted(_raw(session, f"SELECT k, v FROM {table.name}")) == [("a", 10), ("b", 2)]
    finally:
        write_batch._TARGETS.pop(table.name, None)
        session.close()
        # SQLite: the connections that made the probe's routing trigger keep it; a trigger naming a dropped table
        # would fail every later batch on them, so they go (new ones route only the declared targets)
        engine.dispose()
        metadata.drop_all(engine)
        engine.dispose()
