"""Migrations build the whole schema on SQLite and PostgreSQL, go down to base, and match the models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from governance.db import Base, make_engine
from governance.migrations_support import downgrade, head_revision, upgrade
from governance.models_registry import import_all_models
from tests.conftest import POSTGRES_URL_ENV, create_postgres_database, drop_postgres_database


@pytest.fixture
def empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "postgresql":
        url = create_postgres_database(os.environ[POSTGRES_URL_ENV], prefix="gov_mig")
        yield url
        drop_postgres_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"


def _tables(url: str) -> set[str]:
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_to_head_then_down_to_base_and_up_again(empty_database: str) -> None:
    upgrade(empty_database)
    import_all_models()
    assert _tables(empty_database) == set(Base.metadata.tables)
    downgrade(empty_database, "base")
    assert _tables(empty_database) == set()
    upgrade(empty_database)
    assert _tables(empty_database) == set(Base.metadata.tables)


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    import_all_models()
    engine = make_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert context.get_current_revision() == head_revision()
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    summary = [
        f"{change[0]} {getattr(change[1], 'name', '')}" if isinstance(change, tuple) else str(change) for change in diff
    ]
    assert diff == [], f"models and migrations differ; write a migration for: {summary}"
