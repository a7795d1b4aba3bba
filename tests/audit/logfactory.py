"""Builds synthetic, correctly sealed audit logs (entries + signed checkpoints) for the pure tests."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit.canonical import build_entry, entry_leaf_hash
from governance.audit.checkpoint import Checkpoint, sign_checkpoint
from governance.audit.merkle import Frontier

ORIGIN = "test.governance/audit"
KEY_NAME = "test-audit"
ACTIONS = ("consent.granted", "vault.field.read", "dsr.erasure.completed", "access.login.succeeded")


@dataclass
class Log:
    entries: list[tuple[dict, bytes]]
    checkpoints: list[Checkpoint]
    key: Ed25519PrivateKey

    @property
    def public_keys(self) -> dict:
        return {KEY_NAME: self.key.public_key()}


def make_entry(seq: int, *, start: dt.datetime | None = None) -> dict:
    start = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return build_entry(
        seq=seq,
        time=start + dt.timedelta(milliseconds=37 * seq),
        actor_kind=("staff", "client", "system")[seq % 3],
        actor_id=f"actor-{seq % 11}",
        action=ACTIONS[seq % len(ACTIONS)],
        target_kind="subject",
        target_id=str(uuid.UUID(int=seq * 7919 + 1)),
        request_id=f"req-{seq:06d}",
        policy_version="policies@abc123",
        details={"n": seq, "purpose": "analytics", "count": seq % 5},
    )


def make_log(size: int, *, checkpoint_every: int, key: Ed25519PrivateKey | None = None) -> Log:
    """A log of `size` entries with a checkpoint every `checkpoint_every` entries and one at the end."""
    key = key or Ed25519PrivateKey.generate()
    frontier = Frontier()
    entries: list[tuple[dict, bytes]] = []
    checkpoints: list[Checkpoint] = []
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for seq in range(size):
        entry = make_entry(seq, start=t0)
        digest = entry_leaf_hash(entry)
        entries.append((entry, digest))
        frontier.append(digest)
        if frontier.size % checkpoint_every == 0 or frontier.size == size:
            checkpoints.append(
                sign_checkpoint(
                    key,
                    key_name=KEY_NAME,
                    origin=ORIGIN,
                    size=frontier.size,
                    root=frontier.root(),
                    time=t0 + dt.timedelta(seconds=frontier.size),
                )
            )
    return Log(entries, checkpoints, key)
