"""console aggregates: stored audit verification reports, and the amount a budget reservation was made for
(and indexes for reading the newest reservations).

The console reads the newest row of `audit_verifications` (written by the periodic `audit.verify` job) instead
of verifying the whole log on each page view; the budget ledger page reads `gateway_budget_reservations` instead
of the audit log, so a reservation keeps what it reserved after its commit records what was spent (NULL for
reservations made before this revision: the page shows the amount it has). docs/audit.md, docs/web.md.

Revision ID: console_aggregates
Revises: request_casework
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import governance.db

revision: str = "console_aggregates"
down_revision: str | None = "request_casework"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_verifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("checked_at", governance.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("anchor_size", sa.BigInteger(), nullable=True),
        sa.Column("anchor_frontier", _JSON, nullable=True),
        sa.Column("report", _JSON, nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.CheckConstraint("kind IN ('full', 'incremental')", name=op.f("ck_audit_verifications_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verifications")),
    )
    op.add_column("gateway_budget_reservations", sa.Column("reserved_epsilon_micro", sa.BigInteger(), nullable=True))
    for column in ("created_at", "settled_at"):
        op.create_index(f"ix_gateway_budget_reservations_{column}", "gateway_budget_reservations", [column])
    op.create_index("ix_gateway_releases_created_at", "gateway_releases", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_gateway_releases_created_at", table_name="gateway_releases")
    for column in ("created_at", "settled_at"):
        op.drop_index(f"ix_gateway_budget_reservations_{column}", table_name="gateway_budget_reservations")
    with op.batch_alter_table("gateway_budget_reservations") as batch:
        batch.drop_column("reserved_epsilon_micro")
    op.drop_table("audit_verifications")
