"""vault domain schema: subjects, wrapped data keys, encrypted profile fields and events, tombstones,
master-key versions and rotations.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from governance.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "vault_subjects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_ref_index", sa.LargeBinary(32), nullable=True),
        sa.Column("email_index", sa.LargeBinary(32), nullable=True),
        sa.Column("jurisdiction", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("erased_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'erased')", name=op.f("ck_vault_subjects_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_subjects")),
        sa.UniqueConstraint("external_ref_index", name=op.f("uq_vault_subjects_external_ref_index")),
    )
    op.create_index(op.f("ix_vault_subjects_email_index"), "vault_subjects", ["email_index"])
    op.create_table(
        "vault_data_keys",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("master_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["vault_subjects.id"],
            name=op.f("fk_vault_data_keys_subject_id_vault_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "version", name=op.f("pk_vault_data_keys")),
    )
    op.create_index(op.f("ix_vault_data_keys_master_version"), "vault_data_keys", ["master_version"])
    op.create_table(
        "vault_profile_fields",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["vault_subjects.id"],
            name=op.f("fk_vault_profile_fields_subject_id_vault_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "name", name=op.f("pk_vault_profile_fields")),
    )
    op.create_index(op.f("ix_vault_profile_fields_updated_at"), "vault_profile_fields", ["updated_at"])
    op.create_table(
        "vault_events",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["vault_subjects.id"],
            name=op.f("fk_vault_events_subject_id_vault_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_events")),
        sa.UniqueConstraint("subject_id", "event_id", name=op.f("uq_vault_events_subject_id_event_id")),
    )
    op.create_index(
        "ix_vault_events_subject_id_category_occurred_at", "vault_events", ["subject_id", "category", "occurred_at"]
    )
    op.create_index("ix_vault_events_category_occurred_at", "vault_events", ["category", "occurred_at"])
    op.create_table(
        "vault_tombstones",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("erased_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("destroyed", JSON, nullable=False),
        sa.Column("kept_categories", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["vault_subjects.id"], name=op.f("fk_vault_tombstones_subject_id_vault_subjects")
        ),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_vault_tombstones")),
    )
    op.create_table(
        "vault_master_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("state IN ('active', 'retiring', 'retired')", name=op.f("ck_vault_master_keys_state")),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_vault_master_keys")),
    )
    op.create_table(
        "vault_key_rotations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("target_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("retired_versions", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_key_rotations")),
    )


def downgrade() -> None:
    op.drop_table("vault_key_rotations")
    op.drop_table("vault_master_keys")
    op.drop_table("vault_tombstones")
    op.drop_index("ix_vault_events_category_occurred_at", table_name="vault_events")
    op.drop_index("ix_vault_events_subject_id_category_occurred_at", table_name="vault_events")
    op.drop_table("vault_events")
    op.drop_index(op.f("ix_vault_profile_fields_updated_at"), table_name="vault_profile_fields")
    op.drop_table("vault_profile_fields")
    op.drop_index(op.f("ix_vault_data_keys_master_version"), table_name="vault_data_keys")
    op.drop_table("vault_data_keys")
    op.drop_index(op.f("ix_vault_subjects_email_index"), table_name="vault_subjects")
    op.drop_table("vault_subjects")
