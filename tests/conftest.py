"""Test fixtures shared by every domain.

The database comes from `GOVERNANCE_TEST_DATABASE_URL`: unset means a SQLite file in a temporary folder; a
PostgreSQL URL means a fresh database created for this test session (and dropped after it), so parallel runs
never share state. The schema is built by the real Alembic migrations. Each test starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session

# Property tests never fail on wall-clock time: CI runs on a busy 2-core machine, where one example can take longer
# than Hypothesis's default 200 ms deadline (a timed assertion in disguise) or trip its "too slow" health check.
settings.register_profile(
    "governance", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("governance")

pytest_plugins = ["tests.fixtures.access", "tests.e2e.browser"]

POSTGRES_URL_ENV = "GOVERNANCE_TEST_DATABASE_URL"


def _is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def _admin_url(url: str) -> sa.URL:
    return sa.make_url(url).set(database="postgres")


def create_postgres_database(base_url: str, prefix: str = "gov_test") -> str:
    """Create a uniquely named database next to `base_url`'s; returns its URL. Fails loudly if unreachable."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(_admin_url(base_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = sa.make_url(url).database
    engine = sa.create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def pytest_configure(config: pytest.Config) -> None:
    url = os.environ.get(POSTGRES_URL_ENV, "")
    config.stash[_backend_key] = "postgresql" if _is_postgres(url) else "sqlite"


_backend_key = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> str:
    return f"governance test database: {config.stash[_backend_key]}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash[_backend_key] == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (runs in the PostgreSQL half of the suite)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    return pytestconfig.stash[_backend_key]


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[str]:
    """A migrated, empty database for this test session."""
    from governance.migrations_support import upgrade

    if backend == "postgresql":
        url = create_postgres_database(os.environ[POSTGRES_URL_ENV])
        try:
            upgrade(url)
            yield url
        finally:
            drop_postgres_database(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'governance.sqlite3'}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def app_config(database_url: str, instance_dir: Path) -> dict[str, Any]:
    return {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance_dir),
        "LOG_LEVEL": "WARNING",
        "BASE_URL": "http://localhost",
    }


@pytest.fixture(scope="session")
def base_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    from governance import create_app

    app = create_app(app_config)
    yield app
    app.extensions["governance.db"].dispose()


def truncate_all(engine: sa.Engine) -> None:
    """Empty every table the models declare (audit protection triggers are bypassed for the reset only)."""
    from governance.db import Base
    from governance.models_registry import import_all_models

    import_all_models()
    existing = set(sa.inspect(engine).get_table_names())
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name in existing]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                conn.execute(table.delete())
            has_seq = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='sqlite_sequence'"
            ).first()
            if has_seq:
                conn.exec_driver_sql("DELETE FROM sqlite_sequence")


@pytest.fixture
def app(base_app: Flask) -> Iterator[Flask]:
    """The session's app over empty tables (and an empty published audit checkpoint directory: it belongs to
    the log the tables held)."""
    from governance.access.tokens import forget_cached_tokens
    from governance.audit.service import publish_dir_setting
    from governance.consent.processors import PROCESSOR_CACHE_EXTENSION

    truncate_all(base_app.extensions["governance.db"].engine)
    shutil.rmtree(publish_dir_setting(base_app.extensions["governance.settings"]), ignore_errors=True)
    forget_cached_tokens()  # the in-process caches describe rows the truncation removed
    base_app.extensions.pop(PROCESSOR_CACHE_EXTENSION, None)
    return base_app


@pytest.fixture
def make_app(app_config: dict[str, Any]) -> Iterator[Any]:
    """Build an extra app with overridden settings (same database); disposed after the test."""
    from governance import create_app

    made: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        made.append(create_app({**app_config, **overrides}))
        return made[-1]

    yield factory
    for extra in made:
        extra.extensions["governance.db"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session inside an app context; the test commits what it wants to persist."""
    with app.app_context():
        db_session = app.extensions["governance.db"].session()
        try:
            yield db_session
        finally:
            db_session.close()


def _as_dump_text(value: object) -> str:
    # Bytes as their raw characters (latin-1), not repr: a plaintext stored in a blob is still found, while a
    # ciphertext's escapes ("\\xad" then "oe") can't spell a secret and fail a test by chance.
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


def dump_all_rows(engine: sa.Engine) -> str:
    """Every row of every table as text: what a stolen database dump would reveal."""
    inspector = sa.inspect(engine)
    out: list[str] = []
    with engine.connect() as conn:
        for table in inspector.get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                out.append(f"{table}: " + " | ".join(_as_dump_text(value) for value in row))
    return "\n".join(out)
