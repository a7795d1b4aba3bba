"""Counting the SQL statements of a benchmark's requests, BEGIN and COMMIT included (issue 16's statement
budgets), with SQLAlchemy event listeners on the real engine."""

from __future__ import annotations


class StatementCounter:
    """Every statement the engine sends, plus BEGIN and COMMIT (which SQLite's and psycopg's drivers issue
    without a cursor execute; SQLite's BEGIN IMMEDIATE, sent as a statement, is counted once, as the BEGIN).
    tests/consent/test_write_statements.py counts the same way."""

    def __init__(self, engine: object) -> None:
        import sqlalchemy as sa

        self.statements: list[str] = []
        self._engine = engine
        self._hooks = {
            "before_cursor_execute": self._execute,
            "begin": lambda conn: self.statements.append("BEGIN"),
            "commit": lambda conn: self.statements.append("COMMIT"),
            "rollback": lambda conn: self.statements.append("ROLLBACK"),
        }
        for name, hook in self._hooks.items():
            sa.event.listen(engine, name, hook)

    def _execute(self, conn, cursor, statement, params, context, executemany) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is the "begin" already counted
            self.statements.append(statement)

    def remove(self) -> None:
        import sqlalchemy as sa

        for name, hook in self._hooks.items():
            sa.event.remove(self._engine, name, hook)

    def kinds(self) -> dict[str, int]:
        """Statements by their first word (BEGIN, INSERT, SELECT, WITH, COMMIT...)."""
        found: dict[str, int] = {}
        for statement in self.statements:
            word = statement.split(None, 1)[0].upper()
            found[word] = found.get(word, 0) + 1
        return found
