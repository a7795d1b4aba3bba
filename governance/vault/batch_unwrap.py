"""Unwrapping the data keys of many subjects in one key-provider call (an HSM: one session, one key lookup;
a KMS with a batch API: one request), for releases and DP queries that read subjects by the hundred."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.vault.crypto import SubjectCipher, WrappedKey
from governance.vault.keyproviders import UnwrapError
from governance.vault.models import DataKey
from governance.vault.runtime import get_runtime


def provider_batches() -> bool:
    """Whether the key provider has a batched unwrap (the local providers unwrap in microseconds without)."""
    return hasattr(get_runtime().provider, "unwrap_many")


def chunk_ciphers(session: Session, subject_ids: Sequence[uuid.UUID]) -> dict[tuple[uuid.UUID, int], SubjectCipher]:
    """Every stored data key of these subjects as a ready cipher, keyed (subject, data-key version). A key
    that does not unwrap is left out: the caller's per-row path then reports it as it always does. An
    unavailable provider raises `KeyProviderUnavailable` (503)."""
    if not subject_ids:
        return {}
    rows = session.execute(
        select(DataKey.subject_id, DataKey.version, DataKey.master_version, DataKey.wrapped).where(
            DataKey.subject_id.in_(list(subject_ids))
        )
    ).all()
    keys = [WrappedKey(*row) for row in rows]
    out: dict[tuple[uuid.UUID, int], SubjectCipher] = {}
    for key, data_key in zip(keys, get_runtime().envelope.unwrap_many(keys), strict=True):
        if not isinstance(data_key, UnwrapError):
            out[(key.subject_id, key.version)] = SubjectCipher(data_key, key.subject_id, key.version)
    return out
