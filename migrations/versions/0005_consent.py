"""consent domain schema: the append-only ledger, current state, idempotency keys, imports, processors and
webhook deliveries.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from governance.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# The ledger is append-only: the database refuses updates (and, on PostgreSQL, deletes) of consent events.
# SQLite keeps DELETE possible because the test suite empties tables with DELETE between tests.
PG_APPEND_ONLY = """
CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_events is append-only';
END;
$$;
CREATE TRIGGER consent_events_no_update BEFORE UPDATE OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();
"""
SQLITE_APPEND_ONLY = """
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'consent_events is append-only');
END;
"""


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(24), nullable=False),
        sa.Column("collected_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=False),
        sa.Column("notice_sha256", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("jurisdiction", sa.String(16), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.Column("import_row", sa.Integer(), nullable=True),
        sa.Column("receipt_jws", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("import_id", "import_row", name=op.f("uq_consent_events_import_id_import_row")),
        sa.UniqueConstraint("subject_id", "purpose", "seq", name=op.f("uq_consent_events_subject_id_purpose_seq")),
    )
    op.create_index(
        "ix_consent_events_subject_id_recorded_at", "consent_events", ["subject_id", "recorded_at"], unique=False
    )
    op.create_table(
        "consent_state",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(24), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_seq", sa.Integer(), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=True),
        sa.Column("objected", sa.Boolean(), nullable=False),
        sa.Column("objection_at", UTCDateTime(), nullable=True),
        sa.Column("objection_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "purpose", name=op.f("pk_consent_state")),
    )
    op.create_index(
        "ix_consent_state_purpose_decision",
        "consent_state",
        ["purpose", "decision", "subject_id", "notice_version", "objected", "decided_at"],
        unique=False,
    )
    op.create_index(
        "ix_consent_state_purpose_subject",
        "consent_state",
        ["purpose", "subject_id", "decision", "notice_version", "objected", "decided_at"],
        unique=False,
    )
    op.create_table(
        "consent_receipt_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("public_jwk", JSON, nullable=False),
        sa.Column("first_used_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_consent_receipt_keys")),
    )
    op.create_table(
        "consent_idempotency_keys",
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("response", JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("actor", "key", name=op.f("pk_consent_idempotency_keys")),
    )
    op.create_table(
        "consent_imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("imported_rows", sa.Integer(), nullable=False),
        sa.Column("rejected_rows", sa.Integer(), nullable=False),
        sa.Column("next_row", sa.Integer(), nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_imports")),
    )
    op.create_table(
        "consent_processors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("purposes", JSON, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("secret_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_processors")),
        sa.UniqueConstraint("name", name=op.f("uq_consent_processors_name")),
    )
    op.create_table(
        "consent_webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("processor_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["processor_id"],
            ["consent_processors.id"],
            name=op.f("fk_consent_webhook_deliveries_processor_id_consent_processors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_webhook_deliveries")),
    )
    op.create_index(op.f("ix_consent_webhook_deliveries_processor_id"), "consent_webhook_deliveries", ["processor_id"])
    op.create_index(
        "ix_consent_webhook_deliveries_status_created_at", "consent_webhook_deliveries", ["status", "created_at"]
    )
    op.create_index(op.f("ix_consent_webhook_deliveries_subject_id"), "consent_webhook_deliveries", ["subject_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_APPEND_ONLY)
    else:
        op.execute(SQLITE_APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consent_events_no_update ON consent_events")
        op.execute("DROP FUNCTION IF EXISTS consent_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS consent_events_no_update")
    op.drop_index(op.f("ix_consent_webhook_deliveries_subject_id"), table_name="consent_webhook_deliveries")
    op.drop_index("ix_consent_webhook_deliveries_status_created_at", table_name="consent_webhook_deliveries")
    op.drop_index(op.f("ix_consent_webhook_deliveries_processor_id"), table_name="consent_webhook_deliveries")
    op.drop_table("consent_webhook_deliveries")
    op.drop_table("consent_processors")
    op.drop_table("consent_imports")
    op.drop_table("consent_idempotency_keys")
    op.drop_table("consent_receipt_keys")
    op.drop_index("ix_consent_state_purpose_subject", table_name="consent_state")
    op.drop_index("ix_consent_state_purpose_decision", table_name="consent_state")
    op.drop_table("consent_state")
    op.drop_index("ix_consent_events_subject_id_recorded_at", table_name="consent_events")
    op.drop_table("consent_events")
