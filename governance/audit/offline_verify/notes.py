"""Signed notes: checkpoints (C2SP signed note, Ed25519) and witness cosignatures (C2SP tlog-cosignature v1)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .failures import UnusableInput, VerificationFailed

_SIG_PREFIX = "\u2014 "
_sha256 = hashlib.sha256


def cosignature_key_id(name: str, key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _sha256(name.encode() + b"\n\x04" + raw).digest()[:4]


def cosignature_message(body: str, timestamp: int) -> bytes:
    """What a v1 cosignature signs: two header lines, then the checkpoint body (with its final newline)."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


@dataclass(frozen=True)
class WitnessKey:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def parse_vkey(text: str) -> WitnessKey:
    """A witness verifier key ``<name>+<key id hex>+<base64(0x04 || Ed25519 public key)>``."""
    name, _, rest = text.strip().partition("+")
    key_id_hex, _, material_text = rest.partition("+")
    try:
        material = base64.b64decode(material_text, validate=True)
        key_id = bytes.fromhex(key_id_hex)
    except (ValueError, binascii.Error) as exc:
        raise UnusableInput("unreadable witness key") from exc
    if not name or len(material) != 33 or material[0] != 4 or len(key_id) != 4:
        raise UnusableInput("a witness key is name+keyid+base64(0x04 || 32-byte Ed25519 key)")
    key = Ed25519PublicKey.from_public_bytes(material[1:])
    if cosignature_key_id(name, key) != key_id:
        raise UnusableInput("the witness key id does not match its name and key")
    return WitnessKey(name, key_id, key)


def verify_cosignature(text: str, witness: WitnessKey) -> int | None:
    """The timestamp of `witness`'s valid cosignature on the note `text`, None when it carries none; raises
    VerificationFailed when a line by that witness does not verify."""
    body, sep, signatures = text.partition("\n\n")
    if not sep:
        return None
    for line in signatures.split("\n"):
        if not line.startswith(_SIG_PREFIX + witness.name + " "):
            continue
        try:
            blob = base64.b64decode(line.rpartition(" ")[2], validate=True)
        except (ValueError, binascii.Error):
            continue
        if len(blob) != 4 + 8 + 64 or blob[:4] != witness.key_id:
            continue
        timestamp = int.from_bytes(blob[4:12], "big")
        try:
            witness.public_key.verify(blob[12:], cosignature_message(body + "\n", timestamp))
        except InvalidSignature as exc:
            raise VerificationFailed(
                "witness_cosignature_invalid", None, f"bad cosignature by {witness.name} on a checkpoint"
            ) from exc
        return timestamp
    return None


# --- checkpoints (C2SP signed note) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: str
    key_name: str
    text: str


def _key_hash(name: str, key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _sha256(name.encode() + b"\n\x01" + raw).digest()[:4]


def parse_and_verify_checkpoint(text: str, keys: dict[bytes, tuple[str, Ed25519PublicKey]]) -> Checkpoint:
    """Parse a signed checkpoint and check one signature by a trusted key; raises VerificationFailed."""
    body, sep, signatures = text.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) != 4 or not lines[3].startswith("time ") or not lines[1].isdigit():
        raise VerificationFailed("checkpoint_malformed", None, "not a checkpoint note")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error) as exc:
        raise VerificationFailed("checkpoint_malformed", None, "unreadable root hash") from exc
    signed = (body + "\n").encode()
    for line in signatures.split("\n"):
        if not line.startswith(_SIG_PREFIX):
            continue
        name, _, blob_text = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(blob_text, validate=True)
        except (ValueError, binascii.Error):
            continue
        trusted = keys.get(blob[:4])
        if trusted is None or trusted[0] != name or len(blob) != 68:
            continue
        try:
            trusted[1].verify(blob[4:], signed)
        except InvalidSignature as exc:
            raise VerificationFailed(
                "checkpoint_signature_invalid", None, f"bad signature on the checkpoint of size {lines[1]}"
            ) from exc
        return Checkpoint(lines[0], int(lines[1]), root, lines[3][5:], name, text)
    raise VerificationFailed("checkpoint_unknown_key", None, f"no trusted signature on checkpoint {lines[1]}")
