"""Sign-in with password and TOTP: lockout per account, per name as typed and per address, all counted in the
route's transaction together with the audit entry."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance import audit
from governance.access import credentials
from governance.access.accounts.second_factor import SecretBox
from governance.access.errors import AccountLockedError, SignInFailedError
from governance.access.models import LoginThrottle, RecoveryCode, StaffAccount
from governance.access.principals import ActorRef
from governance.db import rowcount, utcnow


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    account_failures: int = 5
    address_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)


def address_key(address: str, pepper: bytes) -> str:
    """A keyed hash of a client address: throttling works without storing addresses."""
    return hmac.new(pepper, address.encode(), hashlib.sha256).hexdigest()


def name_key(username: str, pepper: bytes) -> str:
    """A keyed hash of a sign-in name as typed (normalized), existing or not: the password-stage lockout counts
    per name, so an unknown name locks exactly like an account and the answer never tells which names exist.
    Domain-separated from address keys (an address never contains NUL)."""
    name = username.strip().lower()[:256]
    return hmac.new(pepper, b"name\x00" + name.encode(), hashlib.sha256).hexdigest()


def _retry_after(until: datetime) -> int:
    return max(1, int((until - utcnow()).total_seconds()) + 1)


def _locked(until: datetime | None) -> bool:
    return until is not None and until > utcnow()


def check_address(session: Session, address_hash: str) -> None:
    """Raise AccountLockedError while the address is locked out."""
    row = session.get(LoginThrottle, address_hash)
    if row is not None and _locked(row.locked_until):
        assert row.locked_until is not None
        raise AccountLockedError(headers={"Retry-After": str(_retry_after(row.locked_until))})


def _count_name_failure(
    session: Session, *, name_hash: str, staff: StaffAccount | None, policy: LockoutPolicy, now: datetime
) -> None:
    """Password stage: consecutive failures per sign-in name, known or not, lock the name (and the account, if
    there is one) after `account_failures`. Unknown names take the same path, writes and answers as accounts."""
    row = session.get(LoginThrottle, name_hash)
    if row is None:
        row = LoginThrottle(address_hash=name_hash, failures=0, window_started_at=now)
        session.add(row)
    row.failures += 1
    row.window_started_at = now  # the last failure: housekeeping forgets a name a day after it
    if row.failures < policy.account_failures or _locked(row.locked_until):
        return
    row.locked_until, row.failures = now + policy.lock_for, 0
    seconds = int(policy.lock_for.total_seconds())
    if staff is not None:
        staff.locked_until = row.locked_until
        audit.record(
            session,
            actor=ActorRef("system", "access"),
            action="access.staff.locked",
            target=("staff", staff.id),
            details={"seconds": seconds},
        )
    else:
        audit.record(
            session,
            actor=ActorRef("system", "access"),
            action="access.name.locked",
            target=None,
            details={"name_ref": audit.digest_ref(name_hash), "seconds": seconds},
        )


def record_failure(
    session: Session,
    *,
    staff: StaffAccount | None,
    address_hash: str,
    policy: LockoutPolicy,
    stage: str,
    name_hash: str | None = None,
) -> None:
    """Count a failed attempt against the address and either the sign-in name (`name_hash`: password stage)
    or the account (second factor); lock each when over its limit."""
    now = utcnow()
    row = session.get(LoginThrottle, address_hash)
    if row is None:
        row = LoginThrottle(address_hash=address_hash, failures=0, window_started_at=now)
        session.add(row)
    if row.window_started_at + policy.window < now:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    target = ("staff", staff.id) if staff is not None else None
    audit.record(
        session,
        actor=ActorRef("anonymous", "anonymous"),
        action="access.sign_in.failed",
        target=target,
        details={"stage": stage},
    )
    if row.failures >= policy.address_failures and not _locked(row.locked_until):
        row.locked_until = now + policy.lock_for
        audit.record(
            session,
            actor=ActorRef("system", "access"),
            action="access.address.locked",
            target=None,
            details={"address_ref": audit.digest_ref(address_hash), "seconds": int(policy.lock_for.total_seconds())},
        )
    if name_hash is not None:
        _count_name_failure(session, name_hash=name_hash, staff=staff, policy=policy, now=now)
    elif staff is not None:
        staff.failed_logins += 1
        if staff.failed_logins >= policy.account_failures and not _locked(staff.locked_until):
            staff.locked_until = now + policy.lock_for
            staff.failed_logins = 0
            audit.record(
                session,
                actor=ActorRef("system", "access"),
                action="access.staff.locked",
                target=("staff", staff.id),
                details={"seconds": int(policy.lock_for.total_seconds())},
            )


def check_password(
    session: Session,
    *,
    username: str,
    password: str,
    address_hash: str,
    policy: LockoutPolicy,
    name_hash: str | None = None,
) -> StaffAccount:
    """First factor. Raises AccountLockedError (address, name or account locked) or SignInFailedError; the
    caller commits either way so the failure counts. Known and unknown names take the same steps (one argon2
    verification, the same counters, the same answers), so neither status, headers nor timing tell them apart.
    `name_hash` is `name_key(username, pepper)`; without it the name is keyed with an empty pepper (tests)."""
    check_address(session, address_hash)
    name_hash = name_hash or name_key(username, b"")
    staff = session.scalars(sa.select(StaffAccount).where(StaffAccount.username == username.strip().lower())).first()
    known = staff if staff is not None and staff.active else None
    name_row = session.get(LoginThrottle, name_hash)
    candidates = (name_row.locked_until if name_row else None, known.locked_until if known else None)
    locked_until = max((t for t in candidates if t is not None and _locked(t)), default=None)
    if locked_until is not None:
        credentials.dummy_verify(password)
        audit.record(
            session,
            actor=ActorRef("anonymous", "anonymous"),
            action="access.sign_in.refused_locked",
            target=("staff", known.id) if known is not None else None,
            details={},
        )
        raise AccountLockedError(headers={"Retry-After": str(_retry_after(locked_until))})
    if known is not None and known.sso_subject is not None:
        # Single sign-on is on for this account: its local password is refused, right or wrong, with the same
        # answer, counters and time as any failed password.
        credentials.dummy_verify(password)
        record_failure(
            session, staff=known, address_hash=address_hash, policy=policy, stage="sso_only", name_hash=name_hash
        )
        raise SignInFailedError()
    # The same argon2 verification either way: against the account's hash, or the dummy hash for no account.
    verified = credentials.verify_password(known.password_hash if known is not None else None, password)
    if known is None or not verified:
        record_failure(
            session, staff=known, address_hash=address_hash, policy=policy, stage="password", name_hash=name_hash
        )
        raise SignInFailedError()
    if name_row is not None:
        session.delete(name_row)  # the right password ends the run of failures for this name
    if credentials.needs_rehash(known.password_hash):
        known.password_hash = credentials.hash_password(password)
    return known


def check_second_factor(
    session: Session,
    staff: StaffAccount,
    *,
    code: str,
    box: SecretBox,
    address_hash: str,
    policy: LockoutPolicy,
) -> str:
    """Second factor: a TOTP code (not replayed) or an unused recovery code. Returns "totp" or "recovery".
    Raises AccountLockedError or SignInFailedError."""
    check_address(session, address_hash)
    if _locked(staff.locked_until):
        assert staff.locked_until is not None
        raise AccountLockedError(headers={"Retry-After": str(_retry_after(staff.locked_until))})
    if not staff.active or staff.totp_secret_enc is None or staff.totp_enabled_at is None:
        raise SignInFailedError()
    secret = box.open(staff.id, staff.totp_secret_enc)
    check = credentials.verify_totp(secret, code, last_used_step=staff.totp_last_step)
    if check.ok:
        staff.totp_last_step = check.step
        return "totp"
    if not check.replayed and _use_recovery_code(session, staff, code):
        return "recovery"
    stage = "totp_replayed" if check.replayed else "totp"
    record_failure(session, staff=staff, address_hash=address_hash, policy=policy, stage=stage)
    raise SignInFailedError()


def _use_recovery_code(session: Session, staff: StaffAccount, code: str) -> bool:
    if len(credentials.normalize_recovery_code(code)) != 16:
        return False
    used = rowcount(
        session.execute(
            sa.update(RecoveryCode)
            .where(
                RecoveryCode.staff_id == staff.id,
                RecoveryCode.code_hash == credentials.hash_recovery_code(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )
    )
    if used == 1:
        audit.record(
            session,
            actor=ActorRef("staff", str(staff.id)),
            action="access.recovery_code.used",
            target=("staff", staff.id),
            details={"remaining": remaining_recovery_codes(session, staff.id)},
        )
        return True
    return False


def remaining_recovery_codes(session: Session, staff_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.staff_id == staff_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def signed_in(session: Session, staff: StaffAccount, *, mfa: bool, method: str) -> None:
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = utcnow()
    audit.record(
        session,
        actor=ActorRef("staff", str(staff.id)),
        action="access.sign_in.succeeded",
        target=("staff", staff.id),
        details={"mfa": mfa, "method": method},
    )
