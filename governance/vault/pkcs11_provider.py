"""The `pkcs11` master-key provider: key-encryption keys that live in an HSM and never leave it.

Each master-key version is one AES-256 secret-key object on the token, labelled `<key label>-v<version>`
(`CKA_ID` = the version as 4 big-endian bytes), generated inside the token with `CKA_SENSITIVE` and without
`CKA_EXTRACTABLE`, so no API of the token hands its value out. Wrapping a data key is `C_Encrypt` with
`CKM_AES_GCM` (random 96-bit IV, 128-bit tag, the vault's wrap context as the additional authenticated data);
unwrapping is `C_Decrypt`. The stored layout is the local providers' one: ``iv(12) || ciphertext || tag``.

Sessions: one logged-in session per process, opened on first use (after a fork, the child re-initialises
the library, as PKCS#11 requires) and re-opened once when the token reports it lost (token removed, HSM
restarted). python-pkcs11 initialises the library without locking callbacks, which PKCS#11 allows libraries
to read as "one thread at a time" (SoftHSM2 then disables its own mutexes), so every call into the token
holds this provider's lock. `unwrap_many` takes that lock and looks the key object up once for a whole
batch: that is what batching buys here (releases and rotation unwrap thousands of keys in a row; a network
HSM pays a round trip per call on top, so the saving there is larger).

Failures of the HSM itself (library missing, token missing, PIN wrong, session lost) raise
`KeyProviderUnavailable` with a stable `reason`; the service answers 503 `key_provider_unavailable`, the
transaction rolls back, and `/readyz` reports the reason. Nothing here logs, and no message carries the PIN
or key material.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from governance.vault.keyproviders import KeyProviderError, KeyProviderUnavailable, UnwrapError

__all__ = ["Pkcs11KeyProvider", "Pkcs11Settings"]

_IV_BYTES = 12
_TAG_BITS = 128
_KEY_BITS = 256
DEFAULT_KEY_LABEL = "governance-vault-master"
T = TypeVar("T")


@dataclass(frozen=True)
class Pkcs11Settings:
    """Where the token is and how to log in. `pin` is read from `pin_file` when that is given."""

    library: str
    token_label: str
    pin: str | None = None
    pin_file: str | None = None
    key_label: str = DEFAULT_KEY_LABEL

    def read_pin(self) -> str:
        if self.pin_file:
            try:
                return Path(self.pin_file).read_text(encoding="utf-8").strip()
            except OSError:
                raise KeyProviderUnavailable(reason="pin_unreadable") from None
        if self.pin:
            return self.pin
        raise KeyProviderUnavailable(reason="pin_missing")

    @classmethod
    def from_settings(cls, get: Callable[[str], str | None]) -> Pkcs11Settings:
        """From `GOVERNANCE_VAULT_PKCS11_*` (see README, "Master key in an HSM (PKCS#11)")."""
        library = (get("VAULT_PKCS11_LIBRARY") or "").strip()
        token_label = (get("VAULT_PKCS11_TOKEN_LABEL") or "").strip()
        if not library or not token_label:
            raise KeyProviderError(
                "the pkcs11 key provider needs GOVERNANCE_VAULT_PKCS11_LIBRARY and GOVERNANCE_VAULT_PKCS11_TOKEN_LABEL"
            )
        pin, pin_file = get("VAULT_PKCS11_PIN"), get("VAULT_PKCS11_PIN_FILE")
        if not pin and not pin_file:
            raise KeyProviderError("the pkcs11 key provider needs GOVERNANCE_VAULT_PKCS11_PIN_FILE (or _PIN)")
        key_label = (get("VAULT_PKCS11_KEY_LABEL") or DEFAULT_KEY_LABEL).strip()
        return cls(library, token_label, pin=pin or None, pin_file=pin_file or None, key_label=key_label)


def _version_id(version: int) -> bytes:
    return version.to_bytes(4, "big")


class _Connection:
    """One logged-in session and the key objects found through it (handles are valid only in it)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.keys: dict[int, Any] = {}
        self.pid = os.getpid()


