"""Moving the master key from one provider to another (file or environment -> HSM) while the service runs.

Configure every process with the new provider and the old one as `GOVERNANCE_VAULT_LEGACY_KEY_PROVIDER`.
`MigratingKeyProvider` then serves the union of both: versions the legacy provider holds are wrapped and
unwrapped there, every other version by the new provider, whose first version is numbered above the legacy
ones (`first_version`), so a stored `master_version` names exactly one place. Until a rotation runs, new
data keys are still wrapped with the legacy active version; `start_provider_migration` (`governance keys
migrate`) starts an ordinary master-key rotation whose new version is created by the new provider: the
`vault.rotate_master_key` job re-wraps every data key in committed, resumable batches (batched unwraps),
readers keep unwrapping legacy-wrapped keys until their row is re-wrapped, and the legacy versions are
retired at the end and destroyed once the backup retention is over (the file loses them; the last one
removes the file). Then drop `GOVERNANCE_VAULT_LEGACY_KEY_PROVIDER`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from governance.access.principals import ActorRef, Principal
from governance.jobs import enqueue
from governance.vault.errors import KeyRotationError
from governance.vault.keymanagement import REWRAP_JOB, KeyRotation, start_master_rotation
from governance.vault.migrating_provider import MigratingKeyProvider
from governance.vault.runtime import get_runtime

__all__ = ["MigratingKeyProvider", "start_provider_migration"]


def start_provider_migration(session: Session, *, actor: Principal | ActorRef, batch_size: int = 2000) -> Any:
    """Start the rotation that moves every data key to the new provider and enqueue its re-wrap job
    (`vault.rotate_master_key`, committed batches of `batch_size`, resumable). The caller commits.

    Raises `KeyRotationError` (`provider_not_migrating`) unless a legacy provider is configured, and while
    another rotation runs; an unavailable HSM raises `KeyProviderUnavailable` (503) with nothing changed."""
    if not isinstance(get_runtime().provider, MigratingKeyProvider):
        raise KeyRotationError(
            "No legacy key provider is configured (GOVERNANCE_VAULT_LEGACY_KEY_PROVIDER).",
            code="provider_not_migrating",
        )
    view = start_master_rotation(session, actor=actor, enqueue_job=False)
    ref = actor.ref if isinstance(actor, Principal) else actor
    job_id = enqueue(
        session,
        REWRAP_JOB,
        {"rotation_id": str(view.id), "batch_size": batch_size},
        dedupe_key=f"vault.rotation:{view.id}",
        created_by=f"{ref.kind}:{ref.id}",
    )
    session.get_one(KeyRotation, view.id).job_id = job_id
    session.flush()
    return replace(view, job_id=job_id)
