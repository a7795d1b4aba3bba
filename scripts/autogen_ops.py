"""Print the Alembic operations that would bring the migrations (at head) in line with the models.

Use it while writing a migration: `python scripts/autogen_ops.py` and paste the relevant ops into your
revision file (migrations/versions/NNNN_<domain>.py). Works on a throw-away SQLite database, or on
PostgreSQL with `--postgres` (a fresh database that is dropped afterwards).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from governance.db import Base, make_engine
from governance.migrations_support import upgrade
from governance.models_registry import import_all_models


def main() -> None:
    postgres = "--postgres" in sys.argv
    if postgres:
        from tests.conftest import create_postgres_database, drop_postgres_database

        url = create_postgres_database("postgresql+psycopg://postgres@127.0.0.1:5432/test", prefix="gov_autogen")
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/autogen.sqlite3"
    try:
        upgrade(url)
        import_all_models()
        engine = make_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": False})
            script = produce_migrations(context, Base.metadata)
            print(render_python_code(script.upgrade_ops, render_as_batch=False))
            print("# --- downgrade ---")
            print(render_python_code(script.downgrade_ops, render_as_batch=False))
        engine.dispose()
    finally:
        if postgres:
            drop_postgres_database(url)


if __name__ == "__main__":
    main()
