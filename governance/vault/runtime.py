"""The vault's per-process state: the key provider and envelope (with its cache of unwrapped data keys), the
blind-index key and the category catalog. the composition root checks the settings at start-up; the runtime itself is
built on first use (`get_runtime()`), so that creating the app (a CLI `--help`) generates no development key,
and built at start-up in production, where no key can be generated and a missing one must stop the service.
Services reach it through `get_runtime()` so that their signatures stay as docs/contracts.md lists them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from flask import Flask, current_app, has_app_context

from governance.settings import PROJECT_ROOT, ConfigError, Settings
from governance.vault.blind_keys import BlindIndexKeys
from governance.vault.catalog import CategoryCatalog, load_catalog
from governance.vault.crypto import BlindIndex, Envelope
from governance.vault.keyproviders import (
    EnvKeyProvider,
    FileKeyProvider,
    KeyProvider,
    KeyProviderError,
    KeyProviderUnavailable,
)
from governance.vault.migrating_provider import MigratingKeyProvider
from governance.vault.pkcs11_provider import Pkcs11KeyProvider, Pkcs11Settings  # python-pkcs11 loads on first use

EXTENSION = "governance.vault"
DEFAULT_CATEGORIES = PROJECT_ROOT / "policies" / "categories.yaml"


DEFAULT_EPOCH_DAYS = 7
DEFAULT_BACKUP_RETENTION_DAYS = 30


@dataclass(frozen=True)
class KeySchedule:
    """Master-key epochs: a new master version every `epoch`; a retired version's key material is kept for
    `backup_retention` (the operator's backup retention), then destroyed. A person erased at time X is
    unreadable in every backup by X + epoch + backup_retention + `margin` (docs/vault.md, "Backups")."""

    epoch: timedelta = timedelta(days=DEFAULT_EPOCH_DAYS)
    backup_retention: timedelta = timedelta(days=DEFAULT_BACKUP_RETENTION_DAYS)
    # the epoch job runs hourly: one late run opening the epoch, the re-wrap, one late run destroying
    margin: timedelta = timedelta(days=1)


@dataclass
class VaultRuntime:
    envelope: Envelope
    blind_index: BlindIndex
    catalog: CategoryCatalog
    schedule: KeySchedule = field(default_factory=KeySchedule)
    # blind-index keys by version (1 is `blind_index`); None outside an app: version 1 only
    blind_index_keys: BlindIndexKeys | None = None

    @property
    def blind_keys(self) -> BlindIndexKeys:
        if self.blind_index_keys is None:
            self.blind_index_keys = BlindIndexKeys(None, self.blind_index)
        return self.blind_index_keys

    @property
    def provider(self) -> KeyProvider:
        return self.envelope.provider


_fallback: VaultRuntime | None = None


def configure(runtime: VaultRuntime | None) -> None:
    """Use `runtime` outside an app context (benchmarks, scripts)."""
    global _fallback
    _fallback = runtime


class LazyRuntime:
    """An app's vault runtime, built by the first `get()` (under a lock: one provider and one envelope cache
    per app, however many threads ask first). Stored in `app.extensions[EXTENSION]`."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._runtime: VaultRuntime | None = None

    @property
    def built(self) -> bool:
        return self._runtime is not None

    def get(self) -> VaultRuntime:
        runtime = self._runtime
        if runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = build_runtime(self._app)
                runtime = self._runtime
        return runtime


def master_key_check(holder: LazyRuntime) -> Callable[[], tuple[bool, str]]:
    """The readiness check: the master key provider answers (the first probe builds the runtime, development
    keys included). Its detail names the provider and a fixed reason word, never key material."""

    def master_key_ready() -> tuple[bool, str]:
        try:
            provider = holder.get().provider
        except Exception:  # a ConfigError names paths and settings, never key material; the type is enough
            return False, "vault master key provider unavailable"
        name = provider.name
        try:
            provider.versions()
        except KeyProviderUnavailable as exc:  # an HSM: the reason is a fixed word (token_missing, pin_incorrect)
            return False, f"vault master key provider '{name}' unavailable ({exc.reason})"
        except Exception:  # the detail must not carry key material; the type is enough
            return False, "vault master key provider unavailable"
        return True, f"vault master key provider '{name}'"

    return master_key_ready


def runtime_for(app: Flask) -> VaultRuntime:
    """`app`'s vault runtime (built now if this is its first use)."""
    holder: LazyRuntime = app.extensions[EXTENSION]
    return holder.get()


def get_runtime() -> VaultRuntime:
    if has_app_context():
        holder = current_app.extensions.get(EXTENSION)
        if holder is not None:
            return holder.get()
    if _fallback is None:
        raise RuntimeError("the vault is not configured (no app context and no configured runtime)")
    return _fallback


@lru_cache(maxsize=8)
def cached_catalog(path: Path) -> CategoryCatalog:
    return load_catalog(path)


