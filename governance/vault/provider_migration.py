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

import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from governance.access.principals import ActorRef, Principal
from governance.jobs import enqueue
from governance.vault.errors import KeyRotationError
from governance.vault.keymanagement import REWRAP_JOB, KeyRotation, start_master_rotation
from governance.vault.keyproviders import FileKeyProvider, KeyProvider, UnwrapError, unwrap_many
from governance.vault.runtime import get_runtime

__all__ = ["MigratingKeyProvider", "start_provider_migration"]


class MigratingKeyProvider:
    """The new provider (`target`) plus the one it replaces (`legacy`), routed by version."""

    epochs_automatic = True

    def __init__(self, target: KeyProvider, legacy: KeyProvider) -> None:
        self.target = target
        self.legacy = legacy
        self.name = target.name
        self._lock = threading.Lock()

    def _legacy_versions(self) -> Sequence[int]:
        if isinstance(self.legacy, FileKeyProvider) and not self.legacy.path.exists():
            return []  # the migration destroyed the last legacy version (and the file with it)
        return self.legacy.versions()

    def _owner(self, version: int) -> KeyProvider:
        return self.legacy if version in self._legacy_versions() else self.target

    def versions(self) -> Sequence[int]:
        return sorted({*self._legacy_versions(), *self.target.versions()})

    def active_version(self) -> int:
        """The new provider's newest version once it has one; until then the legacy active version."""
        target_versions = self.target.versions()
        if target_versions:
            return max(target_versions)
        return self.legacy.active_version()

    def wrap(self, version: int, key: bytes, context: bytes) -> bytes:
        return self._owner(version).wrap(version, key, context)

    def unwrap(self, version: int, wrapped: bytes, context: bytes) -> bytes:
        return self._owner(version).unwrap(version, wrapped, context)

    def unwrap_many(self, items: Sequence[tuple[int, bytes, bytes]]) -> list[bytes | UnwrapError]:
        """Each provider's share in one batch (the HSM's in one session), answers in the order asked."""
        legacy = set(self._legacy_versions())
        out: list[bytes | UnwrapError | None] = [None] * len(items)
        for provider, wanted in ((self.legacy, True), (self.target, False)):
            positions = [i for i, item in enumerate(items) if (item[0] in legacy) is wanted]
            if positions:
                for i, value in zip(positions, unwrap_many(provider, [items[i] for i in positions]), strict=True):
                    out[i] = value
        return [value for value in out if value is not None]

    def add_version(self) -> int:
        """Always in the new provider: every rotation moves keys towards it."""
        return self.target.add_version()

    def retire_version(self, version: int) -> None:
        if version not in self._legacy_versions():
            self.target.retire_version(version)
            return
        if isinstance(self.legacy, FileKeyProvider):
            with self._lock:
                _destroy_file_version(self.legacy, version)
            return
        self.legacy.retire_version(version)  # the environment provider says what the operator must remove

    def refresh(self) -> None:
        for provider in (self.legacy, self.target):
            refresh = getattr(provider, "refresh", None)
            if refresh is not None and not (isinstance(provider, FileKeyProvider) and not provider.path.exists()):
                refresh()


def _destroy_file_version(provider: FileKeyProvider, version: int) -> None:
    """Remove `version` from the legacy key file even when it is the file's own active version (the active
    version is the new provider's now); the last one removes the file, durably."""
    provider.refresh()
    keys = {v: k for v, k in provider._keys.items() if v != version}
    if keys == provider._keys:
        return
    if keys:
        provider._write(keys, active=max(keys))
        provider.refresh()
        return
    provider.path.unlink()
    directory = os.open(provider.path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the key does not come back after a crash
    finally:
        os.close(directory)
    provider._set_keys({})
    provider._keys = {}


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
