"""The operator's path: a fresh database, `governance init`, `governance demo`, and the service is ready."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from governance import create_app
from tests.conftest import POSTGRES_URL_ENV, create_postgres_database, drop_postgres_database


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "postgresql":
        url = create_postgres_database(os.environ[POSTGRES_URL_ENV], prefix="gov_cli")
        yield url
        drop_postgres_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"


@pytest.mark.slow
def test_init_then_demo_then_ready(fresh_database: str, tmp_path: Path) -> None:
    app = create_app({"ENV": "test", "DATABASE_URL": fresh_database, "INSTANCE_PATH": str(tmp_path)})
    try:
        runner = app.test_cli_runner()
        assert app.test_client().get("/readyz").status_code == 503
        result = runner.invoke(args=["governance", "init"])
        assert result.exit_code == 0, result.output
        result = runner.invoke(args=["governance", "demo", "--subjects", "6", "--seed", "7"])
        assert result.exit_code == 0, result.output
        assert "6 subjects created" in result.output
        assert "/dashboard/start/" in result.output
        assert (tmp_path / "demo-credentials.txt").stat().st_mode & 0o077 == 0
        again = runner.invoke(args=["governance", "demo", "--subjects", "6", "--seed", "7"])
        assert "0 subjects created (6 already there)" in again.output
        response = app.test_client().get("/readyz")
        assert response.status_code == 200, response.json
    finally:
        app.extensions["governance.db"].dispose()
