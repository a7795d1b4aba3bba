"""Signed checkpoints: text format, signatures, key ids, tampering."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit.checkpoint import (
    CheckpointFormatError,
    CheckpointSignatureError,
    UnknownCheckpointKeyError,
    key_id,
    load_public_key_pem,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)

KEY = Ed25519PrivateKey.generate()
TIME = dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)
ROOT32 = base64.b64encode(bytes(32)).decode()
ROOT31 = base64.b64encode(bytes(31)).decode()
TIME_LINE = "time 2026-11-28T12:00:00.000000Z"


def make(size=1234, root=bytes(range(32)), key=KEY, name="audit-key"):
    return sign_checkpoint(key, key_name=name, origin="example.org/audit", size=size, root=root, time=TIME)


def test_text_round_trip_and_layout():
    checkpoint = make()
    text = checkpoint.to_text()
    lines = text.split("\n")
    assert lines[:4] == ["example.org/audit", "1234", base64.b64encode(bytes(range(32))).decode(),
                         "time 2026-11-28T12:00:00.123456Z"]  # fmt: skip
    assert lines[4] == ""
    assert lines[5].startswith("\u2014 audit-key ")
    parsed = parse_checkpoint(text)
    assert parsed == checkpoint
    assert parsed.key_id == key_id("audit-key", KEY.public_key())
    verify_checkpoint(parsed, {"audit-key": KEY.public_key()}, origin="example.org/audit")


@pytest.mark.parametrize(
    ("old", "new"),
    [("\n1234\n", "\n1235\n"), ("time 2026", "time 2027"), ("example.org", "example.com")],
)
def test_any_change_to_the_body_breaks_the_signature(old, new):
    text = make().to_text().replace(old, new, 1)
    with pytest.raises(CheckpointSignatureError):
        verify_checkpoint(parse_checkpoint(text), {"audit-key": KEY.public_key()})


def test_a_changed_root_breaks_the_signature():
    forged = parse_checkpoint(make(root=bytes(32)).to_text())
    genuine = make()
    b64 = base64.b64encode
    text = genuine.to_text().replace(b64(genuine.root).decode(), b64(forged.root).decode())
    with pytest.raises(CheckpointSignatureError):
        verify_checkpoint(parse_checkpoint(text), {"audit-key": KEY.public_key()})


def test_other_keys_and_other_logs_are_not_trusted():
    other = Ed25519PrivateKey.generate()
    with pytest.raises(UnknownCheckpointKeyError):
        verify_checkpoint(make(key=other), {"audit-key": KEY.public_key()})
    with pytest.raises(UnknownCheckpointKeyError):
        verify_checkpoint(make(), {"audit-key": KEY.public_key()}, origin="other.org/audit")
    # after a rotation the verifier holds both keys and picks by key hash
    verify_checkpoint(make(key=other), [("audit-key", KEY.public_key()), ("audit-key", other.public_key())])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "origin\n12\n",
        "origin\nx\nAAAA\ntime 2026-11-28T12:00:00.000000Z\n\n\u2014 k AAAA\n",
        f"origin\n012\n{ROOT32}\n{TIME_LINE}\n\n",
        f"origin\n12\n{ROOT31}\n{TIME_LINE}\n\n",
        f"origin\n12\n{ROOT32}\n{TIME_LINE}\n\n\u2014 k AA\n",
    ],
)
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(CheckpointFormatError):
        parse_checkpoint(text)


def test_public_key_pem_loading():
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = KEY.public_key().public_bytes(serialization.Encoding.PEM, spki)
    assert key_id("k", load_public_key_pem(pem)) == key_id("k", KEY.public_key())
