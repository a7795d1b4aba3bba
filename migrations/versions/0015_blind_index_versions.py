"""vault: versioned blind-index keys (docs/vault.md, "Blind-index key rotation").

`vault_subjects.index_version` is the blind-index key version a subject's indexes are computed with;
`external_ref_ciphertext` keeps the normalized external reference encrypted under the subject's data key so
that a rotation can re-index it (subjects created before this revision have none). `vault_blind_index_rotations`
records each rotation (resumable re-indexing job with progress).

Revision ID: blind_index_versions
Revises: sso
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import governance.db

revision: str = "blind_index_versions"
down_revision: str | None = "sso"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vault_subjects") as batch:
        batch.add_column(sa.Column("index_version", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("external_ref_ciphertext", sa.LargeBinary(), nullable=True))
    op.create_index("ix_vault_subjects_index_version", "vault_subjects", ["index_version"], unique=False)
    op.create_table(
        "vault_blind_index_rotations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("legacy", sa.Integer(), nullable=False),
        sa.Column("started_at", governance.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", governance.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('running', 'done')", name=op.f("ck_vault_blind_index_rotations_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_blind_index_rotations")),
        sa.UniqueConstraint("to_version", name=op.f("uq_vault_blind_index_rotations_to_version")),
    )


def downgrade() -> None:
    op.drop_table("vault_blind_index_rotations")
    op.drop_index("ix_vault_subjects_index_version", table_name="vault_subjects")
    with op.batch_alter_table("vault_subjects") as batch:
        batch.drop_column("external_ref_ciphertext")
        batch.drop_column("index_version")