def key_provider_for(settings: Settings, keystore: object) -> KeyProvider:
    """`GOVERNANCE_VAULT_KEY_PROVIDER`: `file` (default; `<key_dir>/vault-master.json`, generated as
    `dev-vault-master.json` outside production), `env` (`GOVERNANCE_MASTER_KEYS`) or `pkcs11` (an HSM; see
    `pkcs11_provider`). With `GOVERNANCE_VAULT_LEGACY_KEY_PROVIDER` (`file` or `env`) the provider migrates:
    the legacy one keeps unwrapping its versions until a rotation has re-wrapped every data key under the new
    one (`provider_migration`)."""
    kind = (settings.get("VAULT_KEY_PROVIDER") or "file").lower()
    legacy_kind = (settings.get("VAULT_LEGACY_KEY_PROVIDER") or "").lower()
    try:
        if legacy_kind:
            if legacy_kind == kind or legacy_kind not in _LOCAL_PROVIDERS:
                raise ConfigError(_LEGACY_MESSAGE)
            legacy = _local_provider(legacy_kind, settings, keystore, create=False)
            first = max(legacy.versions(), default=0) + 1
            return MigratingKeyProvider(_provider(kind, settings, keystore, first_version=first), legacy)
        return _provider(kind, settings, keystore)
    except KeyProviderError as exc:
        raise ConfigError(f"vault master key: {exc}") from None


_LOCAL_PROVIDERS = ("file", "env")
_LEGACY_MESSAGE = "GOVERNANCE_VAULT_LEGACY_KEY_PROVIDER must be 'file' or 'env', unlike the provider"


def _local_provider(kind: str, settings: Settings, keystore: object, *, create: bool = True) -> KeyProvider:
    if kind == "env":
        return EnvKeyProvider({f"GOVERNANCE_{k}": v for k, v in settings.raw.items()})
    configured = settings.get("VAULT_MASTER_KEY_FILE")
    path = Path(configured) if configured else keystore.path_for("vault-master", ".json")  # type: ignore[attr-defined]
    return FileKeyProvider(path, create=create and not settings.is_production)


def _provider(kind: str, settings: Settings, keystore: object, *, first_version: int = 1) -> KeyProvider:
    if kind in _LOCAL_PROVIDERS:
        return _local_provider(kind, settings, keystore)
    if kind == "pkcs11":
        return Pkcs11KeyProvider(Pkcs11Settings.from_settings(settings.get), first_version=first_version)
    raise ConfigError("GOVERNANCE_VAULT_KEY_PROVIDER must be 'file', 'env' or 'pkcs11'")


def check_settings(settings: Settings) -> None:
    """Everything about the vault's settings that can be wrong without touching key material: the provider
    names, the environment's master keys, the HSM settings, the key cache, the key schedule and the catalog.
    Raises `ConfigError` at start-up, as building the runtime would."""
    kind = (settings.get("VAULT_KEY_PROVIDER") or "file").lower()
    legacy_kind = (settings.get("VAULT_LEGACY_KEY_PROVIDER") or "").lower()
    if kind not in (*_LOCAL_PROVIDERS, "pkcs11"):
        raise ConfigError("GOVERNANCE_VAULT_KEY_PROVIDER must be 'file', 'env' or 'pkcs11'")
    if legacy_kind and (legacy_kind == kind or legacy_kind not in _LOCAL_PROVIDERS):
        raise ConfigError(_LEGACY_MESSAGE)
    try:
        if "env" in (kind, legacy_kind):  # parsing the variable creates nothing
            _local_provider("env", settings, None)
        if kind == "pkcs11":
            Pkcs11Settings.from_settings(settings.get)
    except KeyProviderError as exc:
        raise ConfigError(f"vault master key: {exc}") from None
    _cache_settings(settings)
    key_schedule(settings)
    cached_catalog(settings.policies_dir / "categories.yaml")


def _cache_settings(settings: Settings) -> tuple[int, float]:
    cache_size = settings.get_int("VAULT_KEY_CACHE_SIZE", 20_000)
    cache_seconds = settings.get_float("VAULT_KEY_CACHE_SECONDS", 60.0)
    if cache_seconds <= 0:
        raise ConfigError("GOVERNANCE_VAULT_KEY_CACHE_SECONDS must be positive")
    return cache_size, cache_seconds


def build_runtime(app: Flask) -> VaultRuntime:
    """Load (outside production: generate, if missing) the master keys and the blind-index key."""
    settings: Settings = app.extensions["governance.settings"]
    keystore = app.extensions["governance.keys"]
    cache_size, cache_seconds = _cache_settings(settings)
    provider = key_provider_for(settings, keystore)
    blind_index = BlindIndex(keystore.secret("vault_blind_index"))
    catalog = cached_catalog(settings.policies_dir / "categories.yaml")
    envelope = Envelope(provider, cache_size=cache_size, cache_seconds=cache_seconds)
    return VaultRuntime(envelope, blind_index, catalog, key_schedule(settings), BlindIndexKeys(keystore, blind_index))


def key_schedule(settings: Settings) -> KeySchedule:
    """`GOVERNANCE_VAULT_KEY_EPOCH_DAYS` (7) and `GOVERNANCE_BACKUP_RETENTION_DAYS` (30), both at least 1."""
    epoch = settings.get_float("VAULT_KEY_EPOCH_DAYS", DEFAULT_EPOCH_DAYS)
    retention = settings.get_float("BACKUP_RETENTION_DAYS", DEFAULT_BACKUP_RETENTION_DAYS)
    if epoch < 1 or retention < 1:
        raise ConfigError("GOVERNANCE_VAULT_KEY_EPOCH_DAYS and GOVERNANCE_BACKUP_RETENTION_DAYS must be at least 1")
    return KeySchedule(epoch=timedelta(days=epoch), backup_retention=timedelta(days=retention))
