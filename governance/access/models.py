"""Access tables: staff accounts and their second factor, sessions, one-time dashboard links, OAuth2 clients and
tokens, login throttling, break-glass reasons.

Nothing secret is stored in a usable form: passwords as argon2id hashes, TOTP secrets encrypted (AES-256-GCM),
recovery codes, session ids, link tokens, client secrets and access tokens as SHA-256 hashes (they are random
with 256 bits of entropy, so a slow hash adds nothing and the hash can be looked up directly).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base, utcnow, uuid_pk


class StaffAccount(Base):
    __tablename__ = "access_staff"

    id: Mapped[uuid_pk]
    username: Mapped[str] = mapped_column(String(64), unique=True)  # lower-cased sign-in name
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # replay protection
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Single sign-on: SHA-256 of the provider's issuer and the person's `sub` (see access/sso/). Set means the
    # account signs in only through the provider; its local password is refused.
    sso_subject: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)


class RecoveryCode(Base):
    __tablename__ = "access_recovery_codes"

    id: Mapped[uuid_pk]
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("access_staff.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginThrottle(Base):
    """Failed sign-ins per client address (the address itself is stored as a keyed hash)."""

    __tablename__ = "access_login_throttle"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)


class StaffSession(Base):
    __tablename__ = "access_staff_sessions"

    id: Mapped[uuid_pk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("access_staff.id", ondelete="CASCADE"), index=True)
    mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # absolute timeout
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DashboardLink(Base):
    __tablename__ = "access_dashboard_links"

    id: Mapped[uuid_pk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(160))  # "client:<id>" / "system:cli"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SubjectSession(Base):
    __tablename__ = "access_subject_sessions"

    id: Mapped[uuid_pk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("access_dashboard_links.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class OAuthClient(Base):
    __tablename__ = "access_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    purposes: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessToken(Base):
    __tablename__ = "access_tokens"

    id: Mapped[uuid_pk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("access_clients.client_id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class BreakGlassGrant(Base):
    """A full read of someone's data by staff who normally see it masked, with the written reason.

    The reason is staff-written free text and may mention the person, so it lives here (readable by auditors
    through the access API) and the audit log only carries this row's id.
    """

    __tablename__ = "access_break_glass"

    id: Mapped[uuid_pk]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(160))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str] = mapped_column(String(160))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
