"""`governance.compiled.CompiledStatement`: driver SQL compiled once stores and returns exactly what
`session.execute` of the same statement stores and returns (bound values byte for byte, result values typed),
sees pending ORM changes, raises SQLAlchemy's errors, and refuses what it cannot run. On both databases.
And SQLite's BEGIN, sent straight to the driver, still fails as SQLAlchemy's OperationalError when locked."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from governance.compiled import CompiledStatement
from governance.consent.models import ConsentIdempotencyKey
from governance.core.principals import Principal

KEYS = ConsentIdempotencyKey.__table__
COLUMNS = ("actor", "key", "request_sha256", "subject_id", "response", "created_at")
MOMENT = dt.datetime(2026, 12, 4, 18, 1, 2, 345678, tzinfo=dt.UTC)


def _values(key: str) -> dict:
    response = {"decisions": [{"purpose": "p", "n": 1}], "nested": {"x": None}}
    return {"actor": "client:tests", "key": key, "request_sha256": "ab" * 32, "subject_id": uuid.uuid4(),
            "response": response, "created_at": MOMENT}  # fmt: skip


def _raw(session: Session, key: str) -> tuple:
    sql = "SELECT actor, key, request_sha256, subject_id, response, created_at FROM consent_idempotency_keys"
    rows = session.connection().exec_driver_sql(f"{sql} WHERE key = '{key}'").all()
    assert len(rows) == 1
    return tuple(rows[0])


def test_an_insert_stores_what_session_execute_stores(session: Session) -> None:
    direct = _values("direct")
    compiled = {**_values("compiled"), "subject_id": direct["subject_id"]}
    session.execute(sa.insert(KEYS), direct)
    CompiledStatement(sa.insert(KEYS), column_keys=COLUMNS).execute(session, compiled)
    session.commit()
    stored_direct, stored_compiled = _raw(session, "direct"), _raw(session, "compiled")
    assert stored_direct[0] == stored_compiled[0]
    assert stored_direct[2:] == stored_compiled[2:]  # all but the key itself


def test_rows_come_back_typed_as_session_execute_returns_them(session: Session) -> None:
    values = _values("typed")
    session.execute(sa.insert(KEYS), values)
    query = sa.select(KEYS.c.subject_id, KEYS.c.response, KEYS.c.created_at, sa.literal(True)).where(
        KEYS.c.key == sa.bindparam("k"), KEYS.c.actor == "client:tests"
    )
    expected = [tuple(row) for row in session.execute(query, {"k": "typed"})]
    got = CompiledStatement(query, [KEYS.c.subject_id.type, KEYS.c.response.type, KEYS.c.created_at.type,
                                    sa.Boolean()]).rows(session, {"k": "typed"})  # fmt: skip
    assert got == expected == [(values["subject_id"], values["response"], MOMENT, True)]
    assert isinstance(got[0][0], uuid.UUID)
    assert got[0][2].tzinfo is not None


def test_pending_orm_changes_are_flushed_first(session: Session) -> None:
    session.add(ConsentIdempotencyKey(**_values("pending")))
    query = sa.select(sa.func.count()).select_from(KEYS).where(KEYS.c.key == sa.bindparam("k"))
    assert CompiledStatement(query, [sa.Integer()]).rows(session, {"k": "pending"}) == [(1,)]


def test_a_duplicate_raises_integrity_error_and_the_transaction_rolls_back(session: Session) -> None:
    insert = CompiledStatement(sa.insert(KEYS), column_keys=COLUMNS)
    insert.execute(session, _values("twice"))
    with pytest.raises(sa.exc.IntegrityError):
        insert.execute(session, _values("twice"))
    session.rollback()
    assert session.execute(sa.select(sa.func.count()).select_from(KEYS)).scalar_one() == 0


def test_expanding_parameters_are_refused(session: Session) -> None:
    query = sa.select(KEYS.c.key).where(KEYS.c.key.in_(sa.bindparam("keys", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        CompiledStatement(query, [sa.String()]).rows(session, {"keys": ["a"]})


def test_a_locked_sqlite_begin_is_sqlalchemys_operational_error(app: Flask, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE")
    engine = app.extensions["governance.db"].engine
    with engine.connect() as holder, engine.connect() as waiter:
        holder.begin()  # BEGIN IMMEDIATE: the write lock
        waiter.connection.driver_connection.execute("PRAGMA busy_timeout = 0")  # fail at once, not in 30 s
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            waiter.begin()
        waiter.connection.driver_connection.execute("PRAGMA busy_timeout = 30000")
        holder.rollback()


def test_cursor_execute_listeners_see_every_compiled_and_batched_statement(app: Flask, session: Session) -> None:
    """The driver path skips SQLAlchemy's execution machinery only while nobody listens to cursor executes:
    with a listener (statement counting, tracing) each statement goes through it."""
    from governance import write_batch
    from governance.audit.service import writing

    engine = app.extensions["governance.db"].engine
    seen: list[str] = []

    def listener(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        CompiledStatement(sa.insert(KEYS), column_keys=COLUMNS).execute(session, _values("heard"))
        entry = writing.Entry(actor=Principal.system("tests"), action="tests.statement.heard", target=None)
        write_batch.execute(session, [writing.batch_part([entry])])
        session.commit()
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert len([word for word in seen if word in ("INSERT", "WITH")]) == 2
    count = session.execute(sa.select(sa.func.count()).select_from(KEYS).where(KEYS.c.key == "heard"))
    assert count.scalar_one() == 1


def test_a_connection_killed_under_the_driver_path_is_invalidated(app: Flask, backend: str) -> None:
    """A disconnect on the driver path is handled as SQLAlchemy handles it: OperationalError saying the
    connection was invalidated, and the pool gives a working connection afterwards."""
    if backend != "postgresql":
        pytest.skip("terminating a server backend")
    db = app.extensions["governance.db"]
    query = CompiledStatement(sa.select(sa.literal(1) + sa.bindparam("n", type_=sa.Integer())), [sa.Integer()])
    with app.app_context():
        victim = db.session()
        pid = victim.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with db.engine.connect() as killer:
            killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.OperationalError) as raised:
            query.rows(victim, {"n": 1})
        assert raised.value.connection_invalidated
        victim.rollback()
        assert query.rows(victim, {"n": 41}) == [(42,)]
        victim.close()
