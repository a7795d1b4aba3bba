"""Database plumbing: the declarative base, shared column types, the engine and the request-scoped session.

Transactions: services never commit. A route or job handler wraps its calls in `transaction(session)` so that
a state change and its audit entry commit together or not at all.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, cast

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import JSON, MetaData, Table, Uuid, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from governance import jsoncodec, write_batch

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC, PostgreSQL timestamptz)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")

uuid_pk = Annotated[uuid.UUID, mapped_column(Uuid, primary_key=True, default=uuid.uuid4)]
created_at = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow, nullable=False)]


class Base(DeclarativeBase):
    # every model here maps one Table (no mapping to a join or a select): say so, so Core statements built on
    # `Model.__table__` type-check
    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {
        datetime: UTCDateTime,
        uuid.UUID: Uuid,
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


READ_ONLY_OPTION = "governance_read_only"
STATEMENT_AT_A_TIME_OPTION = "governance_statement_at_a_time"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned per backend. SQLite: WAL, foreign keys, and `BEGIN IMMEDIATE` so that concurrent writers
    queue on the busy timeout instead of failing on a read-to-write lock upgrade."""
    kwargs.setdefault("json_serializer", jsoncodec.stored_text)  # JSON columns' text, with orjson
    if url.startswith("sqlite"):
        if "poolclass" not in kwargs and ":memory:" not in url and url != "sqlite://":
            # Writers queue on SQLite's lock, not on the pool: give every thread its connection.
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 40)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        database_file = engine.url.database
        if database_file and database_file != ":memory:" and not database_file.startswith("file:"):

            @event.listens_for(engine, "do_connect")
            def _sqlite_folder(*_args: Any) -> None:
                # the default file lives in the instance folder, which nothing creates before the first write
                Path(database_file).parent.mkdir(parents=True, exist_ok=True)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            # A checkpoint copies every page written since the last one back into the database file; a consent
            # write touches ~30 pages, mostly the same hot index and table pages, so a 10x longer interval (10,000
            # pages, a WAL of up to ~40 MB) copies them a tenth as often: ~4 % of a write's CPU
            # (docs/performance.md, session 19). The write that crosses it pays a longer checkpoint, 10x rarer.
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: sa.Connection) -> None:
            # A read-only connection (`Database.read_only`) begins deferred: in WAL mode it reads a snapshot and
            # never waits on the write lock; everything else queues for the lock up front.
            options = conn.get_execution_options()
            if options.get(STATEMENT_AT_A_TIME_OPTION, False):
                return  # `Database.statement_reads`: each statement is its own transaction (autocommit)
            read_only = options.get(READ_ONLY_OPTION, False)
            # straight to the driver: exec_driver_sql built an execution context and a result for a statement
            # that returns nothing (~11 µs of a 58 µs BEGIN + ROLLBACK; docs/performance.md, session 14)
            begin = "BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE"
            driver: Any = conn.connection.driver_connection  # sqlite3's own connection
            try:
                driver.execute(begin).close()
            except sqlite3.Error as exc:  # wrapped as SQLAlchemy wraps it ("database is locked": OperationalError)
                raise sa.exc.DBAPIError.instance(begin, None, exc, sqlite3.Error) from exc

        return engine
    # No pre-ping: it costs a round trip on every checkout (~18% of a short transaction). Connections are
    # recycled after 5 minutes instead, and a connection that fails with a disconnect error invalidates the
    # whole pool, so after a database restart only the first statement on each stale connection fails.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 300)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return sa.create_engine(url, **kwargs)


class Database:
    """The engine and session factory for one app (stored in `app.extensions["governance.db"]`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        if self.engine.dialect.name == "sqlite":  # the app's engine only (migrations make their own)
            write_batch.install_sqlite(self.engine)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessionmaker()

    @contextmanager
    def read_only_session(self) -> Iterator[Session]:
        """A session over `read_only()`: for scrape-time and probe reads that must not queue behind writers."""
        with self.read_only() as conn, Session(bind=conn) as session:
            yield session

    @contextmanager
    def statement_reads(self) -> Iterator[Session]:
        """A session whose statements each commit on their own, with no BEGIN or COMMIT around them: for a
        request that answers from one or two independent reads (the consent check, issue 16). A transaction
        there cost two extra round trips on PostgreSQL and, on SQLite, took the write lock (BEGIN IMMEDIATE)
        for a read. Each statement sees the data committed before it; there is no snapshot across statements,
        so use it only where that is the meaning wanted. Reads only: nothing here is rolled back."""
        if self.dialect == "sqlite":  # pysqlite is already in autocommit mode: only our BEGIN is left out
            options: dict[str, Any] = {STATEMENT_AT_A_TIME_OPTION: True}
        else:  # psycopg's autocommit is client-side: setting and resetting it costs no round trip
            options = {"isolation_level": "AUTOCOMMIT", STATEMENT_AT_A_TIME_OPTION: True}
        with self.engine.connect().execution_options(**options) as conn, Session(bind=conn) as session:
            yield session

    @contextmanager
    def read_only(self) -> Iterator[sa.Connection]:
        """A connection for reads that must not wait on writers (readiness, metrics): on SQLite its transaction
        is deferred (a WAL snapshot, no write lock); on PostgreSQL it is READ ONLY. Writing through it fails."""
        with self.engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            elif self.dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = ON")
            try:
                yield conn
            finally:
                if self.dialect == "sqlite":
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA query_only = OFF")  # the pooled connection writes again

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def init_app(app: Flask, url: str) -> Database:
    database = Database(url)
    app.extensions["governance.db"] = database

    @app.teardown_request
    def _close_request_session(_exc: BaseException | None) -> None:
        session = request.environ.pop(_REQUEST_SESSION_KEY, None)
        if session is not None:
            session.close()

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return database


# A request keeps its session on the request itself, not on `g`: an app context can outlive a request (tests,
# CLI), and a session left on a shared `g` would leak one request's transaction into the next.
_REQUEST_SESSION_KEY = "governance.db_session"


def get_db() -> Database:
    return current_app.extensions["governance.db"]


def get_session() -> Session:
    """The session of the current request or app context (created on first use, closed at teardown)."""
    if has_request_context():
        session = request.environ.get(_REQUEST_SESSION_KEY)
        if session is None:
            session = request.environ[_REQUEST_SESSION_KEY] = get_db().session()
        return session
    if "db_session" not in g:
        g.db_session = get_db().session()
    return g.db_session


def current_session() -> Session | None:
    """The request's (or app context's) session if one was opened, without opening one."""
    if has_request_context():
        return request.environ.get(_REQUEST_SESSION_KEY)
    return g.get("db_session")


@contextmanager
def transaction(session: Session | None = None) -> Iterator[Session]:
    """Commit everything done inside the block, or roll all of it back on any exception."""
    session = session or get_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


class TimestampMixin:
    created_at: Mapped[created_at]


def rowcount(result: Any) -> int:
    """Rows a DML statement touched (`Session.execute` is typed as returning a plain `Result`; DML gives a
    `CursorResult`, whose count may be None on some drivers)."""
    return int(cast(sa.CursorResult[Any], result).rowcount or 0)


# The INSERT of each supported dialect, for ON CONFLICT (the generic Insert has no on_conflict_*), typed as their
# union: `DIALECT_INSERTS[name](table)` where a statement is compiled once per dialect, `dialect_insert(session)`
# where it is built per call.
DIALECT_INSERTS: dict[str, Callable[[Any], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


def dialect_insert(session: Session) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """The INSERT constructor of the database `session` is bound to."""
    return DIALECT_INSERTS[session.get_bind().dialect.name]
