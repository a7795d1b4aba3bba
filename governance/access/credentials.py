"""Staff credentials as pure functions: password hashing (argon2id), the TOTP second factor with replay
protection, recovery codes, and the enrolment QR code.

Replay protection: a TOTP code is valid for one 30-second time step (plus one step of clock drift either
side). The account stores the last time step it accepted; a code is accepted only for a LATER step, so a code
that was seen (shoulder-surfed, phished, logged by a proxy) cannot be used again, not even within its window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import segno
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "PasswordPolicyError",
    "check_password_policy",
    "dummy_verify",
    "generate_recovery_codes",
    "hash_password",
    "hash_recovery_code",
    "needs_rehash",
    "new_totp_secret",
    "normalize_recovery_code",
    "provisioning_uri",
    "qr_svg",
    "verify_password",
    "verify_totp",
]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything, but an unbounded input is a cheap denial of service
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed by people

_hasher = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
# A fixed hash to verify against when the account does not exist, so timing does not reveal which names exist.
# Made on first use, not at import: computing it costs ~0.6 s of CPU, which every web worker paid at start-up
# although most never see a sign-in (bench/startup.py measures it).
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH  # one per process; a race only computes it twice
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


class PasswordPolicyError(ValueError):
    """The new password is too short or too long. The message never contains the password."""


def use_cheap_hashing_for_tests() -> None:
    """Tests create and sign in many accounts; the real argon2id with minimal cost keeps them fast."""
    global _hasher, _DUMMY_HASH  # process-wide, switched once at start-up
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    _DUMMY_HASH = None


def check_password_policy(password: str) -> None:
    """Raise PasswordPolicyError unless the length is acceptable (NIST 800-63B: no composition rules)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"The password must have at most {MAX_PASSWORD_LENGTH} characters.")


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string with its own salt and parameters)."""
    check_password_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. With `password_hash=None` (unknown account) it spends the same time."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def dummy_verify(password: str) -> None:
    """Spend the time of one verification (for unknown or locked accounts)."""
    verify_password(None, password[:MAX_PASSWORD_LENGTH])


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters; rehash after a successful sign-in."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


# ---- TOTP ----


def new_totp_secret() -> str:
    """A random base32 secret of 160 bits (RFC 4226 recommends at least 128)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (shown as a QR code and as text for manual entry)."""
    return pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no image request leaves the page, no JavaScript needed)."""
    qr = segno.make(uri, error="m")
    return qr.svg_inline(scale=4, dark="#000", light="#fff", title="QR code for your authenticator app")


@dataclass(frozen=True, slots=True)
class TotpCheck:
    ok: bool
    step: int | None = None  # the time step the code belongs to; store it as the account's last used step
    replayed: bool = False


def verify_totp(secret: str, code: str, *, last_used_step: int | None, now: datetime | None = None) -> TotpCheck:
    """Check a 6-digit code against the current step +/- drift; refuse steps at or before `last_used_step`."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return TotpCheck(ok=False)
    moment = now or datetime.now(UTC)
    totp = pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS)
    current = totp.timecode(moment)
    matched: int | None = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    if matched is None:
        return TotpCheck(ok=False)
    if last_used_step is not None and matched <= last_used_step:
        return TotpCheck(ok=False, step=matched, replayed=True)
    return TotpCheck(ok=True, step=matched)


# ---- recovery codes ----


def generate_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Codes like `k7pq-2mzx-u9rd-e4wh` (about 78 bits each), shown once; only their hashes are stored."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch in _RECOVERY_ALPHABET)


def hash_recovery_code(code: str) -> str:
    """SHA-256 of the normalized code. With ~78 bits of entropy per code a slow hash adds nothing, and a fast
    one lets the stored hash be looked up directly."""
    return hashlib.sha256(normalize_recovery_code(code).encode()).hexdigest()
