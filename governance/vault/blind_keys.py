"""The blind-index keys by version (read from the service key store, never the database), held by the vault's
runtime; `blind_index_rotation` moves lookups from one version to the next."""

from __future__ import annotations

from typing import Any

from governance.vault.crypto import BlindIndex
from governance.vault.errors import KeyRotationError

__all__ = ["BlindIndexKeys"]


class BlindIndexKeys:
    """Blind-index keys by version, from the service key store (never the database)."""

    def __init__(self, keystore: Any, first: BlindIndex) -> None:
        self._keystore = keystore
        self._keys: dict[int, BlindIndex] = {1: first}

    def get(self, version: int) -> BlindIndex:
        key = self._keys.get(version)
        if key is None:
            if version < 2:
                raise KeyRotationError(f"Blind-index key version {version} does not exist.")
            key = BlindIndex(self._keystore.secret(f"vault_blind_index_v{version}"))
            self._keys[version] = key
        return key
