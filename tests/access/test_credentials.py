"""Password hashing, TOTP with replay protection, recovery codes and the enrolment QR code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from governance.access import credentials as cred

NOW = datetime(2026, 11, 28, 12, 0, 10, tzinfo=UTC)


def test_password_hash_is_argon2id_salted_and_verifies() -> None:
    first = cred.hash_password("correct horse battery staple")
    second = cred.hash_password("correct horse battery staple")
    assert first.startswith("$argon2id$")
    assert first != second
    assert cred.verify_password(first, "correct horse battery staple")
    assert not cred.verify_password(first, "correct horse battery stapl")
    assert not cred.verify_password("not-a-hash", "correct horse battery staple")


def test_unknown_account_never_verifies() -> None:
    assert not cred.verify_password(None, "anything at all, really")


@pytest.mark.parametrize("password", ["short", "x" * 11, "y" * 1025])
def test_password_policy(password: str) -> None:
    with pytest.raises(cred.PasswordPolicyError) as caught:
        cred.hash_password(password)
    assert password not in str(caught.value)


def test_overlong_password_is_refused_without_hashing() -> None:
    stored = cred.hash_password("a perfectly fine password")
    assert not cred.verify_password(stored, "z" * 100_000)


def test_totp_accepts_current_code_and_one_step_of_drift() -> None:
    secret = cred.new_totp_secret()
    totp = pyotp.TOTP(secret)
    for delta in (-30, 0, 30):
        code = totp.at(NOW + timedelta(seconds=delta))
        assert cred.verify_totp(secret, code, last_used_step=None, now=NOW).ok, delta
    too_old = totp.at(NOW - timedelta(seconds=90))
    assert not cred.verify_totp(secret, too_old, last_used_step=None, now=NOW).ok


def test_totp_replay_is_refused_even_inside_the_window() -> None:
    secret = cred.new_totp_secret()
    code = pyotp.TOTP(secret).at(NOW)
    first = cred.verify_totp(secret, code, last_used_step=None, now=NOW)
    assert first.ok
    replay = cred.verify_totp(secret, code, last_used_step=first.step, now=NOW + timedelta(seconds=5))
    assert not replay.ok
    assert replay.replayed
    # An older (still in-window) code after a newer one is a replay too.
    older = pyotp.TOTP(secret).at(NOW - timedelta(seconds=30))
    assert not cred.verify_totp(secret, older, last_used_step=first.step, now=NOW).ok
    # The next step's code is fine.
    later = NOW + timedelta(seconds=30)
    assert cred.verify_totp(secret, pyotp.TOTP(secret).at(later), last_used_step=first.step, now=later).ok


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_totp_malformed_codes(code: str) -> None:
    assert not cred.verify_totp(cred.new_totp_secret(), code, last_used_step=None, now=NOW).ok


def test_totp_code_with_spaces_is_accepted() -> None:
    secret = cred.new_totp_secret()
    code = pyotp.TOTP(secret).at(NOW)
    assert cred.verify_totp(secret, f"{code[:3]} {code[3:]}", last_used_step=None, now=NOW).ok


def test_provisioning_uri_and_qr_svg() -> None:
    secret = cred.new_totp_secret()
    assert len(secret) == 32
    uri = cred.provisioning_uri(secret, account="ops-alice", issuer="Governance")
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert parse_qs(parsed.query)["secret"] == [secret]
    assert parse_qs(parsed.query)["issuer"] == ["Governance"]
    svg = cred.qr_svg(uri)
    root = ET.fromstring(svg)  # noqa: S314 - our own generated SVG
    assert root.tag.endswith("svg")
    assert "authenticator" in svg


def test_recovery_codes_are_unique_readable_and_hash_normalized() -> None:
    codes = cred.generate_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert len(code) == 19
        assert code.count("-") == 3
        assert not set(code.replace("-", "")) & set("01ilo")
    code = codes[0]
    hashed = cred.hash_recovery_code(code)
    assert code not in hashed
    assert cred.hash_recovery_code(code.upper().replace("-", " ")) == hashed
    assert cred.hash_recovery_code(codes[1]) != hashed
