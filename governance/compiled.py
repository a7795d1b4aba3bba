"""A Core statement on a hot path, compiled once per dialect and executed as driver SQL (issue 16).

`session.execute(statement)` finds a cached compilation but still builds, per call, an execution context that
processes every bound value through the compiled statement's generic machinery and a result with its own
metadata: for the consent write's state lock and idempotency insert that overhead was 17 and about 20 us per
call (micro-benchmarks in docs/performance.md, session 14). `CompiledStatement` keeps the driver SQL, the bind
order and each value's type processing per dialect, and applies the declared result types itself, so a row
comes back as it would through `session.execute` (UUIDs, aware datetimes, booleans). It runs on the session's
connection, in its transaction; driver errors surface as SQLAlchemy's DBAPIError subclasses, as through
`session.execute`. Only for statements with plain bind names and no expanding (IN-list) parameters: anything
else is refused at compile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _ForDialect:
    sql: str
    names: tuple[str, ...]  # bind names, in position order for a positional paramstyle
    positional: bool
    defaults: dict[str, Any]  # values the statement binds itself (literals)
    binds: tuple[_Processor, ...]  # per name in `names`
    results: tuple[_Processor, ...]  # per returned column


class CompiledStatement:
    """`statement` with its result columns' types (in RETURNING or SELECT order; empty for a plain DML). For an
    INSERT without `.values()`, `column_keys` names the columns every call gives (as `session.execute` would
    compile it for those parameters; a column left out would get no client-side default here)."""

    def __init__(
        self,
        statement: sa.ClauseElement,
        result_types: Sequence[sa.types.TypeEngine[Any]] = (),
        *,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        self._statement = statement
        self._result_types = tuple(result_types)
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._by_dialect: dict[str, _ForDialect] = {}

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute with `params` (by bind name) and return every row, each value type-processed. Pending ORM
        changes are flushed first (as an ORM-enabled `session.execute` would), so the statement sees them."""
        if session.autoflush:
            session.flush()  # returns at once when nothing is pending
        connection = session.connection()
        found = self._for(connection.dialect)
        merged = {**found.defaults, **params}
        values = [
            merged[name] if process is None else process(merged[name])
            for name, process in zip(found.names, found.binds, strict=True)
        ]
        driver_params: Any = tuple(values) if found.positional else dict(zip(found.names, values, strict=True))
        fetched = run_driver_sql(connection, found.sql, driver_params, fetch=bool(self._result_types))
        processors = found.results
        return [
            tuple(value if process is None else process(value) for value, process in zip(row, processors, strict=True))
            for row in fetched
        ]

    def execute(self, session: Session, params: Mapping[str, Any]) -> None:
        self.rows(session, params)

    def _for(self, dialect: sa.Dialect) -> _ForDialect:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: sa.Dialect) -> _ForDialect:
        compiled: Any = self._statement.compile(dialect=dialect, column_keys=self._column_keys)
        if compiled.escaped_bind_names or getattr(compiled, "post_compile_params", None):
            raise ValueError("a CompiledStatement takes plain bind names and no expanding parameters")
        positional = bool(compiled.positional)
        # the names the SQL uses (compiled.binds also holds anonymous parameters under their unrendered keys)
        rendered = tuple(dict.fromkeys(compiled.bind_names.values()))
        names = tuple(compiled.positiontup) if positional else rendered
        defaults = {
            name: compiled.binds[name].effective_value for name in rendered if not compiled.binds[name].required
        }
        binds = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
        results = tuple(kind.dialect_impl(dialect).result_processor(dialect, None) for kind in self._result_types)
        return _ForDialect(compiled.string, names, positional, defaults, binds, results)


def run_driver_sql(
    connection: sa.Connection, sql: str, params: Any, *, many: bool = False, fetch: bool = False
) -> list[tuple[Any, ...]]:
    """Run driver SQL on `connection` (in its transaction) with driver-ready `params` (a list of them when
    `many`), returning the rows when `fetch`. On a DBAPI cursor of the connection's own: `exec_driver_sql`
    built, per call, an execution context and a result whose metadata it derived from the cursor description:
    in a profile of 2,000 consent writes 0.32 s of the state lock against 0.09 s in the driver (docs/performance.md,
    session 16). What SQLAlchemy's path
    gives that matters is kept: a driver error goes through the connection's own handling (wrapped as
    SQLAlchemy's DBAPIError subclass, handle_error hooks, a disconnect invalidating the pool). And while any
    cursor-execute listener is registered (statement counting, tracing), the statement takes SQLAlchemy's path,
    so those listeners see every statement."""
    if connection.dispatch.before_cursor_execute or connection.dispatch.after_cursor_execute:
        result = connection.exec_driver_sql(sql, params)
        if not fetch:
            result.close()
            return []
        return [tuple(row) for row in result.fetchall()]
    cursor = connection.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()] if fetch else []
    except connection.dialect.loaded_dbapi.Error as exc:
        # SQLAlchemy's own error path for a statement without an execution context (as for BEGIN's failure)
        connection._handle_dbapi_exception(exc, sql, params, cursor, None)
    finally:
        cursor.close()
