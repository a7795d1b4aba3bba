"""Rows for several tables written in ONE statement (issue 16: a consent write's events, state rows, audit entries
and outbox messages are one round trip instead of four).

A domain declares each table it batches once, at import, as a `Target` (the columns a row gives, and for an
upsert the conflict columns and the columns the new row overwrites). `execute(session, parts)` then writes
every part's rows, in the caller's transaction, in one statement:

- PostgreSQL: data-modifying CTEs, ``WITH w0 AS (INSERT …), w1 AS (INSERT … ON CONFLICT … DO UPDATE …)
  INSERT …``, built and compiled once per shape (the targets and their row counts) and cached as driver SQL.
  Each part's rows keep their order (provisional audit ids, outbox `seq`); the parts share one snapshot, so no
  part may depend on another's rows (none of ours does: they reference rows that existed before the statement).
- SQLite (no data-modifying CTEs): one executemany into a TEMP view whose INSTEAD OF triggers, one per target,
  route each row to its table. The view and triggers are created on every new connection from the targets
  declared so far: they are code, not schema (nothing to migrate, nothing to drift from the models). The
  values are bound with each column's own SQLAlchemy type processing, as a direct INSERT would bind them.
  Rows are written in the order given, parts after parts.

Only columns a row gives are written; the others take their server-side value (an autoincrement id), so a
target lists every column with a client-side default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from governance.compiled import run_driver_sql

_VIEW = "governance_batch_rows"
_WIDTH = 24  # value columns of the SQLite view: the widest target's row
_INFO_KEY = "governance.write_batch"  # per DBAPI connection: the targets whose triggers exist
_CACHE_LIMIT = 128


@dataclass(frozen=True, eq=False)
class Target:
    """One table's rows in a batch: plain INSERTs, or an upsert when `conflict` names the unique columns."""

    name: str
    table: sa.Table
    columns: tuple[str, ...]
    conflict: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    _processors: dict[str, list[Callable[[Any], Any] | None]] = field(default_factory=dict, repr=False)

    def processors(self, dialect: sa.Dialect) -> list[Callable[[Any], Any] | None]:
        """Each column's bind processing for `dialect` (UUID as hex, UTC datetimes as text, JSON, booleans…)."""
        found = self._processors.get(dialect.name)
        if found is None:
            found = [self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.columns]
            self._processors[dialect.name] = found
        return found


@dataclass(frozen=True, slots=True)
class Part:
    """Rows for one target; each row maps every column of the target."""

    target: Target
    rows: Sequence[Mapping[str, Any]]


_TARGETS: dict[str, Target] = {}


def target(
    name: str, table: sa.Table, columns: Sequence[str], *, conflict: Sequence[str] = (), update: Sequence[str] = ()
) -> Target:
    """Declare a batched table (at import time, before the engine connects). Names are unique."""
    if not name.isidentifier():
        raise ValueError("target names are identifiers")
    if len(columns) > _WIDTH:
        raise ValueError(f"a target writes at most {_WIDTH} columns")
    unknown = (set(columns) | set(conflict) | set(update)) - set(table.c.keys())
    if unknown:
        raise ValueError(f"unknown columns of {table.name}: {sorted(unknown)}")
    if name in _TARGETS:
        raise ValueError(f"target {name} declared twice")
    made = Target(name, table, tuple(columns), tuple(conflict), tuple(update))
    _TARGETS[name] = made
    return made


def execute(session: Session, parts: Sequence[Part]) -> None:
    """Write every part's rows in one statement in the session's transaction (nothing for empty parts)."""
    parts = [part for part in parts if part.rows]
    if not parts:
        return
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        _execute_ctes(session, parts)
    elif dialect.name == "sqlite":
        _execute_routed(session, parts, dialect)
    else:  # any other backend: correct, one statement per part
        for part in parts:
            session.execute(_single_insert(part.target, dialect.name), list(part.rows))


# -- PostgreSQL ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CompiledCtes:
    """One shape's statement compiled once: SQLAlchemy never caches a multi-row VALUES insert's compilation
    (such statements have no cache key), so executing the construct recompiled it on every write (in the
    PostgreSQL profile, 3.6 of 10 s). The driver SQL is kept and executed with each column's bind processing."""

    sql: str
    order: tuple[str, ...] | None  # bind names in position order, for a positional paramstyle


_CTE_CACHE: dict[tuple[str, tuple[tuple[str, int], ...]], _CompiledCtes] = {}


def _execute_ctes(session: Session, parts: list[Part]) -> None:
    connection = session.connection()
    dialect = connection.dialect
    compiled = _compiled_ctes(parts, dialect)
    params: dict[str, Any] = {}
    for i, part in enumerate(parts):
        columns = part.target.columns
        processors = part.target.processors(dialect)
        for r, row in enumerate(part.rows):
            for name, process in zip(columns, processors, strict=True):
                value = row[name]
                params[f"p{i}_{r}_{name}"] = value if process is None else process(value)
    if compiled.order is None:
        run_driver_sql(connection, compiled.sql, params)
    else:
        run_driver_sql(connection, compiled.sql, tuple(params[name] for name in compiled.order))


