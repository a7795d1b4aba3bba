"""outbox: the transactional outbox relayed to the message broker (docs/broker.md).

One row per message, written in the transaction of the change it announces; `sent_at` is set once the broker
confirmed it. The partial index keeps the relay's scan as small as the backlog.

Revision ID: outbox
Revises: key_epochs
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import governance.db

revision: str = "outbox"
down_revision: str | None = "key_epochs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNSENT = sa.text("sent_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("created_at", governance.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", governance.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_messages_id")),
    )
    op.create_index("ix_outbox_messages_sent_at", "outbox_messages", ["sent_at"], unique=False)
    op.create_index(
        "ix_outbox_messages_unsent", "outbox_messages", ["seq"], unique=False, sqlite_where=_UNSENT,
        postgresql_where=_UNSENT,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_unsent", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_sent_at", table_name="outbox_messages")
    op.drop_table("outbox_messages")
