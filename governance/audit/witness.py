"""An audit-log witness in the C2SP tlog-witness style (https://c2sp.org/tlog-witness): a second process with
its own Ed25519 key that cosigns a checkpoint only after checking a consistency proof from the last checkpoint it
cosigned, and keeps that state in its own file, outside the service's database.

Run it on another machine or account than the service (``flask --app wsgi governance audit witness …``, or
``python -m governance.audit.witness …``; this file needs only the standard library, ``cryptography`` and
the offline verifier's zipapp ``offline_verify.pyz`` next to it, so it can be copied out like the verifier).

Protocol (tlog-witness ``add-checkpoint``): ``POST /add-checkpoint`` with the body::

    old <size the client believes the witness last cosigned>
    <base64 consistency proof hash>            (one per line, none when old is 0 or equals the new size)
    <blank line>
    <the signed checkpoint note>

Answers: 200 with the cosignature line(s); 409 ``text/x.tlog.size`` with the witness's size when ``old`` is not
it; 403 when the checkpoint is not signed by the log's key or names another log; 422 when the proof does not
show the new tree extends the cosigned one (a rewrite or a fork: the witness refuses, its state is unchanged);
400 for a malformed request.

Cosignatures follow C2SP tlog-cosignature v1 (Ed25519): a signed-note line ``— <witness name>
base64(key id || u64 timestamp || signature)`` with key id ``SHA-256(name || "\\n" || 0x04 || public key)[:4]``
over ``"cosignature/v1\\ntime <timestamp>\\n" || checkpoint body``. The witness's verifier key is the vkey
``<name>+<key id hex>+<base64(0x04 || public key)>``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import os
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

try:  # inside the repository
    from governance.audit.offline_verify import (
        EMPTY_ROOT,
        VerificationFailed,
        cosignature_key_id,
        cosignature_message,
        parse_and_verify_checkpoint,
        verify_consistency,
    )
except ImportError:  # pragma: no cover - copied out next to offline_verify.pyz (the zipapp holds the package)
    sys.path.insert(0, str(Path(__file__).with_name("offline_verify.pyz")))
    from offline_verify import (  # type: ignore[no-redef,import-not-found]
        EMPTY_ROOT,
        VerificationFailed,
        cosignature_key_id,
        cosignature_message,
        parse_and_verify_checkpoint,
        verify_consistency,
    )

__all__ = ["Witness", "make_vkey", "serve"]

_SIG_PREFIX = "\u2014 "
MAX_BODY = 64 * 1024
SIZE_TYPE = "text/x.tlog.size"


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def make_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The witness's verifier key (signed-note vkey with the cosignature type 0x04)."""
    material = base64.b64encode(b"\x04" + _raw(public_key)).decode()
    return f"{name}+{cosignature_key_id(name, public_key).hex()}+{material}"


def cosign(key: Ed25519PrivateKey, name: str, body: str, timestamp: int) -> str:
    """One tlog-cosignature/v1 signature line for the checkpoint `body` (ending in a newline)."""
    signature = key.sign(cosignature_message(body, timestamp))
    blob = cosignature_key_id(name, key.public_key()) + struct.pack(">Q", timestamp) + signature
    return f"{_SIG_PREFIX}{name} {base64.b64encode(blob).decode()}\n"


