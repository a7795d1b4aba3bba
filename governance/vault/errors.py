"""The vault's errors. Messages name fields and codes, never values, keys or external references."""

from __future__ import annotations

from governance.errors import ConflictError, DomainError, GoneError, NotFoundError, ValidationFailedError


class SubjectNotFoundError(NotFoundError):
    """No subject with this id (or lookup value) exists."""

    code, default_message = "subject_not_found", "No such data subject."


class SubjectErasedError(GoneError):
    """The subject was erased (crypto-shredded); only its tombstone remains."""

    code, default_message = "subject_erased", "This data subject was erased."


class SubjectExistsError(ConflictError):
    """A subject with this external reference already exists."""

    code, default_message = "subject_exists", "A data subject with this reference already exists."


class ProfileInvalidError(ValidationFailedError):
    """One or more profile fields are invalid; `fields` maps each field name to what is wrong with it."""

    code, default_message = "invalid_profile", "Some profile fields are invalid; nothing was stored."


class IntakeTooLargeError(DomainError):
    """More events in one request than the intake accepts."""

    status, code, default_message = 413, "too_many_events", "At most 10000 events per request."


class KeyRotationError(ConflictError):
    """A master-key rotation cannot start or finish (another one is running, or the provider cannot rotate)."""

    code, default_message = "key_rotation_conflict", "The key rotation cannot proceed."


class VaultIntegrityError(DomainError):
    """A stored ciphertext or wrapped key failed to authenticate (tampering or a lost master key)."""

    status, code, default_message = 500, "vault_integrity", "Stored data failed an integrity check."