class Pkcs11KeyProvider:
    """Master-key versions as non-extractable AES keys in a PKCS#11 token (an HSM, or SoftHSM2 in tests).

    `add_version` generates the next version inside the token; `retire_version` destroys its object
    (`C_DestroyObject`), so the vault's key epochs run unattended (`epochs_automatic`). `first_version`
    numbers the token's first key above the versions of the provider it replaces (a migration from the
    file provider keeps the version numbers of both disjoint).
    """

    name = "pkcs11"
    epochs_automatic = True

    def __init__(self, settings: Pkcs11Settings, *, first_version: int = 1) -> None:
        self.settings = settings
        self.first_version = max(1, first_version)
        self._lock = threading.RLock()
        self._connection: _Connection | None = None
        self._versions: list[int] | None = None

    # ------------------------------------------------------------------------------------------ sessions

    def _library(self) -> Any:
        try:
            # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
            import pkcs11
        except ImportError:
            raise KeyProviderUnavailable(reason="library_missing") from None
        if not Path(self.settings.library).is_file():
            raise KeyProviderUnavailable(reason="library_missing")
        try:
            return pkcs11.lib(self.settings.library)
        except Exception:  # a file that is not a PKCS#11 module, or one that fails to initialise
            raise KeyProviderUnavailable(reason="library_missing") from None

    def _open(self) -> _Connection:
        # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
        from pkcs11 import exceptions as p11

        lib = self._library()
        if self._connection is not None and self._connection.pid != os.getpid():
            # a forked child: the parent's sessions are not ours; PKCS#11 wants C_Initialize again
            self._connection = None
            try:
                lib.reinitialize()
            except p11.PKCS11Error:
                raise KeyProviderUnavailable(reason="session_failed") from None
        token = self._token(lib)
        pin = self.settings.read_pin()
        try:
            session = token.open(user_pin=pin, rw=True)
        except p11.UserAlreadyLoggedIn:  # another provider object of this process logged in: sessions share it
            session = token.open(rw=True)
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
            raise KeyProviderUnavailable(reason="pin_incorrect") from None
        except p11.PinLocked:
            raise KeyProviderUnavailable(reason="pin_locked") from None
        except (p11.TokenNotPresent, p11.DeviceRemoved, p11.SlotIDInvalid):
            raise KeyProviderUnavailable(reason="token_missing") from None
        except p11.PKCS11Error:
            raise KeyProviderUnavailable(reason="session_failed") from None
        return _Connection(session)

    def _token(self, lib: Any) -> Any:
        for attempt in (1, 2):
            found = self._find_token(lib)
            if found is not None:
                return found
            if attempt == 1:
                # a token (HSM partition) created after the library was initialised appears only after
                # C_Finalize + C_Initialize; other sessions of this process recover through `_call`
                with contextlib.suppress(Exception):
                    lib.reinitialize()
        raise KeyProviderUnavailable(reason="token_missing")

    def _find_token(self, lib: Any) -> Any | None:
        """The token with our label, slot by slot: one broken slot (a token deleted under a running
        library answers CKR_GENERAL_ERROR) must not hide the others, as `lib.get_token` lets it."""
        # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
        from pkcs11 import exceptions as p11

        matches = []
        try:
            slots = lib.get_slots(token_present=True)
        except p11.PKCS11Error:
            return None
        for slot in slots:
            try:
                token = slot.get_token()
            except p11.PKCS11Error:
                continue
            if token.label == self.settings.token_label:
                matches.append(token)
        if len(matches) > 1:
            raise KeyProviderUnavailable(reason="token_ambiguous")
        return matches[0] if matches else None

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        self._versions = None
        if connection is not None and connection.pid == os.getpid():
            # a session the token already lost cannot be closed; forget it
            with contextlib.suppress(Exception):
                connection.session.close()

    @contextmanager
    def _session(self) -> Iterator[_Connection]:
        with self._lock:
            if self._connection is None or self._connection.pid != os.getpid():
                self._connection = self._open()
            yield self._connection

    def _call(self, operation: Callable[[_Connection], T]) -> T:
        """Run `operation` in the session; a lost session (token removed, HSM restarted) is re-opened once."""
        # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
        from pkcs11 import exceptions as p11

        lost = (
            p11.SessionHandleInvalid,
            p11.SessionClosed,
            p11.TokenNotPresent,
            p11.DeviceRemoved,
            p11.DeviceError,
            p11.UserNotLoggedIn,
            p11.KeyHandleInvalid,
            p11.ObjectHandleInvalid,
        )
        with self._lock:
            for attempt in (1, 2):
                try:
                    with self._session() as connection:
                        return operation(connection)
                except lost:
                    self._drop()
                    if attempt == 2:
                        raise KeyProviderUnavailable(reason="session_failed") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close this process's session (tests; the process's exit closes it otherwise)."""
        with self._lock:
            self._drop()

    # ------------------------------------------------------------------------------------------ versions

    def _label(self, version: int) -> str:
        return f"{self.settings.key_label}-v{version}"

    def _scan(self, connection: _Connection) -> list[int]:
        # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
        from pkcs11 import Attribute, KeyType, ObjectClass

        prefix = self.settings.key_label + "-v"
        found: list[int] = []
        query = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
        for key in connection.session.get_objects(query):
            label = key[Attribute.LABEL] or ""
            if label.startswith(prefix) and label[len(prefix) :].isdigit():
                version = int(label[len(prefix) :])
                found.append(version)
                connection.keys[version] = key
        return sorted(found)

    def versions(self) -> Sequence[int]:
        """The versions on the token (a fresh scan: the readiness check and rotations want the truth)."""

        def scan(connection: _Connection) -> list[int]:
            connection.keys.clear()
            return self._scan(connection)

        self._versions = self._call(scan)
        return list(self._versions)

    def _known_versions(self) -> list[int]:
        return self._versions if self._versions is not None else list(self.versions())

    def active_version(self) -> int:
        versions = self._known_versions()
        if not versions:
            versions = list(self.versions())  # another process may have generated the first key just now
        if not versions:
            # an empty token: the first process to need a key generates it (`governance keys status` at
            # deployment does this once, before the workers start)
            return self.add_version()
        return max(versions)

    def refresh(self) -> None:
        """Forget the cached version list (the cache sweeper calls this): versions another process destroyed
        stop being used here within a sweep, and new ones are found on first use anyway."""
        with self._lock:
            self._versions = None
            if self._connection is not None:
                self._connection.keys.clear()

    def _key(self, connection: _Connection, version: int) -> Any:
        key = connection.keys.get(version)
        if key is None:
            # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
            from pkcs11 import Attribute, ObjectClass
            from pkcs11 import exceptions as p11

            try:
                key = connection.session.get_key(
                    object_class=ObjectClass.SECRET_KEY, label=self._label(version), id=_version_id(version)
                )
            except p11.NoSuchKey:
                raise KeyProviderError(f"master key version {version} is not available") from None
            except p11.MultipleObjectsReturned:
                raise KeyProviderError(f"master key version {version} is on the token more than once") from None
            if key[Attribute.EXTRACTABLE] or not key[Attribute.SENSITIVE]:
                raise KeyProviderError(f"master key version {version} is extractable; refusing to use it")
            connection.keys[version] = key
        return key

    # ------------------------------------------------------------------------------------------ wrapping

    @staticmethod
    def _gcm(iv: bytes, context: bytes) -> tuple[Any, Any]:
        # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        return Mechanism.AES_GCM, GCMParams(iv, context, _TAG_BITS)

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        iv = os.urandom(_IV_BYTES)
        mechanism, param = self._gcm(iv, context)

        def encrypt(connection: _Connection) -> bytes:
            return iv + self._key(connection, version).encrypt(key, mechanism=mechanism, mechanism_param=param)

        return self._call(encrypt)

    def _decrypt_one(self, connection: _Connection, version: int, wrapped: bytes, context: bytes) -> bytes:
        # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
        from pkcs11 import exceptions as p11

        key = self._key(connection, version)
        mechanism, param = self._gcm(wrapped[:_IV_BYTES], context)
        try:
            return bytes(key.decrypt(wrapped[_IV_BYTES:], mechanism=mechanism, mechanism_param=param))
        except (p11.EncryptedDataInvalid, p11.EncryptedDataLenRange, p11.DataLenRange, p11.GeneralError):
            # SoftHSM2 reports a failed GCM tag as CKR_GENERAL_ERROR; a token that is really failing fails
            # the next call too, which `_call` turns into `KeyProviderUnavailable`
            self._probe(connection)
            raise UnwrapError(f"wrapped key does not authenticate under master version {version}") from None

    @staticmethod
    def _probe(connection: _Connection) -> None:
        """A cheap call that fails with a session/token error when the failure was not the ciphertext's."""
        connection.session.generate_random(8)

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        return self._call(lambda connection: self._decrypt_one(connection, version, wrapped, context))

    def unwrap_many(self, items: Sequence[tuple[int, bytes, bytes]]) -> list[bytes | UnwrapError]:
        """Unwrap many `(version, wrapped, context)` in one session under one lock hold; a key that does not
        authenticate comes back as its `UnwrapError` (the others still unwrap), an unavailable HSM raises."""

        def run(connection: _Connection) -> list[bytes | UnwrapError]:
            out: list[bytes | UnwrapError] = []
            for version, wrapped, context in items:
                try:
                    out.append(self._decrypt_one(connection, version, wrapped, context))
                except UnwrapError as exc:
                    out.append(exc)
            return out

        return self._call(run)

    # ------------------------------------------------------------------------------------------ versions

    def add_version(self) -> int:
        """Generate the next version inside the token: AES-256, sensitive, never extractable."""
        # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
        from pkcs11 import Attribute, KeyType

        def generate(connection: _Connection) -> int:
            existing = self._scan(connection)
            version = max([*existing, self.first_version - 1]) + 1
            template: Mapping[Any, Any] = {
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.ENCRYPT: True,
                Attribute.DECRYPT: True,
                Attribute.WRAP: False,
                Attribute.UNWRAP: False,
                Attribute.SIGN: False,
                Attribute.VERIFY: False,
                Attribute.DERIVE: False,
            }
            key = connection.session.generate_key(
                KeyType.AES, _KEY_BITS, label=self._label(version), id=_version_id(version), template=template
            )
            connection.keys[version] = key
            self._versions = sorted([*existing, version])
            return version

        return self._call(generate)

    def retire_version(self, version: int) -> None:
        """Destroy the version's key object in the token; a no-op if it is already gone."""
        # deferred: optional dependency python-pkcs11, loaded only where an HSM is configured
        from pkcs11 import exceptions as p11

        def destroy(connection: _Connection) -> None:
            existing = self._scan(connection)
            if version not in existing:
                return
            if version == max(existing):
                raise KeyProviderError("the active master key version cannot be retired")
            try:
                self._key(connection, version).destroy()
            except p11.PKCS11Error:
                raise KeyProviderError(f"the token does not allow destroying master key version {version}") from None
            connection.keys.pop(version, None)
            self._versions = [v for v in existing if v != version]

        self._call(destroy)
