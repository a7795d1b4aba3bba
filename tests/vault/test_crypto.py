"""Envelope encryption: associated data binds subject, field and key version; tampering fails; keys wrap."""

from __future__ import annotations

import uuid

import pytest

from governance.vault.crypto import BlindIndex, DecryptionError, Envelope, SubjectCipher, WrappedKey
from governance.vault.keyproviders import KeyProviderError, StaticKeyProvider, UnwrapError

ALICE = uuid.UUID("00000000-0000-4000-8000-000000000001")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000002")


@pytest.fixture
def envelope() -> Envelope:
    return Envelope(StaticKeyProvider.generate())


def test_round_trip_and_fresh_nonce(envelope: Envelope) -> None:
    _, cipher = envelope.create(ALICE)
    first = cipher.encrypt("email", b"alice@example.com")
    second = cipher.encrypt("email", b"alice@example.com")
    assert first != second  # random nonce per encryption
    assert b"alice" not in first
    assert cipher.decrypt("email", first) == b"alice@example.com"
    assert len(first) == 1 + 12 + len(b"alice@example.com") + 16


def test_ciphertext_moved_to_another_field_fails(envelope: Envelope) -> None:
    _, cipher = envelope.create(ALICE)
    blob = cipher.encrypt("email", b"alice@example.com")
    with pytest.raises(DecryptionError):
        cipher.decrypt("name", blob)


def test_ciphertext_moved_to_another_subject_fails_even_with_the_same_key() -> None:
    key = bytes(range(32))
    alice, bob = SubjectCipher(key, ALICE, 1), SubjectCipher(key, BOB, 1)
    blob = alice.encrypt("email", b"alice@example.com")
    with pytest.raises(DecryptionError):
        bob.decrypt("email", blob)


def test_ciphertext_under_another_key_version_fails() -> None:
    key = bytes(range(32))
    blob = SubjectCipher(key, ALICE, 1).encrypt("email", b"x")
    with pytest.raises(DecryptionError):
        SubjectCipher(key, ALICE, 2).decrypt("email", blob)


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_tampered_ciphertext_fails(envelope: Envelope, position: int) -> None:
    _, cipher = envelope.create(ALICE)
    blob = bytearray(cipher.encrypt("phone", b"+4915112345678"))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        cipher.decrypt("phone", bytes(blob))


def test_truncated_ciphertext_fails(envelope: Envelope) -> None:
    _, cipher = envelope.create(ALICE)
    blob = cipher.encrypt("phone", b"+4915112345678")
    for cut in (0, 5, 13, len(blob) - 1):
        with pytest.raises(DecryptionError):
            cipher.decrypt("phone", blob[:cut])


def test_wrapped_key_is_bound_to_subject_and_version(envelope: Envelope) -> None:
    wrapped, cipher = envelope.create(ALICE)
    blob = cipher.encrypt("email", b"a@example.com")
    envelope.clear()
    assert envelope.cipher(wrapped).decrypt("email", blob) == b"a@example.com"
    for moved in (
        WrappedKey(BOB, wrapped.version, wrapped.master_version, wrapped.wrapped),
        WrappedKey(ALICE, wrapped.version + 1, wrapped.master_version, wrapped.wrapped),
    ):
        with pytest.raises(UnwrapError):
            envelope.unwrap(moved)


def test_rewrap_under_new_master_version_keeps_data_readable() -> None:
    provider = StaticKeyProvider.generate()
    envelope = Envelope(provider)
    wrapped, cipher = envelope.create(ALICE)
    blob = cipher.encrypt("name", b"Alice")
    new_version = provider.add_version()
    rewrapped = envelope.rewrap(wrapped, new_version)
    assert rewrapped.master_version == new_version != wrapped.master_version
    provider.retire_version(wrapped.master_version)
    fresh = Envelope(provider)  # no cache: must unwrap with the new master version
    assert fresh.cipher(rewrapped).decrypt("name", blob) == b"Alice"
    with pytest.raises(KeyProviderError, match="not available"):
        fresh.unwrap(wrapped)


def test_forget_drops_cached_keys(envelope: Envelope) -> None:
    wrapped, _ = envelope.create(ALICE)
    envelope.forget(ALICE)
    envelope.provider = StaticKeyProvider.generate()  # the original master key is gone
    with pytest.raises(UnwrapError):
        envelope.cipher(wrapped)


def test_cache_is_bounded() -> None:
    envelope = Envelope(StaticKeyProvider.generate(), cache_size=3)
    keys = [envelope.create(uuid.uuid4())[0] for _ in range(5)]
    assert len(envelope._cache) == 3
    assert envelope.cipher(keys[0]).subject_id == keys[0].subject_id  # evicted, unwrapped again


def test_blind_index_is_keyed_deterministic_and_separated_by_purpose() -> None:
    index = BlindIndex(b"k" * 32)
    assert index.compute("email", "a@example.com") == index.compute("email", "a@example.com")
    assert index.compute("email", "a@example.com") != index.compute("external_ref", "a@example.com")
    assert BlindIndex(b"j" * 32).compute("email", "a@example.com") != index.compute("email", "a@example.com")
    assert len(index.compute("email", "a@example.com")) == 32
    with pytest.raises(ValueError, match="at least 32"):
        BlindIndex(b"short")