def _compiled_ctes(parts: list[Part], dialect: sa.Dialect) -> _CompiledCtes:
    key = (dialect.name, tuple((part.target.name, len(part.rows)) for part in parts))
    found = _CTE_CACHE.get(key)
    if found is None:
        if len(_CTE_CACHE) >= _CACHE_LIMIT:  # shapes are few (purposes per request); never grow unbounded
            _CTE_CACHE.clear()
        compiled = _ctes_statement(parts).compile(dialect=dialect)
        if compiled.escaped_bind_names:  # our names are identifiers; anything else would need SQLAlchemy's mapping
            raise ValueError("write_batch bind names need escaping")
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        found = _CTE_CACHE[key] = _CompiledCtes(compiled.string, order)
    return found


def _ctes_statement(parts: list[Part]) -> Any:
    inserts = []
    for i, part in enumerate(parts):
        t = part.target
        values = [
            {name: sa.bindparam(f"p{i}_{r}_{name}", type_=t.table.c[name].type) for name in t.columns}
            for r in range(len(part.rows))
        ]
        insert = postgresql.insert(t.table).values(values)
        if t.conflict:
            insert = insert.on_conflict_do_update(
                index_elements=[t.table.c[name] for name in t.conflict],
                set_={name: insert.excluded[name] for name in t.update},
            )
        inserts.append(insert)
    *ctes, main = inserts
    return main.add_cte(*(insert.cte(f"w{i}") for i, insert in enumerate(ctes))) if ctes else main


def _single_insert(t: Target, dialect: str) -> Any:
    insert: Any = sa.insert(t.table)
    if t.conflict and dialect == "postgresql":
        insert = postgresql.insert(t.table)
        insert = insert.on_conflict_do_update(
            index_elements=[t.table.c[n] for n in t.conflict], set_={n: insert.excluded[n] for n in t.update}
        )
    return insert


# -- SQLite --------------------------------------------------------------------------------------------------

_ROUTED_INSERT = f"INSERT INTO {_VIEW} VALUES ({', '.join(['?'] * (_WIDTH + 1))})"  # noqa: S608 - fixed names  # nosec B608


def _execute_routed(session: Session, parts: list[Part], dialect: sa.Dialect) -> None:
    connection = session.connection()
    ready: frozenset[str] = connection.connection.info.get(_INFO_KEY, frozenset())
    missing = [part.target for part in parts if part.target.name not in ready]
    if missing:  # a target declared after this connection was made: create it here (kept if this commits)
        for statement in _routing_ddl(missing, dialect):
            connection.exec_driver_sql(statement)
    rows: list[tuple[Any, ...]] = []
    pad = (None,) * _WIDTH
    for part in parts:
        columns = part.target.columns
        processors = part.target.processors(dialect)
        name = part.target.name
        for row in part.rows:
            values = [
                value if process is None else process(value)
                for value, process in zip((row[c] for c in columns), processors, strict=True)
            ]
            rows.append((name, *values, *pad[len(values) :]))
    run_driver_sql(connection, _ROUTED_INSERT, rows, many=True)


def _routing_ddl(targets: Sequence[Target], dialect: sa.Dialect) -> list[str]:
    """The TEMP view (all columns untyped: each value keeps what its column's type processing made of it) and
    one INSTEAD OF trigger per target. IF NOT EXISTS: safe to run again on a connection that has them."""
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(f"NULL AS c{i}" for i in range(_WIDTH))
    statements = [f"CREATE TEMP VIEW IF NOT EXISTS {_VIEW} AS SELECT NULL AS target, {columns}"]
    for t in targets:
        names = ", ".join(quote(name) for name in t.columns)
        values = ", ".join(f"NEW.c{i}" for i in range(len(t.columns)))
        upsert = ""
        if t.conflict:
            conflict = ", ".join(quote(name) for name in t.conflict)
            sets = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in t.update)
            upsert = f" ON CONFLICT ({conflict}) DO UPDATE SET {sets}"  # nosec B608 - the models' names
        statements.append(
            f"CREATE TEMP TRIGGER IF NOT EXISTS {_VIEW}_{t.name} INSTEAD OF INSERT ON {_VIEW}"
            f" WHEN NEW.target = '{t.name}' BEGIN"
            f" INSERT INTO {quote(t.table.name)} ({names}) SELECT {values} WHERE true{upsert}; END"
        )
    return statements


def install_sqlite(engine: sa.Engine) -> None:
    """Create the routing view and triggers on each new SQLite connection of the app's `engine` (outside any
    transaction, so they last as long as the connection; the engine's own listener, registered first, puts the
    connection in autocommit mode). Not for migration engines: the schema they change is not there yet."""

    @sa.event.listens_for(engine, "connect")
    def _create_routes(dbapi_conn: Any, record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            # only tables that exist: a trigger naming a missing table breaks every later schema change (a
            # target whose table appears later is routed on first use, `_execute_routed`)
            tables = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            targets = [t for t in _TARGETS.values() if t.table.name in tables]
            for statement in _routing_ddl(targets, engine.dialect):
                cursor.execute(statement)
        finally:
            cursor.close()
        record.info[_INFO_KEY] = frozenset(t.name for t in targets)
