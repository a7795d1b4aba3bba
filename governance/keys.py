"""Where the service's own secrets come from: key files or environment variables, never the database.

In development and test, a missing key is generated once under `instance/keys/` as `dev-<name>.*` (mode 0600)
and its *path* is logged, never its value. In production, development keys are refused: every key must be
supplied as `GOVERNANCE_KEY_<NAME>` (base64) or as `<key_dir>/<name>.key` / `<name>.pem`.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import tempfile
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from governance.settings import ConfigError, Settings

log = logging.getLogger("governance.keys")


def _write_private(path: Path, data: bytes) -> None:
    """Write a new key file (mode 0600) complete or not at all, and never over an existing one: keys are
    generated on first use, so two workers may generate the same key at once; the first file wins and the
    other worker reads it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)  # atomic, and fails rather than replace
    finally:
        os.unlink(temp)


class KeyStore:
    """Named keys for this process. Symmetric secrets are bytes; signing keys are Ed25519."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._dir = settings.key_dir
        self._lock = threading.Lock()
        self._cache: dict[str, object] = {}
        self.dev_keys: set[str] = set()

    @property
    def allow_dev_keys(self) -> bool:
        return not self._settings.is_production

    def _env_value(self, name: str) -> str | None:
        return self._settings.get(f"KEY_{name.upper().replace('-', '_')}")

    def path_for(self, name: str, suffix: str) -> Path:
        """The file a key is read from: the production name if present, else the development one."""
        real = self._dir / f"{name}{suffix}"
        if real.exists() or not self.allow_dev_keys:
            return real
        return self._dir / f"dev-{name}{suffix}"

    def secret(self, name: str, nbytes: int = 32) -> bytes:
        """A symmetric secret of `nbytes` random bytes (base64 in its file or variable)."""
        with self._lock:
            cached = self._cache.get(name)
            if isinstance(cached, bytes):
                return cached
            value = self._env_value(name)
            if value is None:
                path = self.path_for(name, ".key")
                if not path.exists():
                    self._refuse_or_note(name, path)
                    _write_private(path, base64.b64encode(secrets.token_bytes(nbytes)) + b"\n")
                value = path.read_text().strip()
            try:
                key = base64.b64decode(value, validate=True)
            except ValueError as exc:
                raise ConfigError(f"key '{name}' is not valid base64") from exc
            if len(key) < 32:
                raise ConfigError(f"key '{name}' is shorter than 256 bits")
            self._cache[name] = key
            return key

    def signing_key(self, name: str) -> Ed25519PrivateKey:
        """An Ed25519 private key (PEM, PKCS#8, unencrypted) used to sign checkpoints, receipts, certificates."""
        with self._lock:
            cached = self._cache.get(name)
            if isinstance(cached, Ed25519PrivateKey):
                return cached
            value = self._env_value(name)
            if value is not None:
                pem = base64.b64decode(value)
            else:
                path = self.path_for(name, ".pem")
                if not path.exists():
                    self._refuse_or_note(name, path)
                    fresh = Ed25519PrivateKey.generate()
                    _write_private(
                        path,
                        fresh.private_bytes(
                            serialization.Encoding.PEM,
                            serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption(),
                        ),
                    )
                pem = path.read_bytes()
            key = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ConfigError(f"key '{name}' is not an Ed25519 private key")
            self._cache[name] = key
            return key

    def public_key(self, name: str) -> Ed25519PublicKey:
        return self.signing_key(name).public_key()

    def public_key_pem(self, name: str) -> str:
        return (
            self.public_key(name)
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def _refuse_or_note(self, name: str, path: Path) -> None:
        if not self.allow_dev_keys:
            raise ConfigError(
                f"key '{name}' is missing: set GOVERNANCE_KEY_{name.upper()} or provide {path} "
                "(development keys are refused in production)"
            )
        self.dev_keys.add(name)
        log.warning("generated development key", extra={"key_name": name, "path": str(path)})

    def refuse_dev_keys_in_production(self) -> None:
        if self._settings.is_production:
            found = sorted(p.name for p in self._dir.glob("dev-*")) if self._dir.exists() else []
            if found:
                raise ConfigError(f"development key files present in {self._dir}: remove them in production")
