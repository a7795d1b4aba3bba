"""gateway domain schema: releases with manifest and lineage, download links, the budget ledger, DP queries.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import governance.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('gateway_budget_accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('pure_epsilon_micro', sa.BigInteger(), nullable=False),
    sa.Column('pure_epsilon_sq', sa.BigInteger(), nullable=False),
    sa.Column('approx_epsilon_micro', sa.BigInteger(), nullable=False),
    sa.Column('delta_units', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_budget_accounts')),
    sa.UniqueConstraint('purpose', 'client_id', name=op.f('uq_gateway_budget_accounts_purpose_client_id'))
    )
    op.create_table('gateway_budget_reservations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('charges_client_share', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('epsilon_micro', sa.BigInteger(), nullable=False),
    sa.Column('delta_units', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.Column('created_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('settled_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('reserved', 'committed', 'refunded')", name=op.f('ck_gateway_budget_reservations_state')),
    sa.CheckConstraint('epsilon_micro >= 0 AND delta_units >= 0', name=op.f('ck_gateway_budget_reservations_amounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_budget_reservations'))
    )
    op.create_index(op.f('ix_gateway_budget_reservations_client_id'), 'gateway_budget_reservations', ['client_id'], unique=False)
    op.create_index(op.f('ix_gateway_budget_reservations_purpose'), 'gateway_budget_reservations', ['purpose'], unique=False)
    op.create_table('gateway_releases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('spec', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('pseudonym_mode', sa.String(length=16), nullable=False),
    sa.Column('policy_version', sa.String(length=64), nullable=False),
    sa.Column('consent_snapshot_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('manifest', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('rows_released', sa.BigInteger(), nullable=True),
    sa.Column('rows_suppressed', sa.BigInteger(), nullable=True),
    sa.Column('subjects_released', sa.Integer(), nullable=True),
    sa.Column('k_required', sa.Integer(), nullable=False),
    sa.Column('k_achieved', sa.Integer(), nullable=True),
    sa.Column('checksum_sha256', sa.String(length=64), nullable=True),
    sa.Column('bytes', sa.BigInteger(), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('created_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('file_expires_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'ready', 'failed', 'expired')", name=op.f('ck_gateway_releases_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_releases'))
    )
    op.create_index(op.f('ix_gateway_releases_client_id'), 'gateway_releases', ['client_id'], unique=False)
    op.create_index(op.f('ix_gateway_releases_purpose'), 'gateway_releases', ['purpose'], unique=False)
    op.create_table('gateway_download_links',
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('release_id', sa.Uuid(), nullable=False),
    sa.Column('expires_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('downloads', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['gateway_releases.id'], name=op.f('fk_gateway_download_links_release_id_gateway_releases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_gateway_download_links'))
    )
    op.create_index(op.f('ix_gateway_download_links_release_id'), 'gateway_download_links', ['release_id'], unique=False)
    op.create_table('gateway_dp_queries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('statistic', sa.String(length=16), nullable=False),
    sa.Column('parameters', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('epsilon_micro', sa.BigInteger(), nullable=False),
    sa.Column('delta_units', sa.BigInteger(), nullable=False),
    sa.Column('mechanism', sa.Text(), nullable=False),
    sa.Column('reservation_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reservation_id'], ['gateway_budget_reservations.id'], name=op.f('fk_gateway_dp_queries_reservation_id_gateway_budget_reservations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_dp_queries'))
    )
    op.create_index(op.f('ix_gateway_dp_queries_client_id'), 'gateway_dp_queries', ['client_id'], unique=False)
    op.create_index(op.f('ix_gateway_dp_queries_purpose'), 'gateway_dp_queries', ['purpose'], unique=False)
    op.create_table('gateway_release_subjects',
    sa.Column('release_id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['gateway_releases.id'], name=op.f('fk_gateway_release_subjects_release_id_gateway_releases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('release_id', 'subject_id', name=op.f('pk_gateway_release_subjects'))
    )
    op.create_index('ix_gateway_release_subjects_subject_id', 'gateway_release_subjects', ['subject_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_gateway_release_subjects_subject_id', table_name='gateway_release_subjects')
    op.drop_table('gateway_release_subjects')
    op.drop_index(op.f('ix_gateway_dp_queries_purpose'), table_name='gateway_dp_queries')
    op.drop_index(op.f('ix_gateway_dp_queries_client_id'), table_name='gateway_dp_queries')
    op.drop_table('gateway_dp_queries')
    op.drop_index(op.f('ix_gateway_download_links_release_id'), table_name='gateway_download_links')
    op.drop_table('gateway_download_links')
    op.drop_index(op.f('ix_gateway_releases_purpose'), table_name='gateway_releases')
    op.drop_index(op.f('ix_gateway_releases_client_id'), table_name='gateway_releases')
    op.drop_table('gateway_releases')
    op.drop_index(op.f('ix_gateway_budget_reservations_purpose'), table_name='gateway_budget_reservations')
    op.drop_index(op.f('ix_gateway_budget_reservations_client_id'), table_name='gateway_budget_reservations')
    op.drop_table('gateway_budget_reservations')
    op.drop_table('gateway_budget_accounts')
