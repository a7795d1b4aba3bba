"""Data keys as the services use them: the master-key version new keys are wrapped with, the backup bound of
an erasure, and a subject's cipher unwrapped from its data-key row (or from the key columns joined to a value's
row). Unwrapping and decryption failures become `VaultIntegrityError`; an unreachable HSM stays
`KeyProviderUnavailable` (503). Master-key and data-key rotation live in `governance.vault.keymanagement`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.db import utcnow
from governance.vault.crypto import DecryptionError, SubjectCipher, WrappedKey
from governance.vault.errors import VaultIntegrityError
from governance.vault.keyproviders import KeyProviderError, KeyProviderUnavailable
from governance.vault.models import DataKey, MasterKeyVersion, Subject
from governance.vault.runtime import get_runtime
from governance.vault.service.statements import _insert_ignore


def active_master_version(session: Session) -> int:
    """The master-key version new data keys are wrapped with, as recorded in the database.

    Registers the provider's active version on first use. On PostgreSQL the row is read FOR SHARE so that a
    rotation cannot retire the version between this read and the commit of the data key wrapped with it; a
    read that raced with a rotation's commit (the old row no longer active, the new one not yet visible to
    that statement) simply reads again.
    """
    is_postgres = session.get_bind().dialect.name == "postgresql"
    query = select(MasterKeyVersion.version).where(MasterKeyVersion.state == "active")
    if is_postgres:
        query = query.with_for_update(read=True)
    for _ in range(5):
        version = session.scalar(query)
        if version is not None:
            return version
        if session.scalar(select(func.count()).select_from(MasterKeyVersion)):
            continue  # a rotation committed between our snapshot and our lock: read again
        provider = get_runtime().provider
        session.execute(
            _insert_ignore(session, MasterKeyVersion).values(
                version=provider.active_version(), provider=provider.name, state="active", created_at=utcnow()
            )
        )
    raise VaultIntegrityError("No active master-key version is recorded.")


def backups_unreadable_by(session: Session, erased_at: dt.datetime) -> dt.date | None:
    """The day (UTC) by the end of which a person erased at `erased_at` is unreadable in every backup.

    Their data key was wrapped only by master versions in use up to `erased_at`; the latest of them (the
    active one) is retired when the next epoch opens (its start + epoch length, or at once if that is past)
    and destroyed a backup retention later; `margin` covers the hourly job and the re-wrap. None when the
    key provider does not rotate by itself (environment variables): the bound then depends on the operator.
    """
    runtime = get_runtime()
    if not runtime.provider.epochs_automatic:
        return None
    schedule = runtime.schedule
    active = session.scalar(select(MasterKeyVersion.created_at).where(MasterKeyVersion.state == "active"))
    epoch_ends = max((active or erased_at) + schedule.epoch, erased_at)
    return (epoch_ends + schedule.backup_retention + schedule.margin).astimezone(dt.UTC).date()


def _wrapped(row: DataKey) -> WrappedKey:
    return WrappedKey(row.subject_id, row.version, row.master_version, row.wrapped)


def _cipher_for(session: Session, subject: Subject, version: int | None = None) -> SubjectCipher:
    version = subject.key_version if version is None else version
    row = session.get(DataKey, (subject.id, version))
    if row is None:
        raise VaultIntegrityError("The subject's data key is missing.")
    return _unwrap(row)


def _unwrap(row: DataKey) -> SubjectCipher:
    try:
        return get_runtime().envelope.cipher(_wrapped(row))
    except KeyProviderUnavailable:
        raise  # the HSM is down (503), not the data broken
    except KeyProviderError:
        raise VaultIntegrityError("A data key could not be unwrapped.") from None


def _decrypt(cipher: SubjectCipher, name: str, blob: bytes) -> bytes:
    try:
        return cipher.decrypt(name, blob)
    except DecryptionError:
        raise VaultIntegrityError("A stored value failed its integrity check.") from None


def _key_columns() -> tuple[Any, ...]:
    return (
        DataKey.subject_id.label("k_subject"),
        DataKey.version.label("k_version"),
        DataKey.master_version,
        DataKey.wrapped,
    )


def _row_cipher(row: Any) -> SubjectCipher:
    """The cipher for a row that carries its data key's columns (joined in the same statement, so that the
    ciphertext and its key come from one snapshot even while the subject's key is being rotated)."""
    if row.wrapped is None:
        raise VaultIntegrityError("A stored value has no data key.")
    try:
        return get_runtime().envelope.cipher(WrappedKey(row.k_subject, row.k_version, row.master_version, row.wrapped))
    except KeyProviderUnavailable:
        raise  # the HSM is down (503), not the data broken
    except KeyProviderError:
        raise VaultIntegrityError("A data key could not be unwrapped.") from None
