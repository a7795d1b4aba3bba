"""Master-key providers: where the key-encryption keys (KEKs) that wrap every subject's data key live.

The vault never stores a master key in the database. It asks a `KeyProvider` to wrap and unwrap 32-byte data
keys under a numbered master-key version. Two providers ship with the service:

- `FileKeyProvider`: a JSON key file (default for the embedded/SQLite setup; `<key_dir>/vault-master.json`,
  mode 0600). It can create new versions (`governance keys rotate`) and drop retired ones.
- `EnvKeyProvider`: versions from environment variables (`GOVERNANCE_MASTER_KEYS="1:<b64>,2:<b64>"`).
  Read-only: an operator adds a version by deploying a new variable to every worker, then runs `keys rotate`.

A KMS (AWS KMS, GCP KMS) or HashiCorp Vault transit provider implements the same `KeyProvider` protocol:
`wrap`/`unwrap` map to the service's encrypt/decrypt with `context` as the encryption context (AAD),
versions map to key versions, and `add_version`/`retire_version` to the service's rotate/disable calls (or
raise `KeyProviderError` when rotation is managed outside). Key material never leaves such a provider; only
wrapped data keys do. See docs/vault.md.

Nothing in this module logs or puts key material into an exception message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.errors import DomainError

__all__ = [
    "EnvKeyProvider",
    "FileKeyProvider",
    "KeyProvider",
    "KeyProviderError",
    "KeyProviderUnavailable",
    "StaticKeyProvider",
    "UnwrapError",
    "unwrap_many",
]

MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12


class KeyProviderError(Exception):
    """The provider cannot do what was asked (unknown version, read-only provider, unreadable key file)."""


class KeyProviderUnavailable(KeyProviderError, DomainError):
    """The key backend cannot be reached or logged into (HSM library missing, token missing, PIN wrong,
    session lost). Not the data's fault: the service answers 503 and rolls back; `/readyz` reports `reason`."""

    status, code = 503, "key_provider_unavailable"
    default_message = "The vault's master-key provider is unavailable; nothing was changed."

    def __init__(self, *, reason: str) -> None:
        super().__init__(extra={"reason": reason})
        self.reason = reason  # a fixed word (library_missing, token_missing, pin_incorrect...), never a secret


class UnwrapError(KeyProviderError):
    """A wrapped key failed authentication: wrong master version, wrong context, or tampered bytes."""


@runtime_checkable
class KeyProvider(Protocol):
    """The interface a master-key backend implements. Versions are positive integers, higher is newer."""

    name: str
    # True when `add_version` and `retire_version` really create and destroy key material, so that the
    # vault's key epochs (docs/vault.md, "Backups") can run unattended; False when an operator does both
    epochs_automatic: bool

    def versions(self) -> Sequence[int]:
        """All versions whose key material is available (active and not yet retired), ascending."""
        ...

    def active_version(self) -> int:
        """The version new data keys should be wrapped with (the highest available by default)."""
        ...

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        """Encrypt `key` under master `version`, authenticating `context` (never stored by the provider)."""
        ...

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        """Reverse `wrap`; raises `UnwrapError` if `wrapped` or `context` do not match."""
        ...

    def add_version(self) -> int:
        """Create a new master-key version and make it active; raises `KeyProviderError` if not supported."""
        ...

    def retire_version(self, version: int) -> None:
        """Destroy (or disable) a version nothing uses any more; `KeyProviderError` if not supported."""
        ...


def unwrap_many(provider: KeyProvider, items: Sequence[tuple[int, bytes, bytes]]) -> list[bytes | UnwrapError]:
    """`provider.unwrap_many(items)` where the provider batches, else one `unwrap` per item."""
    batched = getattr(provider, "unwrap_many", None)  # optional: providers that can batch
    if batched is not None:
        return list(batched(items))
    out: list[bytes | UnwrapError] = []
    for version, wrapped, context in items:
        try:
            out.append(provider.unwrap(version, wrapped, context))
        except UnwrapError as exc:
            out.append(exc)
    return out


