"""Choosing the master-key provider from settings; production refuses a missing key file."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from governance.keys import KeyStore
from governance.settings import ConfigError, Settings
from governance.vault.runtime import key_provider_for, runtime_for


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings.load(
        {"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/none", "KEY_DIR": str(tmp_path), **overrides},
        environ={},
    )


def test_env_provider_from_settings(tmp_path: Path) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    settings = _settings(tmp_path, VAULT_KEY_PROVIDER="env", MASTER_KEYS=f"3:{key}")
    provider = key_provider_for(settings, KeyStore(settings))
    assert provider.name == "env"
    assert provider.active_version() == 3


def test_development_creates_a_private_dev_key_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ENV="development")
    provider = key_provider_for(settings, KeyStore(settings))
    assert provider.name == "file"
    assert (tmp_path / "dev-vault-master.json").stat().st_mode & 0o777 == 0o600


def test_production_refuses_a_missing_master_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ENV="production")
    with pytest.raises(ConfigError, match="vault master key"):
        key_provider_for(settings, KeyStore(settings))
    assert not list(tmp_path.iterdir())  # nothing was generated


def test_unknown_provider_and_bad_env_keys(tmp_path: Path) -> None:
    settings = _settings(tmp_path, VAULT_KEY_PROVIDER="kms")
    with pytest.raises(ConfigError, match="VAULT_KEY_PROVIDER"):
        key_provider_for(settings, KeyStore(settings))
    settings = _settings(tmp_path, VAULT_KEY_PROVIDER="env", MASTER_KEYS="1:c2VjcmV0")
    with pytest.raises(ConfigError) as caught:
        key_provider_for(settings, KeyStore(settings))
    assert "c2VjcmV0" not in str(caught.value)


def test_app_has_the_vault_runtime(app: Any) -> None:
    runtime = runtime_for(app)
    assert runtime.catalog.blind_indexed_fields == {"email"}
    assert runtime.provider.versions()
