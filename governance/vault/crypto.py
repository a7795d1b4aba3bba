"""Envelope encryption for the vault: a data key per subject, wrapped by a master-key version.

- Every subject has a random 256-bit data key (`new_data_key`). Fields and events are encrypted with
  AES-256-GCM under it, with a random 96-bit nonce and associated data binding the subject id, the data-key
  version and the field name, so a ciphertext copied to another subject, field or key version fails to
  authenticate.
- The data key is stored only wrapped (`Envelope.wrap`) by a `KeyProvider` master-key version; the wrapping
  also authenticates the subject id and the data-key version.
- Unwrapped keys live only in memory, in a bounded cache of ready `SubjectCipher`s (one `AESGCM` object per
  key), which keeps the hot path at one urandom, one AES-GCM call and one concatenation per field. Entries
  have a bounded lifetime (`cache_seconds`): a thread per process drops them when it is over, so a key
  destroyed by another process (erasure, data-key rotation) leaves this process's memory within
  `cache_seconds + SWEEP_SECONDS` even if this process never touches that subject again.
- Blind indexes (`BlindIndex`) are HMAC-SHA-256 with a key of their own over a normalized value.

Ciphertext layout: ``b"\\x01" || nonce(12) || AES-GCM ciphertext+tag``.
Nothing here logs, and no exception message carries key material or plaintext.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.vault.keyproviders import KeyProvider, UnwrapError, unwrap_many

__all__ = [
    "BlindIndex",
    "DecryptionError",
    "Envelope",
    "SubjectCipher",
    "WrappedKey",
    "new_data_key",
]

DATA_KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_V1 = b"\x01"
_MIN_BLOB = 1 + NONCE_BYTES + 16
_FIELD_AAD_PREFIX = b"governance.vault.field.v1\x00"
_WRAP_AAD_PREFIX = b"governance.vault.datakey.v1\x00"
DEFAULT_CACHE_SECONDS = 60.0
SWEEP_SECONDS = 5.0  # how often the sweeper looks; an expired entry lives at most this much longer


class DecryptionError(Exception):
    """A ciphertext did not authenticate: wrong subject, field, key version or key, or tampered bytes."""


def new_data_key() -> bytes:
    """A fresh random 256-bit data key (from the OS CSPRNG)."""
    return secrets.token_bytes(DATA_KEY_BYTES)


class SubjectCipher:
    """AES-256-GCM under one subject's data key (one version). Thread-safe; reuse it (it caches AADs)."""

    __slots__ = ("_aad", "_aesgcm", "_prefix", "subject_id", "version")

    def __init__(self, key: bytes, subject_id: uuid.UUID, version: int) -> None:
        if len(key) != DATA_KEY_BYTES:
            raise ValueError("a data key is 32 bytes")
        self._aesgcm = AESGCM(key)
        self.subject_id = subject_id
        self.version = version
        self._prefix = _FIELD_AAD_PREFIX + subject_id.bytes + version.to_bytes(4, "big")
        self._aad: dict[str, bytes] = {}

    def _aad_for(self, name: str) -> bytes:
        aad = self._aad.get(name)
        if aad is None:
            aad = self._prefix + name.encode("utf-8")
            if len(self._aad) < 256:  # field names are few; event ids are many and not worth keeping
                self._aad[name] = aad
        return aad

    def encrypt(self, name: str, plaintext: bytes) -> bytes:
        """Encrypt `plaintext` as the value of `name` (a field name or an event's AAD label)."""
        aad = self._aad.get(name) or self._aad_for(name)
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_V1 + nonce + self._aesgcm.encrypt(nonce, plaintext, aad)

    def decrypt(self, name: str, blob: bytes) -> bytes:
        """Decrypt a value of `name`; raises `DecryptionError` if anything about it does not match."""
        aad = self._aad.get(name) or self._aad_for(name)
        if len(blob) < _MIN_BLOB or blob[0] != 1:
            raise DecryptionError("unknown ciphertext format")
        try:
            return self._aesgcm.decrypt(blob[1:13], blob[13:], aad)
        except InvalidTag:
            raise DecryptionError("ciphertext does not authenticate for this subject, field and key") from None

    def decrypt_event(self, event_id: str, blob: bytes) -> bytes:
        """`decrypt("event:" + event_id, blob)` without the AAD cache (event ids are many; the bulk read hot path)."""
        if len(blob) < _MIN_BLOB or blob[0] != 1:
            raise DecryptionError("unknown ciphertext format")
        try:
            return self._aesgcm.decrypt(blob[1:13], blob[13:], self._prefix + b"event:" + event_id.encode("utf-8"))
        except InvalidTag:
            raise DecryptionError("ciphertext does not authenticate for this subject, field and key") from None


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key as stored: wrapped bytes plus the versions needed to unwrap it."""

    subject_id: uuid.UUID
    version: int
    master_version: int
    wrapped: bytes


def _wrap_context(subject_id: uuid.UUID, version: int) -> bytes:
    return _WRAP_AAD_PREFIX + subject_id.bytes + version.to_bytes(4, "big")


class Envelope:
    """Wraps and unwraps data keys through a `KeyProvider`, caching ready ciphers (bounded in number, oldest
    out first, and in lifetime).

    The cache key is (subject id, data-key version): re-wrapping under a new master version does not change
    the data key, so a cached cipher stays valid through master rotation. `forget` drops a subject
    (shredding). Every entry is dropped `cache_seconds` after it was unwrapped (by the process's sweeper
    thread, not on the hot path), which bounds how long a key destroyed elsewhere stays in this process.
    """

    def __init__(
        self, provider: KeyProvider, *, cache_size: int = 20_000, cache_seconds: float = DEFAULT_CACHE_SECONDS
    ) -> None:
        if cache_seconds <= 0:
            raise ValueError("cache_seconds must be positive")
        self.provider = provider
        # OrderedDict: evicting the oldest is O(1) (`next(iter(dict))` after many deletions at the front of a
        # plain dict walks the deleted slots, which made a 100,000-subject read spend seconds evicting)
        self._cache: OrderedDict[tuple[uuid.UUID, int], SubjectCipher] = OrderedDict()
        self._born: dict[tuple[uuid.UUID, int], float] = {}  # monotonic time each entry was unwrapped
        self._cache_size = cache_size
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        _sweeper.watch(self)

    def wrap(
        self, subject_id: uuid.UUID, version: int, data_key: bytes, master_version: int | None = None
    ) -> WrappedKey:
        master = self.provider.active_version() if master_version is None else master_version
        wrapped = self.provider.wrap(master, data_key, _wrap_context(subject_id, version))
        return WrappedKey(subject_id, version, master, wrapped)

    def unwrap(self, key: WrappedKey) -> bytes:
        return self.provider.unwrap(key.master_version, key.wrapped, _wrap_context(key.subject_id, key.version))

    def unwrap_many(self, keys: Sequence[WrappedKey]) -> list[bytes | UnwrapError]:
        """Unwrap many data keys in one provider call when it batches (an HSM: one session, one key lookup);
        a key that fails to authenticate comes back as its `UnwrapError`, in place."""
        items = [(k.master_version, k.wrapped, _wrap_context(k.subject_id, k.version)) for k in keys]
        return unwrap_many(self.provider, items)

    def rewrap(self, key: WrappedKey, master_version: int) -> WrappedKey:
        """The same data key wrapped under `master_version` (for master-key rotation)."""
        return self.wrap(key.subject_id, key.version, self.unwrap(key), master_version)

    def create(self, subject_id: uuid.UUID, version: int = 1, master_version: int | None = None):
        """A new data key for a subject: returns (WrappedKey to store, ready SubjectCipher)."""
        data_key = new_data_key()
        wrapped = self.wrap(subject_id, version, data_key, master_version)
        cipher = SubjectCipher(data_key, subject_id, version)
        self._remember(cipher)
        return wrapped, cipher

    def cipher(self, key: WrappedKey, *, remember: bool = True) -> SubjectCipher:
        """The ready cipher for a stored data key (unwrapped once, then served from the cache).

        `remember=False` (bulk reads that keep their own per-chunk map) leaves the cache as it is, so that a
        release over 100,000 subjects neither churns it nor evicts the keys of the request path."""
        # a plain dict read is atomic under the GIL; only inserts and evictions take the lock
        cipher = self._cache.get((key.subject_id, key.version))
        if cipher is not None:
            return cipher
        cipher = SubjectCipher(self.unwrap(key), key.subject_id, key.version)
        if remember:
            self._remember(cipher)
        return cipher

    def cached(self, subject_id: uuid.UUID) -> bool:
        """Whether any data key of this subject is held unwrapped in this process (tests, diagnostics)."""
        return any(k[0] == subject_id for k in list(self._cache))

    def _remember(self, cipher: SubjectCipher) -> None:
        cache_key = (cipher.subject_id, cipher.version)
        with self._lock:
            self._cache[cache_key] = cipher
            self._cache.move_to_end(cache_key)  # entries stay in unwrap order, so expiry sweeps from the front
            self._born[cache_key] = time.monotonic()
            while len(self._cache) > self._cache_size:  # evict the oldest unwrapped key first (O(1))
                evicted, _ = self._cache.popitem(last=False)
                self._born.pop(evicted, None)

    def expire(self, now: float | None = None) -> int:
        """Drop the entries unwrapped more than `cache_seconds` ago; returns how many (the sweeper calls it)."""
        cutoff = (time.monotonic() if now is None else now) - self.cache_seconds
        dropped = 0
        with self._lock:
            while self._cache:
                oldest = next(iter(self._cache))
                if self._born.get(oldest, 0.0) > cutoff:
                    break
                del self._cache[oldest]
                self._born.pop(oldest, None)
                dropped += 1
        return dropped

    def forget(self, subject_id: uuid.UUID) -> None:
        """Drop every cached cipher of a subject (after shredding or data-key rotation)."""
        with self._lock:
            for cache_key in [k for k in self._cache if k[0] == subject_id]:
                del self._cache[cache_key]
                self._born.pop(cache_key, None)

    def forget_version(self, subject_id: uuid.UUID, version: int) -> None:
        """Drop one cached data-key version (after per-subject data-key rotation destroyed it)."""
        with self._lock:
            self._cache.pop((subject_id, version), None)
            self._born.pop((subject_id, version), None)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._born.clear()


class _Sweeper:
    """One daemon thread per process that expires every live envelope's cache entries and lets key providers
    that can pick up destroyed versions (`refresh()`) do so, every `SWEEP_SECONDS`.

    Started lazily, and again in a forked child (gunicorn workers fork from a master that may have started
    it; threads do not survive a fork)."""

    def __init__(self) -> None:
        self._envelopes: weakref.WeakSet[Envelope] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._pid = 0
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        if len(self._envelopes):
            self._start()

    def watch(self, envelope: Envelope) -> None:
        with self._lock:
            self._envelopes.add(envelope)
        self._start()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
        threading.Thread(target=self._run, name="vault-key-cache-sweeper", daemon=True).start()

    def sweep(self) -> None:
        for envelope in list(self._envelopes):
            envelope.expire()
            refresh = getattr(envelope.provider, "refresh", None)
            if refresh is not None:
                # an unreadable key file is reported by the readiness check, not by this thread
                with contextlib.suppress(Exception):
                    refresh()

    def _run(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            time.sleep(SWEEP_SECONDS)
            self.sweep()


_sweeper = _Sweeper()


class BlindIndex:
    """Keyed HMAC-SHA-256 lookups over normalized values, with a key separate from every encryption key.

    `purpose` separates index spaces (an email index value never equals an external-reference index value).
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a blind index key must be at least 32 bytes")
        self._key = key

    def compute(self, purpose: str, normalized_value: str) -> bytes:
        message = purpose.encode("utf-8") + b"\x00" + normalized_value.encode("utf-8")
        return hmac.digest(self._key, message, "sha256")  # the one-shot C path: same value as hmac.new(...)

    def hasher(self, purpose: str, prefix: str) -> Callable[[str], bytes]:
        """`compute(purpose, prefix + value)` for many values sharing a prefix (event ids of one subject)."""
        head = purpose.encode("utf-8") + b"\x00" + prefix.encode("utf-8")
        key = self._key

        def compute(value: str) -> bytes:
            return hmac.digest(key, head + value.encode("utf-8"), "sha256")

        return compute