class _AesGcmKeyring:
    """AES-256-GCM wrapping over an in-memory {version: key} map; shared by the local providers."""

    def __init__(self) -> None:
        self._ciphers: dict[int, AESGCM] = {}

    def _set_keys(self, keys: Mapping[int, bytes]) -> None:
        for version, key in keys.items():
            if version < 1:
                raise KeyProviderError("master key versions must be positive integers")
            if len(key) != MASTER_KEY_BYTES:
                raise KeyProviderError(f"master key version {version} must be {MASTER_KEY_BYTES} bytes")
        self._ciphers = {version: AESGCM(key) for version, key in keys.items()}

    def _cipher(self, version: int) -> AESGCM:
        cipher = self._ciphers.get(version)
        if cipher is None:
            raise KeyProviderError(f"master key version {version} is not available")
        return cipher

    def versions(self) -> Sequence[int]:
        return sorted(self._ciphers)

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._cipher(version).encrypt(nonce, key, context)

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        cipher = self._cipher(version)
        try:
            return cipher.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], context)
        except InvalidTag:
            raise UnwrapError(f"wrapped key does not authenticate under master version {version}") from None


def _decode_key(encoded: str, version: int) -> bytes:
    try:
        return base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyProviderError(f"master key version {version} is not valid base64") from None


class StaticKeyProvider(_AesGcmKeyring):
    """Keys given in memory (tests, benchmarks, tooling). Supports adding and retiring versions."""

    name = "static"
    epochs_automatic = True

    def __init__(self, keys: Mapping[int, bytes], active: int | None = None) -> None:
        super().__init__()
        self._set_keys(dict(keys))
        if not self._ciphers:
            raise KeyProviderError("at least one master key version is required")
        self._keys = dict(keys)
        self._active = active or max(self._keys)

    @classmethod
    def generate(cls, versions: int = 1) -> StaticKeyProvider:
        return cls({v: secrets.token_bytes(MASTER_KEY_BYTES) for v in range(1, versions + 1)})

    def active_version(self) -> int:
        return self._active

    def add_version(self) -> int:
        version = max(self._keys) + 1
        self._keys[version] = secrets.token_bytes(MASTER_KEY_BYTES)
        self._set_keys(self._keys)
        self._active = version
        return version

    def retire_version(self, version: int) -> None:
        if version == self._active:
            raise KeyProviderError("the active master key version cannot be retired")
        self._keys.pop(version, None)
        self._set_keys(self._keys)


class EnvKeyProvider(_AesGcmKeyring):
    """Master keys from the environment: `GOVERNANCE_MASTER_KEYS="1:<base64>,2:<base64>"`.

    The active version is `GOVERNANCE_MASTER_KEY_ACTIVE` if set, else the highest. Read-only: rotation means
    deploying a variable with the new version to every worker first.
    """

    name = "env"
    epochs_automatic = False

    def __init__(self, environ: Mapping[str, str] | None = None, *, variable: str = "GOVERNANCE_MASTER_KEYS"):
        super().__init__()
        env = os.environ if environ is None else environ
        raw = env.get(variable, "").strip()
        if not raw:
            raise KeyProviderError(f"{variable} is not set")
        keys: dict[int, bytes] = {}
        for part in raw.split(","):
            version_text, sep, encoded = part.strip().partition(":")
            if not sep or not version_text.strip().isdigit():
                raise KeyProviderError(f"{variable} must look like '1:<base64>,2:<base64>'")
            version = int(version_text)
            keys[version] = _decode_key(encoded, version)
        self._set_keys(keys)
        active_text = env.get("GOVERNANCE_MASTER_KEY_ACTIVE", "").strip()
        self._active = int(active_text) if active_text.isdigit() else max(keys)
        if self._active not in keys:
            raise KeyProviderError("GOVERNANCE_MASTER_KEY_ACTIVE names a version that is not configured")

    def active_version(self) -> int:
        return self._active

    def add_version(self) -> int:
        raise KeyProviderError(
            "the environment key provider is read-only: add the new version to GOVERNANCE_MASTER_KEYS on "
            "every worker, then run `governance keys rotate`"
        )

    def retire_version(self, version: int) -> None:
        raise KeyProviderError(f"remove version {version} from GOVERNANCE_MASTER_KEYS on every worker to retire it")


