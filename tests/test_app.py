"""The app factory, health, readiness, request ids, configuration safety."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from governance import create_app
from governance.settings import ConfigError
from governance.vault.runtime import get_runtime


def test_healthz_answers_and_echoes_request_id(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "req-12345678"})
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["X-Request-ID"] == "req-12345678"


def test_malformed_request_id_is_replaced(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert response.headers["X-Request-ID"] != "bad id with spaces"
    assert len(response.headers["X-Request-ID"]) == 32


def test_readyz_is_ready_on_a_migrated_database(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ready"
    assert response.json["checks"]["database"]["ok"] is True


def test_readyz_is_not_ready_before_migration(tmp_path: Path) -> None:
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path), "LOG_LEVEL": "WARNING"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"]["ok"] is False
    app.extensions["governance.db"].dispose()


def test_openapi_document_is_3_1(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").json
    assert document["openapi"].startswith("3.1")
    outside = {
        path for path in document["paths"] if not path.startswith(("/api/v1/", "/.well-known/", "/access/v1/", "/drp/"))
    }
    assert outside == {"/oauth/token", "/oauth/introspect", "/oauth/revoke", "/healthz", "/readyz"}


def test_development_keys_are_private_files(app: Flask, client: FlaskClient, instance_dir: Path) -> None:
    assert client.get("/login").status_code == 200  # a page with a form: the session (and its key) is used
    key_file = instance_dir / "keys" / "dev-session.key"
    assert key_file.exists()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_production_refuses_development_keys(tmp_path: Path) -> None:
    development = create_app({"ENV": "development", "INSTANCE_PATH": str(tmp_path), "LOG_LEVEL": "WARNING"})
    with development.test_request_context():  # the first use generates the development keys
        assert development.secret_key
        get_runtime()
    development.extensions["governance.db"].dispose()
    assert list((tmp_path / "keys").glob("dev-*"))
    with pytest.raises(ConfigError, match="development key"):
        create_app(
            {
                "ENV": "production",
                "INSTANCE_PATH": str(tmp_path),
                "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
            }
        )


def test_production_refuses_missing_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key 'session' is missing"):
        create_app(
            {
                "ENV": "production",
                "INSTANCE_PATH": str(tmp_path),
                "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            }
        )


def test_production_requires_a_database_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path)})


def test_unknown_route_is_a_json_404_for_the_api(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"] == "not_found"


def test_protected_api_route_without_credentials_is_401(client: FlaskClient) -> None:
    response = client.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["error"] == "unauthenticated"


def test_an_invalid_bearer_token_is_named_in_the_challenge(client: FlaskClient) -> None:
    response = client.get(
        "/api/v1/jobs/00000000-0000-0000-0000-000000000000", headers={"Authorization": "Bearer not-a-real-token"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "not-a-real-token" not in response.get_data(as_text=True)


def test_keys_with_dashes_can_come_from_the_environment(tmp_path: Path) -> None:
    import base64

    from governance.keys import KeyStore
    from governance.settings import Settings

    value = base64.b64encode(b"k" * 32).decode()
    settings = Settings.load({"ENV": "production", "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"},
                             environ={"GOVERNANCE_KEY_ACCESS_TOTP": value})  # fmt: skip
    assert KeyStore(settings).secret("access-totp") == b"k" * 32


def test_a_browser_error_is_an_accessible_page(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert '<html lang="' in page
    assert "<h1>Not found</h1>" in page


def test_a_signed_out_subject_is_sent_to_the_front_page_not_the_staff_sign_in(client: FlaskClient) -> None:
    response = client.get("/me", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/")
    staff = client.get("/console", headers={"Accept": "text/html"})
    assert "/login" in staff.headers["Location"]


def test_probes_are_never_rate_limited_but_the_api_is(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(RATELIMIT_DEFAULT="3/minute")
    client = app.test_client()
    assert all(client.get("/healthz").status_code == 200 for _ in range(6))
    statuses = [client.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000").status_code for _ in range(6)]
    assert statuses[:3] == [401, 401, 401]
    assert 429 in statuses[3:]


def test_query_model_schemas_are_built_once() -> None:
    from governance.api import StrictModel

    class Probe(StrictModel):
        name: str

    first = Probe.model_json_schema()
    assert Probe.model_json_schema() is first  # built once, not copied per request
    with pytest.raises(TypeError):
        first["mutated"] = True  # type: ignore[index]  # read-only: one caller cannot change another's
    with pytest.raises(TypeError):
        first["properties"]["name"]["type"] = "integer"  # type: ignore[index]
    assert "mutated" not in Probe.model_json_schema()
    assert dict(first["properties"]["name"]) == Probe.model_json_schema(mode="validation")["properties"]["name"]
    assert Probe.model_json_schema(by_alias=True) is not first  # other arguments: pydantic's own, a fresh dict


def test_hooks_and_views_are_resolved_once_and_the_table_stays_bounded(app: Flask) -> None:
    from governance import _SYNCED_MAX

    def hook() -> None:
        return None

    assert app.ensure_sync(hook) is hook
    assert hook in app._synced  # type: ignore[attr-defined]
    for _ in range(_SYNCED_MAX + 10):  # a callable made per call (after_this_request) is never kept past the bound
        app.ensure_sync(lambda: None)
    assert len(app._synced) <= _SYNCED_MAX  # type: ignore[attr-defined]


def test_readyz_stays_ready_while_another_connection_holds_the_write_lock(app: Flask, backend: str) -> None:
    """Finding 18.10: every SQLite transaction was BEGIN IMMEDIATE, so the readiness read queued behind the
    service's own writer for the busy timeout and then answered 503 "database unreachable". A real second
    connection holds the write lock (SQLite) or an EXCLUSIVE table lock (PostgreSQL) while readiness is asked."""
    import sqlalchemy as sa

    from governance.db import make_engine

    writer_engine = make_engine(app.extensions["governance.db"].url, poolclass=sa.pool.NullPool)
    try:
        with writer_engine.connect() as writer:
            writer.begin()  # BEGIN IMMEDIATE on SQLite: the write lock is held from here
            if backend == "sqlite":
                writer.exec_driver_sql("CREATE TABLE readiness_probe_writer (x INTEGER)")
            else:
                writer.exec_driver_sql("LOCK TABLE alembic_version IN EXCLUSIVE MODE")
            response = app.test_client().get("/readyz")
            metrics = app.test_client().get("/metrics")
            writer.rollback()
    finally:
        writer_engine.dispose()
    assert response.status_code == 200, response.json
    assert response.json["checks"]["database"]["ok"] is True
    assert metrics.status_code == 200


def test_a_read_only_connection_cannot_write(app: Flask) -> None:
    import pytest
    import sqlalchemy as sa

    with pytest.raises(sa.exc.DBAPIError), app.extensions["governance.db"].read_only() as conn:
        conn.exec_driver_sql("CREATE TABLE should_not_exist (x INTEGER)")
