"""The audit log's configuration: origin, checkpoint cadence, the signing key, the published directory and
the witness, from the app's settings and key helper."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app

from governance.audit.offline_verify import WitnessKey, parse_vkey

KEY_NAME = "governance-audit"  # the signed-note key name in checkpoints
SIGNING_KEY = "audit_checkpoint"  # the foundation key helper's name for the Ed25519 key file


@dataclass(frozen=True, slots=True)
class AuditConfig:
    origin: str = "governance/audit"
    checkpoint_every: int = 1000
    checkpoint_seconds: float = 60.0
    signing_key: Ed25519PrivateKey | None = None
    public_keys: tuple[tuple[str, Ed25519PublicKey], ...] = ()
    publish_dir: Path | None = None  # the append-only published checkpoint directory (docs/audit.md)
    witness_url: str | None = None
    witness: WitnessKey | None = None  # the witness's verifier key
    witness_timeout: float = 10.0


def publish_dir_setting(settings: Any) -> Path:
    """`GOVERNANCE_AUDIT_PUBLISH_DIR`, by default `<instance folder>/audit-published`."""
    return Path(settings.get("AUDIT_PUBLISH_DIR") or settings.instance_path / "audit-published")


def current_config() -> AuditConfig:
    """The configuration of the running app (settings + the checkpoint key from the key helper)."""
    settings = current_app.extensions["governance.settings"]
    keys = current_app.extensions["governance.keys"]
    key = keys.signing_key(SIGNING_KEY)
    vkey = settings.get("AUDIT_WITNESS_KEY")
    return AuditConfig(
        origin=settings.get("AUDIT_ORIGIN", "governance/audit") or "governance/audit",
        checkpoint_every=settings.get_int("AUDIT_CHECKPOINT_EVERY", 1000),
        checkpoint_seconds=settings.get_float("AUDIT_CHECKPOINT_SECONDS", 60.0),
        signing_key=key,
        public_keys=((KEY_NAME, key.public_key()),),
        publish_dir=publish_dir_setting(settings),
        witness_url=settings.get("AUDIT_WITNESS_URL") or None,
        witness=parse_vkey(vkey) if vkey else None,
        witness_timeout=settings.get_float("AUDIT_WITNESS_TIMEOUT_SECONDS", 10.0),
    )
