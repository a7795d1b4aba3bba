"""The key provider of a running provider migration (docs/vault.md, "Moving the master key"): the new provider
plus the one it replaces, routed by version. The runtime builds it when `GOVERNANCE_VAULT_LEGACY_KEY_PROVIDER` is
set; `provider_migration.start_provider_migration` starts the rotation that empties the legacy one."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from governance.vault.keyproviders import FileKeyProvider, KeyProvider, UnwrapError, unwrap_many

__all__ = ["MigratingKeyProvider"]


class MigratingKeyProvider:
    """The new provider (`target`) plus the one it replaces (`legacy`), routed by version."""

    epochs_automatic = True

    def __init__(self, target: KeyProvider, legacy: KeyProvider) -> None:
        self.target = target
        self.legacy = legacy
        self.name = target.name
        self._lock = threading.Lock()

    def _legacy_versions(self) -> Sequence[int]:
        if isinstance(self.legacy, FileKeyProvider) and not self.legacy.path.exists():
            return []  # the migration destroyed the last legacy version (and the file with it)
        return self.legacy.versions()

    def _owner(self, version: int) -> KeyProvider:
        return self.legacy if version in self._legacy_versions() else self.target

    def versions(self) -> Sequence[int]:
        return sorted({*self._legacy_versions(), *self.target.versions()})

    def active_version(self) -> int:
        """The new provider's newest version once it has one; until then the legacy active version."""
        target_versions = self.target.versions()
        if target_versions:
            return max(target_versions)
        return self.legacy.active_version()

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        return self._owner(version).wrap(version, key, context)

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        return self._owner(version).unwrap(version, wrapped, context)

    def unwrap_many(self, items: Sequence[tuple[int, bytes, bytes]]) -> list[bytes | UnwrapError]:
        """Each provider's share in one batch (the HSM's in one session), answers in the order asked."""
        legacy = set(self._legacy_versions())
        out: list[bytes | UnwrapError | None] = [None] * len(items)
        for provider, wanted in ((self.legacy, True), (self.target, False)):
            positions = [i for i, item in enumerate(items) if (item[0] in legacy) is wanted]
            if positions:
                for i, value in zip(positions, unwrap_many(provider, [items[i] for i in positions]), strict=True):
                    out[i] = value
        return [value for value in out if value is not None]

    def add_version(self) -> int:
        """Always in the new provider: every rotation moves keys towards it."""
        return self.target.add_version()

    def retire_version(self, version: int) -> None:
        if version not in self._legacy_versions():
            self.target.retire_version(version)
            return
        if isinstance(self.legacy, FileKeyProvider):
            with self._lock:
                _destroy_file_version(self.legacy, version)
            return
        self.legacy.retire_version(version)  # the environment provider says what the operator must remove

    def refresh(self) -> None:
        for provider in (self.legacy, self.target):
            refresh = getattr(provider, "refresh", None)
            if refresh is not None and not (isinstance(provider, FileKeyProvider) and not provider.path.exists()):
                refresh()


def _destroy_file_version(provider: FileKeyProvider, version: int) -> None:
    """Remove `version` from the legacy key file even when it is the file's own active version (the active
    version is the new provider's now); the last one removes the file, durably."""
    provider.refresh()
    keys = {v: k for v, k in provider._keys.items() if v != version}
    if keys == provider._keys:
        return
    if keys:
        provider._write(keys, active=max(keys))
        provider.refresh()
        return
    provider.path.unlink()
    directory = os.open(provider.path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the key does not come back after a crash
    finally:
        os.close(directory)
    provider._set_keys({})
    provider._keys = {}
