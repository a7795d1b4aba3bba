"""audit domain schema: provisional ids and sealed positions on entries, the chain head, signed checkpoints,
and (PostgreSQL) triggers that make audit rows append-only.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from governance.db import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SEARCH_INDEXES = (
    ("ix_audit_entries_action", ["action"]),
    ("ix_audit_entries_occurred_at", ["occurred_at"]),
    ("ix_audit_entries_actor", ["actor_kind", "actor_id"]),
    ("ix_audit_entries_target", ["target_kind", "target_id"]),
    ("ix_audit_entries_request_id", ["request_id"]),
)

# The one UPDATE allowed on an entry is sealing it: seq and leaf_hash go from NULL to a value, nothing else moves.
GUARD_FUNCTIONS = """
CREATE FUNCTION audit_entries_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND OLD.leaf_hash IS NULL
     AND NEW.seq IS NOT NULL AND NEW.leaf_hash IS NOT NULL
     AND NEW.id = OLD.id AND NEW.occurred_at = OLD.occurred_at
     AND NEW.actor_kind = OLD.actor_kind AND NEW.actor_id = OLD.actor_id AND NEW.action = OLD.action
     AND NEW.target_kind IS NOT DISTINCT FROM OLD.target_kind
     AND NEW.target_id IS NOT DISTINCT FROM OLD.target_id
     AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id
     AND NEW.policy_version IS NOT DISTINCT FROM OLD.policy_version
     AND NEW.details = OLD.details THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP;
END
$$;
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;
"""
TRIGGERS = """
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION audit_entries_guard();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
"""


def upgrade() -> None:
    # the foundation's `seq` was a database sequence (gaps on rollback): it becomes the provisional id, and
    # `seq` is now the gap-free position the sealer assigns
    op.execute("ALTER TABLE audit_entries RENAME COLUMN seq TO id")
    op.add_column("audit_entries", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_entries", sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=True))
    # every index but the primary key and the unsealed one is partial (seq IS NOT NULL): the writer's INSERT
    # touches two indexes, the sealer's UPDATE adds the entry to the search indexes (docs/audit.md)
    sealed, unsealed = sa.text("seq IS NOT NULL"), sa.text("seq IS NULL")
    op.drop_index("ix_audit_entries_action", table_name="audit_entries")
    op.create_index(
        "uq_audit_entries_seq", "audit_entries", ["seq"], unique=True, postgresql_where=sealed, sqlite_where=sealed
    )
    op.create_index(
        "ix_audit_entries_unsealed", "audit_entries", ["id"], postgresql_where=unsealed, sqlite_where=unsealed
    )
    for name, columns in SEARCH_INDEXES:
        op.create_index(name, "audit_entries", columns, postgresql_where=sealed, sqlite_where=sealed)
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", JSON, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=80), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_checkpoints")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(GUARD_FUNCTIONS)
        op.execute(TRIGGERS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table in (
            ("audit_entries_append_only", "audit_entries"),
            ("audit_entries_no_truncate", "audit_entries"),
            ("audit_checkpoints_append_only", "audit_checkpoints"),
            ("audit_checkpoints_no_truncate", "audit_checkpoints"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_entries_guard()")
        op.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_head")
    for name, _columns in SEARCH_INDEXES:
        op.drop_index(name, table_name="audit_entries")
    op.drop_index("ix_audit_entries_unsealed", table_name="audit_entries")
    op.drop_index("uq_audit_entries_seq", table_name="audit_entries")
    op.create_index("ix_audit_entries_action", "audit_entries", ["action"])
    op.drop_column("audit_entries", "leaf_hash")
    op.drop_column("audit_entries", "seq")
    op.execute("ALTER TABLE audit_entries RENAME COLUMN id TO seq")
