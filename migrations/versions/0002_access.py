"""access domain schema: staff accounts and second factor, sessions, dashboard links, OAuth2 clients and tokens,
login throttling, break-glass reasons.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from governance.db import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "access_break_glass",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=160), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=160), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_break_glass")),
    )
    op.create_table(
        "access_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("purposes", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_access_clients")),
    )
    op.create_table(
        "access_dashboard_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_dashboard_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_access_dashboard_links_token_hash")),
    )
    op.create_index(
        op.f("ix_access_dashboard_links_subject_id"), "access_dashboard_links", ["subject_id"], unique=False
    )
    op.create_table(
        "access_login_throttle",
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("address_hash", name=op.f("pk_access_login_throttle")),
    )
    op.create_table(
        "access_staff",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("totp_secret_enc", sa.LargeBinary(), nullable=True),
        sa.Column("totp_enabled_at", UTCDateTime(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("password_changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_staff")),
        sa.UniqueConstraint("username", name=op.f("uq_access_staff_username")),
    )
    op.create_table(
        "access_recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["access_staff.id"],
            name=op.f("fk_access_recovery_codes_staff_id_access_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_access_recovery_codes_code_hash")),
    )
    op.create_index(op.f("ix_access_recovery_codes_staff_id"), "access_recovery_codes", ["staff_id"], unique=False)
    op.create_table(
        "access_staff_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("mfa", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["access_staff.id"],
            name=op.f("fk_access_staff_sessions_staff_id_access_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_access_staff_sessions_token_hash")),
    )
    op.create_index(op.f("ix_access_staff_sessions_staff_id"), "access_staff_sessions", ["staff_id"], unique=False)
    op.create_table(
        "access_subject_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("link_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["access_dashboard_links.id"],
            name=op.f("fk_access_subject_sessions_link_id_access_dashboard_links"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_subject_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_access_subject_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_access_subject_sessions_subject_id"), "access_subject_sessions", ["subject_id"], unique=False
    )
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["access_clients.client_id"],
            name=op.f("fk_access_tokens_client_id_access_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_access_tokens_token_hash")),
    )
    op.create_index(op.f("ix_access_tokens_client_id"), "access_tokens", ["client_id"], unique=False)
    op.create_index(op.f("ix_access_tokens_expires_at"), "access_tokens", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_access_tokens_expires_at"), table_name="access_tokens")
    op.drop_index(op.f("ix_access_tokens_client_id"), table_name="access_tokens")
    op.drop_table("access_tokens")
    op.drop_index(op.f("ix_access_subject_sessions_subject_id"), table_name="access_subject_sessions")
    op.drop_table("access_subject_sessions")
    op.drop_index(op.f("ix_access_staff_sessions_staff_id"), table_name="access_staff_sessions")
    op.drop_table("access_staff_sessions")
    op.drop_index(op.f("ix_access_recovery_codes_staff_id"), table_name="access_recovery_codes")
    op.drop_table("access_recovery_codes")
    op.drop_table("access_staff")
    op.drop_table("access_login_throttle")
    op.drop_index(op.f("ix_access_dashboard_links_subject_id"), table_name="access_dashboard_links")
    op.drop_table("access_dashboard_links")
    op.drop_table("access_clients")
    op.drop_table("access_break_glass")
