"""Property tests of the pure parts: encryption round trips and rejects any change; normalization is
idempotent; masks never reveal more than they promise."""

from __future__ import annotations

import uuid
from pathlib import Path

import pycountry
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.vault.catalog import load_catalog
from governance.vault.crypto import DecryptionError, SubjectCipher
from governance.vault.fields import FieldValueError, mask, normalize

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "policies" / "categories.yaml")
CIPHER = SubjectCipher(bytes(range(32)), uuid.UUID(int=7), 1)
names = st.text(min_size=1, max_size=40)


@given(plaintext=st.binary(max_size=600), name=names)
def test_round_trip(plaintext: bytes, name: str) -> None:
    assert CIPHER.decrypt(name, CIPHER.encrypt(name, plaintext)) == plaintext


@given(plaintext=st.binary(max_size=200), name=names, data=st.data())
@settings(max_examples=200)
def test_any_flipped_bit_fails(plaintext: bytes, name: str, data: st.DataObject) -> None:
    blob = bytearray(CIPHER.encrypt(name, plaintext))
    position = data.draw(st.integers(0, len(blob) - 1))
    blob[position] ^= 1 << data.draw(st.integers(0, 7))
    try:
        CIPHER.decrypt(name, bytes(blob))
    except DecryptionError:
        return
    raise AssertionError("a modified ciphertext decrypted")


@given(name=names, other=names, plaintext=st.binary(max_size=100))
def test_other_name_fails(name: str, other: str, plaintext: bytes) -> None:
    if name == other:
        return
    try:
        CIPHER.decrypt(other, CIPHER.encrypt(name, plaintext))
    except DecryptionError:
        return
    raise AssertionError("a ciphertext decrypted under another field name")


local_parts = st.from_regex(r"[a-z][a-z0-9._+-]{0,20}[a-z0-9]", fullmatch=True).filter(lambda s: ".." not in s)


@given(local=local_parts, domain=st.sampled_from(["example.com", "mail.example.org", "uni.example.ac.uk"]))
def test_email_normalization_is_idempotent_and_mask_hides_the_local_part(local: str, domain: str) -> None:
    spec = CATALOG.profile_fields["email"]
    try:
        once = normalize("email", spec, f"{local}@{domain.upper()}")
    except FieldValueError:
        return
    assert normalize("email", spec, once) == once
    masked = mask(spec, once)
    assert masked == f"{local[0]}***@{domain}"


@given(country=st.sampled_from(sorted(c.alpha_2 for c in pycountry.countries)), lower=st.booleans())
def test_country_codes(country: str, lower: bool) -> None:
    spec = CATALOG.profile_fields["country"]
    assert normalize("country", spec, country.lower() if lower else country) == country


@given(digits=st.text(alphabet="0123456789", min_size=7, max_size=12))
def test_phone_mask_shows_at_most_the_last_two_digits(digits: str) -> None:
    spec = CATALOG.profile_fields["phone"]
    try:
        value = normalize("phone", spec, "+49" + digits)
    except FieldValueError:
        return
    assert normalize("phone", spec, value) == value
    masked = mask(spec, value)
    assert masked.endswith(value[-2:])
    assert sum(ch.isdigit() for ch in masked) == 2
