"""Keys and the instance folder come into existence when first needed, not when the app is created: a CLI
`--help` writes nothing anywhere; the first request and the first vault use generate the development keys."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from governance import create_app
from governance.keys import KeyStore
from governance.settings import ConfigError, Settings
from governance.vault import service
from governance.vault.keyproviders import FileKeyProvider
from governance.vault.runtime import get_runtime
from tests.vault.conftest import ACTOR, PROFILE

REPO = Path(__file__).resolve().parent.parent


def _created(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_cli_help_creates_no_key_and_no_file(tmp_path: Path) -> None:
    instance_parent, home = tmp_path / "instance-parent", tmp_path / "home"
    instance_parent.mkdir()
    home.mkdir()
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("GOVERNANCE_", "XDG_"))}
    environ.update(
        GOVERNANCE_INSTANCE_PATH=str(instance_parent / "instance"),  # not there yet: it must stay so
        HOME=str(home),
        PYTHONPATH=str(REPO),
    )
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "governance", "--help"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage:" in result.stdout
    assert _created(instance_parent) == []
    assert _created(home) == []
    assert "generated development key" not in result.stderr


def test_first_request_and_first_vault_use_create_the_development_keys(database_url: str, tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    app: Flask = create_app(
        {"ENV": "development", "DATABASE_URL": database_url, "INSTANCE_PATH": str(instance), "LOG_LEVEL": "ERROR"}
    )
    try:
        assert not instance.exists()  # creating the app wrote nothing
        _first_request_signs_a_session(app)
        assert _created(instance) == ["keys", "keys/dev-session.key"]
        _first_vault_use_encrypts_and_reads_back(app)
        keys = instance / "keys"
        assert sorted(p.name for p in keys.iterdir()) == [
            "dev-session.key",
            "dev-vault-master.json",
            "dev-vault_blind_index.key",
        ]
        for key_file in keys.iterdir():
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert app.test_client().get("/readyz").get_json()["checks"]["vault_master_key"]["ok"] is True
        _a_second_app_reads_the_same_keys(database_url, instance, app)
    finally:
        app.extensions["governance.db"].dispose()


def _first_request_signs_a_session(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login")  # a form: its CSRF token lives in the signed session cookie
    assert page.status_code == 200
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        assert serializer is not None
        assert "csrf_token" in serializer.loads(cookie.value)  # signed with the key just generated


def _first_vault_use_encrypts_and_reads_back(app: Flask) -> None:
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            subject = service.create_subject(session, external_ref="lazy-keys-1", actor=ACTOR, profile=PROFILE)
            profile = service.read_profile(session, subject.id, actor=ACTOR, view="clear")["fields"]
            assert profile["name"] == PROFILE["name"]  # decrypted with the generated keys
            found = service.find_subject(session, email=PROFILE["email"])  # through the blind index
            assert found is not None
            assert found.id == subject.id
        finally:
            session.rollback()  # the session's shared database stays as it was
            session.close()


def _a_second_app_reads_the_same_keys(database_url: str, instance: Path, first: Flask) -> None:
    config: dict[str, Any] = {"ENV": "development", "DATABASE_URL": database_url, "INSTANCE_PATH": str(instance)}
    second = create_app({**config, "LOG_LEVEL": "ERROR"})
    try:
        assert second.secret_key == first.secret_key
        with second.app_context():
            assert get_runtime().blind_index.compute("email", "x") == _blind(first)
    finally:
        second.extensions["governance.db"].dispose()


def _blind(app: Flask) -> object:
    with app.app_context():
        return get_runtime().blind_index.compute("email", "x")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"VAULT_KEY_PROVIDER": "kms"}, "GOVERNANCE_VAULT_KEY_PROVIDER must be"),
        ({"VAULT_KEY_PROVIDER": "env", "MASTER_KEYS": "1:c2VjcmV0"}, "vault master key"),
        ({"VAULT_LEGACY_KEY_PROVIDER": "file"}, "GOVERNANCE_VAULT_LEGACY_KEY_PROVIDER must be"),
        ({"VAULT_KEY_PROVIDER": "pkcs11"}, "GOVERNANCE_VAULT_PKCS11_LIBRARY"),
        ({"VAULT_KEY_CACHE_SECONDS": "0"}, "GOVERNANCE_VAULT_KEY_CACHE_SECONDS"),
        ({"VAULT_KEY_EPOCH_DAYS": "0"}, "GOVERNANCE_VAULT_KEY_EPOCH_DAYS"),
    ],
)
def test_a_wrong_vault_setting_still_stops_start_up(tmp_path: Path, settings: dict[str, str], message: str) -> None:
    instance = tmp_path / "instance"
    with pytest.raises(ConfigError, match=message) as caught:
        create_app({"ENV": "development", "INSTANCE_PATH": str(instance), "LOG_LEVEL": "ERROR", **settings})
    assert "c2VjcmV0" not in str(caught.value)
    assert not instance.exists()  # refused before any key was generated


def test_production_loads_every_key_at_start_up(tmp_path: Path) -> None:
    """Production generates nothing, so a missing key must stop start-up, not the first request."""
    session_key = base64.b64encode(bytes(range(32))).decode()
    config = {
        "ENV": "production",
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
        "LOG_LEVEL": "ERROR",
        "KEY_SESSION": session_key,
    }
    with pytest.raises(ConfigError, match="vault master key"):
        create_app(config)
    master = tmp_path / "master.json"
    master.write_text(json.dumps({"active": 1, "keys": {"1": base64.b64encode(bytes(32)).decode()}}))
    master.chmod(0o600)
    with pytest.raises(ConfigError, match="key 'vault_blind_index' is missing"):
        create_app({**config, "VAULT_MASTER_KEY_FILE": str(master)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.json"]  # nothing was generated


def test_workers_generating_the_same_keys_at_once_agree(tmp_path: Path) -> None:
    """Keys are generated on first use, so workers may race to generate one: the first complete file wins, every
    worker reads it, and no temporary file is left behind."""
    settings = Settings.load({"ENV": "development", "KEY_DIR": str(tmp_path), "DATABASE_URL": "sqlite://"}, environ={})
    workers = 8
    barrier = threading.Barrier(workers)

    def first_use(_: int) -> tuple[bytes, FileKeyProvider]:
        barrier.wait(timeout=120)
        return KeyStore(settings).secret("session"), FileKeyProvider(tmp_path / "dev-vault-master.json", create=True)

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(first_use, range(workers)))
    assert len({secret for secret, _ in results}) == 1
    wrapped = results[0][1].wrap(1, bytes(range(32)), b"context")
    for _, provider in results:  # every worker holds the master key the file holds
        assert provider.versions() == [1]
        assert provider.unwrap(1, wrapped, b"context") == bytes(range(32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev-session.key", "dev-vault-master.json"]
