"""request casework: the staff owner of a request and internal notes on it (docs/requests.md, "Casework").

Revision ID: request_casework
Revises: blind_index_versions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import governance.db

revision: str = "request_casework"
down_revision: str | None = "blind_index_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "requests_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", governance.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests_dsr.id"],
            name=op.f("fk_requests_notes_request_id_requests_dsr"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests_notes")),
    )
    op.create_index(op.f("ix_requests_notes_request_id"), "requests_notes", ["request_id"], unique=False)
    op.create_index(op.f("ix_requests_notes_subject_id"), "requests_notes", ["subject_id"], unique=False)
    op.add_column("requests_dsr", sa.Column("owner_staff_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests_dsr") as batch:
        batch.drop_column("owner_staff_id")
    op.drop_index(op.f("ix_requests_notes_subject_id"), table_name="requests_notes")
    op.drop_index(op.f("ix_requests_notes_request_id"), table_name="requests_notes")
    op.drop_table("requests_notes")
