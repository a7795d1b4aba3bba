"""SQL helpers the vault's services share: how many ids go in one IN (...) list, how many rows a statement
touched, and INSERT ... ON CONFLICT DO NOTHING for the backend in use."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def rowcount(result: Any) -> int:
    """Rows a DML statement touched (`Session.execute` is typed as returning a plain `Result`)."""
    return int(cast(sa.CursorResult[Any], result).rowcount)


def _insert_ignore(session: Session, model: type[Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the backend in use."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model.__table__).on_conflict_do_nothing()
    return sqlite.insert(model.__table__).on_conflict_do_nothing()