class Witness:
    """The witness's logic: verify, check consistency with its own state, persist, then cosign."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        name: str,
        state_path: Path | str,
        *,
        origin: str,
        log_keys: Sequence[tuple[str, Ed25519PublicKey]],
    ) -> None:
        self.key, self.name, self.state_path, self.origin = key, name, Path(state_path), origin
        self.log_keys = {hashlib.sha256(n.encode() + b"\n\x01" + _raw(k)).digest()[:4]: (n, k) for n, k in log_keys}
        self.lock = threading.Lock()

    @property
    def vkey(self) -> str:
        return make_vkey(self.name, self.key.public_key())

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"size": 0, "root": base64.b64encode(EMPTY_ROOT).decode(), "note": None}
        return data[self.origin]

    def _save(self, size: int, root: bytes, note: str) -> None:
        data = {self.origin: {"size": size, "root": base64.b64encode(root).decode(), "note": note}}
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".witness-", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.state_path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def add_checkpoint(self, body: bytes) -> tuple[int, str, str]:
        """Handle one add-checkpoint request body: (HTTP status, content type, response text)."""
        try:
            old, proof, note = _parse_request(body)
        except ValueError as exc:
            return 400, "text/plain", f"{exc}\n"
        try:
            checkpoint = parse_and_verify_checkpoint(note, self.log_keys)
        except VerificationFailed as exc:
            status = 400 if exc.reason == "checkpoint_malformed" else 403
            return status, "text/plain", f"{exc.reason}\n"
        if checkpoint.origin != self.origin:
            return 403, "text/plain", "unknown log\n"
        if old > checkpoint.size:
            return 400, "text/plain", "old size beyond the checkpoint\n"
        with self.lock:
            state = self.state()
            known_size, known_root = int(state["size"]), base64.b64decode(state["root"])
            if old != known_size:
                return 409, SIZE_TYPE, f"{known_size}\n"
            if not verify_consistency(old, checkpoint.size, known_root, checkpoint.root, proof):
                return 422, "text/plain", "the checkpoint is not consistent with the one cosigned before\n"
            if checkpoint.size > known_size:
                self._save(checkpoint.size, checkpoint.root, note)
            body_text = note.partition("\n\n")[0] + "\n"
            return 200, "text/plain", cosign(self.key, self.name, body_text, int(time.time()))


def _parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    text = body.decode("utf-8")
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ValueError("no blank line before the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old ") or not lines[0][4:].isdigit():
        raise ValueError("the first line is 'old <size>'")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except (ValueError, binascii.Error) as exc:
        raise ValueError("unreadable proof line") from exc
    if any(len(node) != 32 for node in proof) or len(proof) > 64:
        raise ValueError("proof lines are 32-byte hashes")
    return int(lines[0][4:]), proof, note


def request_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    lines = [f"old {old_size}", *(base64.b64encode(node).decode() for node in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def serve(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server for `witness` (call serve_forever on it)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "governance-witness"

        def do_POST(self) -> None:
            if self.path != "/add-checkpoint":
                self._answer(404, "text/plain", "not found\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._answer(400, "text/plain", "body size\n")
                return
            self._answer(*witness.add_checkpoint(self.rfile.read(length)))

        def _answer(self, status: int, content_type: str, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # request lines hold nothing worth keeping; no access log with client addresses

    return ThreadingHTTPServer((host, port), Handler)


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The witness's private key (PEM, PKCS8); created with mode 0600 if the file does not exist."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the witness key is not an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def run(
    *,
    key_file: str,
    state_file: str,
    log_public_keys: Sequence[str],
    log_key_name: str,
    origin: str,
    name: str,
    listen: str,
) -> None:
    """Start the witness and serve until interrupted; prints its address and vkey first (one line each)."""
    keys = []
    for pem_path in log_public_keys:
        public = serialization.load_pem_public_key(Path(pem_path).read_bytes())
        if not isinstance(public, Ed25519PublicKey):
            raise ValueError(f"{pem_path} is not an Ed25519 public key")
        keys.append((log_key_name, public))
    witness = Witness(load_or_create_key(Path(key_file)), name, state_file, origin=origin, log_keys=keys)
    host, _, port = listen.rpartition(":")
    server = serve(witness, host or "127.0.0.1", int(port))
    bound_host, bound_port = server.server_address[:2]
    shown_host = bound_host.decode() if isinstance(bound_host, bytes) else bound_host
    print(f"listening http://{shown_host}:{bound_port}", flush=True)
    print(f"vkey {witness.vkey}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cosign audit checkpoints after checking consistency.")
    parser.add_argument("--key-file", required=True, help="the witness's Ed25519 key (PEM); created if absent")
    parser.add_argument("--state-file", required=True, help="where the last cosigned checkpoint is kept")
    parser.add_argument("--log-public-key", action="append", required=True, help="the log's checkpoint key (PEM)")
    parser.add_argument("--log-key-name", default="governance-audit")
    parser.add_argument("--origin", default="governance/audit")
    parser.add_argument("--name", default="witness.governance.local/w1", help="the witness's key name")
    parser.add_argument("--listen", default="127.0.0.1:8710", help="HOST:PORT (port 0 picks a free one)")
    args = parser.parse_args(argv)
    run(
        key_file=args.key_file,
        state_file=args.state_file,
        log_public_keys=args.log_public_key,
        log_key_name=args.log_key_name,
        origin=args.origin,
        name=args.name,
        listen=args.listen,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
