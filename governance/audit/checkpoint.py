"""Signed checkpoints: (tree size, root hash, time) signed with Ed25519, as a plain text note.

The text is the C2SP ``tlog-checkpoint`` format inside a C2SP ``signed-note``, the format of the Go checksum
database and Sigstore, so an auditor can copy it out of a console, a ticket or an e-mail and check it with
this module, the offline verifier, or any signed-note tool::

    governance/audit                    <- origin: names the log
    1234                                <- tree size (entries 0..1233)
    q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=   <- RFC 9162 root hash, base64
    time 2026-11-28T12:00:00.000000Z    <- extension line: when the checkpoint was signed
                                        <- blank line ends the signed body
    — governance-audit AbCd...==        <- key name, base64(4-byte key hash || 64-byte Ed25519 signature)

The signature covers the body (the four lines, each ending in a newline). The 4-byte key hash is
``SHA-256(key name || "\\n" || 0x01 || raw public key)[:4]`` (0x01 = Ed25519), which lets a verifier holding
several keys (after a rotation) pick the right one. The key id shown to people is ``<name>+<key hash hex>``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from governance.audit.canonical import format_time, parse_time

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "CheckpointFormatError",
    "CheckpointSignatureError",
    "UnknownCheckpointKeyError",
    "key_hash",
    "key_id",
    "load_public_key_pem",
    "parse_checkpoint",
    "sign_checkpoint",
    "verify_checkpoint",
]

_ED25519 = b"\x01"
_SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space begin every signature line of a signed note


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted: malformed, signed by an unknown key, or with a bad signature."""

    code = "checkpoint_invalid"


class CheckpointFormatError(CheckpointError):
    """The text is not a checkpoint note (missing lines, bad number, bad base64...)."""

    code = "checkpoint_malformed"


class UnknownCheckpointKeyError(CheckpointError):
    """No signature on the checkpoint comes from a key the verifier trusts."""

    code = "checkpoint_unknown_key"


class CheckpointSignatureError(CheckpointError):
    """A signature from a trusted key does not verify: the body or the signature was altered."""

    code = "checkpoint_signature_invalid"


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte signed-note key hash of (name, key)."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + _raw_public(public_key)).digest()[:4]


def key_id(name: str, public_key: Ed25519PublicKey) -> str:
    """The key id people see: ``<name>+<8 hex digits>``."""
    return f"{name}+{key_hash(name, public_key).hex()}"


def _check_name(name: str) -> None:
    if not name or any(ch.isspace() for ch in name) or "+" in name:
        raise ValueError("a key name is non-empty, without spaces or '+'")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that the log with ``origin`` had ``size`` entries with ``root`` at ``time``."""

    origin: str
    size: int
    root: bytes
    time: dt.datetime
    key_name: str
    key_hash: bytes
    signature: bytes

    @property
    def key_id(self) -> str:
        return f"{self.key_name}+{self.key_hash.hex()}"

    def body(self) -> str:
        return _body(self.origin, self.size, self.root, self.time)

    def to_text(self) -> str:
        """The full signed note, ready to copy out."""
        blob = base64.b64encode(self.key_hash + self.signature).decode()
        return f"{self.body()}\n{_SIGNATURE_PREFIX}{self.key_name} {blob}\n"


def _body(origin: str, size: int, root: bytes, time: dt.datetime) -> str:
    if not origin or "\n" in origin:
        raise ValueError("the origin is one non-empty line")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {format_time(time)}\n"


def sign_checkpoint(
    private_key: Ed25519PrivateKey,
    *,
    key_name: str,
    origin: str,
    size: int,
    root: bytes,
    time: dt.datetime,
) -> Checkpoint:
    """Sign (origin, size, root, time) with an Ed25519 key."""
    _check_name(key_name)
    if size < 0 or len(root) != 32:
        raise ValueError("a checkpoint has a size >= 0 and a 32-byte root")
    time = parse_time(format_time(time))  # keep exactly what the text says
    body = _body(origin, size, root, time)
    signature = private_key.sign(body.encode())
    return Checkpoint(origin, size, root, time, key_name, key_hash(key_name, private_key.public_key()), signature)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a signed checkpoint note (the first signature line is kept). Raises CheckpointFormatError."""
    body, sep, signatures = text.partition("\n\n")
    if not sep:
        raise CheckpointFormatError("no blank line between the checkpoint body and its signature")
    lines = body.split("\n")
    if len(lines) < 4 or not lines[3].startswith("time "):
        raise CheckpointFormatError("a checkpoint body has origin, size, root and time lines")
    origin, size_text, root_text, time_line = lines[:4]
    try:
        if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
            raise ValueError("size")
        size = int(size_text)
        root = base64.b64decode(root_text, validate=True)
        time = parse_time(time_line.removeprefix("time "))
    except (ValueError, binascii.Error) as exc:
        raise CheckpointFormatError("unreadable size, root or time line") from exc
    if len(root) != 32:
        raise CheckpointFormatError("the root hash is not 32 bytes")
    for line in signatures.split("\n"):
        if not line.startswith(_SIGNATURE_PREFIX):
            continue
        name, _, blob_text = line.removeprefix(_SIGNATURE_PREFIX).partition(" ")
        try:
            blob = base64.b64decode(blob_text, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointFormatError("unreadable signature line") from exc
        if len(blob) != 4 + 64:
            raise CheckpointFormatError("an Ed25519 signature line holds 4 + 64 bytes")
        checkpoint = Checkpoint(origin, size, root, time, name, blob[:4], blob[4:])
        if checkpoint.body() != body + "\n":
            raise CheckpointFormatError("the checkpoint body is not in canonical form")
        return checkpoint
    raise CheckpointFormatError("the checkpoint carries no signature")


def _trusted_keys(
    public_keys: Mapping[str, Ed25519PublicKey] | Iterable[tuple[str, Ed25519PublicKey]],
) -> dict[tuple[str, bytes], Ed25519PublicKey]:
    items = public_keys.items() if isinstance(public_keys, Mapping) else public_keys
    return {(name, key_hash(name, key)): key for name, key in items}


def verify_checkpoint(
    checkpoint: Checkpoint,
    public_keys: Mapping[str, Ed25519PublicKey] | Iterable[tuple[str, Ed25519PublicKey]],
    *,
    origin: str | None = None,
) -> None:
    """Check the signature against trusted ``{key name: public key}``. Raises a CheckpointError subclass."""
    if origin is not None and checkpoint.origin != origin:
        raise UnknownCheckpointKeyError("the checkpoint names another log")
    key = _trusted_keys(public_keys).get((checkpoint.key_name, checkpoint.key_hash))
    if key is None:
        raise UnknownCheckpointKeyError(f"no trusted key {checkpoint.key_id}")
    try:
        key.verify(checkpoint.signature, checkpoint.body().encode())
    except InvalidSignature as exc:
        raise CheckpointSignatureError(f"bad signature by {checkpoint.key_id}") from exc


def load_public_key_pem(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo). Raises ValueError for any other key."""
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key
