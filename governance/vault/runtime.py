"""The vault's per-process state: the key provider and envelope (with its cache of unwrapped data keys), the
blind-index key and the category catalog. Built once per app by `init_app`; services reach it through
`get_runtime()` so that their signatures stay as docs/contracts.md lists them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import Flask, current_app, has_app_context

from governance.settings import PROJECT_ROOT, ConfigError, Settings
from governance.vault.catalog import CategoryCatalog, load_catalog
from governance.vault.crypto import BlindIndex, Envelope
from governance.vault.keyproviders import EnvKeyProvider, FileKeyProvider, KeyProvider, KeyProviderError

EXTENSION = "governance.vault"
DEFAULT_CATEGORIES = PROJECT_ROOT / "policies" / "categories.yaml"


@dataclass
class VaultRuntime:
    envelope: Envelope
    blind_index: BlindIndex
    catalog: CategoryCatalog

    @property
    def provider(self) -> KeyProvider:
        return self.envelope.provider


_fallback: VaultRuntime | None = None


def configure(runtime: VaultRuntime | None) -> None:
    """Use `runtime` outside an app context (benchmarks, scripts)."""
    global _fallback
    _fallback = runtime


def get_runtime() -> VaultRuntime:
    if has_app_context():
        runtime = current_app.extensions.get(EXTENSION)
        if runtime is not None:
            return runtime
    if _fallback is None:
        raise RuntimeError("the vault is not configured (no app context and no configured runtime)")
    return _fallback


@lru_cache(maxsize=8)
def cached_catalog(path: Path) -> CategoryCatalog:
    return load_catalog(path)


def key_provider_for(settings: Settings, keystore: object) -> KeyProvider:
    """`GOVERNANCE_VAULT_KEY_PROVIDER`: `file` (default; `<key_dir>/vault-master.json`, generated as
    `dev-vault-master.json` outside production) or `env` (`GOVERNANCE_MASTER_KEYS`)."""
    kind = (settings.get("VAULT_KEY_PROVIDER") or "file").lower()
    try:
        if kind == "env":
            return EnvKeyProvider({f"GOVERNANCE_{k}": v for k, v in settings.raw.items()})
        if kind == "file":
            configured = settings.get("VAULT_MASTER_KEY_FILE")
            path = Path(configured) if configured else keystore.path_for("vault-master", ".json")  # type: ignore[attr-defined]
            return FileKeyProvider(path, create=not settings.is_production)
    except KeyProviderError as exc:
        raise ConfigError(f"vault master key: {exc}") from None
    raise ConfigError("GOVERNANCE_VAULT_KEY_PROVIDER must be 'file' or 'env'")


def build_runtime(app: Flask) -> VaultRuntime:
    settings: Settings = app.extensions["governance.settings"]
    keystore = app.extensions["governance.keys"]
    provider = key_provider_for(settings, keystore)
    blind_index = BlindIndex(keystore.secret("vault_blind_index"))
    catalog = cached_catalog(settings.policies_dir / "categories.yaml")
    cache_size = settings.get_int("VAULT_KEY_CACHE_SIZE", 20_000)
    return VaultRuntime(Envelope(provider, cache_size=cache_size), blind_index, catalog)