class FileKeyProvider(_AesGcmKeyring):
    """Master keys in a JSON file: `{"active": 2, "keys": {"1": "<base64>", "2": "<base64>"}}`, mode 0600.

    The file is re-read when it changes on disk (another process rotated or destroyed a version), so every
    worker sees new versions without a restart, and forgets destroyed ones at its next `refresh()` (the
    vault's cache sweeper calls it every few seconds). Writes are atomic (temp file + fsync + rename + fsync
    of the directory): a destroyed version's key is in no file a reader can open, and a crash leaves either
    the old file or the new one.
    """

    name = "file"
    epochs_automatic = True

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] = (-1, -1, -1)
        self._active = 0
        if not self.path.exists():
            if not create:
                raise KeyProviderError(f"master key file {self.path} does not exist")
            # exclusive: another worker generating the file at the same moment must not replace it
            self._write({1: secrets.token_bytes(MASTER_KEY_BYTES)}, active=1, exclusive=True)
        self._reload(force=True)

    def _reload(self, *, force: bool = False) -> None:
        try:
            stat = self.path.stat()
        except OSError:
            raise KeyProviderError(f"master key file {self.path} cannot be read") from None
        # every write is a new file (rename), so the inode tells a change apart even within one mtime tick
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if not force and stamp == self._stamp:
            return
        with self._lock:
            try:
                document = json.loads(self.path.read_text(encoding="utf-8"))
                keys = {int(v): _decode_key(k, int(v)) for v, k in document["keys"].items()}
                active = int(document.get("active") or max(keys))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                raise KeyProviderError(f"master key file {self.path} is not a valid key file") from None
            if active not in keys:
                raise KeyProviderError(f"master key file {self.path}: the active version has no key")
            self._set_keys(keys)
            self._keys = keys
            self._active = active
            self._stamp = stamp

    def _write(self, keys: Mapping[int, bytes], *, active: int, exclusive: bool = False) -> None:
        document = {
            "active": active,
            "keys": {str(v): base64.b64encode(k).decode("ascii") for v, k in sorted(keys.items())},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".vault-keys-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            if exclusive:
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, self.path)  # atomic, and fails rather than replace the other's file
                Path(tmp).unlink()
            else:
                os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself is durable: a destroyed key does not come back after a crash
        finally:
            os.close(directory)

    def refresh(self) -> None:
        """Re-read the file if it changed (drops versions another process destroyed from this one's memory)."""
        self._reload()

    def versions(self) -> Sequence[int]:
        self._reload()
        return super().versions()

    def active_version(self) -> int:
        self._reload()
        return self._active

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        if version not in self._ciphers:
            self._reload()
        return super().unwrap(version, wrapped, context)

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        if version not in self._ciphers:
            self._reload()
        return super().wrap(version, key, context)

    def add_version(self) -> int:
        self._reload()
        keys = dict(self._keys)
        version = max(keys) + 1
        keys[version] = secrets.token_bytes(MASTER_KEY_BYTES)
        self._write(keys, active=version)
        self._reload(force=True)
        return version

    def retire_version(self, version: int) -> None:
        """Remove the version's key material from the file (atomically); a no-op if it is already gone."""
        self._reload()
        if version == self._active:
            raise KeyProviderError("the active master key version cannot be retired")
        if version not in self._keys:
            return
        keys = {v: k for v, k in self._keys.items() if v != version}
        self._write(keys, active=self._active)
        self._reload(force=True)
