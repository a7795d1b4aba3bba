"""The second factor: TOTP secrets sealed at rest, enrolment, and the one-time recovery codes."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from governance import audit
from governance.access import credentials
from governance.access.errors import DuplicateError, SignInFailedError
from governance.access.models import RecoveryCode, StaffAccount
from governance.access.principals import ActorRef
from governance.db import utcnow


@dataclass(frozen=True, slots=True)
class SecretBox:
    """Encrypts TOTP secrets at rest (AES-256-GCM; the staff id is associated data, so a ciphertext cannot be
    moved to another account)."""

    key: bytes

    def seal(self, staff_id: uuid.UUID, secret: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return b"\x01" + nonce + AESGCM(self.key[:32]).encrypt(nonce, secret.encode(), staff_id.bytes)

    def open(self, staff_id: uuid.UUID, sealed: bytes) -> str:
        if sealed[:1] != b"\x01":
            raise ValueError("unknown TOTP secret format")
        return AESGCM(self.key[:32]).decrypt(sealed[1:13], sealed[13:], staff_id.bytes).decode()


def begin_totp_enrolment(session: Session, staff: StaffAccount, box: SecretBox) -> str:
    """Store a new (not yet active) TOTP secret and return it for the QR code. An active one is kept until
    the new one is confirmed."""
    if staff.totp_enabled_at is not None:
        raise DuplicateError("The authenticator app is already set up.")
    secret = credentials.new_totp_secret()
    staff.totp_secret_enc = box.seal(staff.id, secret)
    return secret


def pending_totp_secret(staff: StaffAccount, box: SecretBox) -> str | None:
    if staff.totp_secret_enc is None or staff.totp_enabled_at is not None:
        return None
    return box.open(staff.id, staff.totp_secret_enc)


def confirm_totp_enrolment(session: Session, staff: StaffAccount, code: str, box: SecretBox) -> list[str]:
    """Activate the pending secret when `code` matches; returns fresh recovery codes (shown once)."""
    secret = pending_totp_secret(staff, box)
    if secret is None:
        raise SignInFailedError("Start the set-up again.")
    check = credentials.verify_totp(secret, code, last_used_step=staff.totp_last_step)
    if not check.ok:
        raise SignInFailedError("That code is not correct. Check the time on your phone and try again.")
    staff.totp_enabled_at = utcnow()
    staff.totp_last_step = check.step
    codes = replace_recovery_codes(session, staff)
    audit.record(
        session,
        actor=ActorRef("staff", str(staff.id)),
        action="access.totp.enrolled",
        target=("staff", staff.id),
        details={},
    )
    return codes


def replace_recovery_codes(session: Session, staff: StaffAccount) -> list[str]:
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.staff_id == staff.id))
    codes = credentials.generate_recovery_codes()
    for code in codes:
        session.add(RecoveryCode(staff_id=staff.id, code_hash=credentials.hash_recovery_code(code)))
    audit.record(
        session,
        actor=ActorRef("staff", str(staff.id)),
        action="access.recovery_codes.issued",
        target=("staff", staff.id),
        details={"count": len(codes)},
    )
    return codes
