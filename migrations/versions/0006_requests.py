"""requests domain schema: data subject requests, sealed export bundles, download links.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import governance.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('requests_dsr',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('jurisdiction', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('filed_by', sa.String(length=140), nullable=False),
    sa.Column('verification_method', sa.String(length=60), nullable=True),
    sa.Column('received_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('confirm_by', sa.Date(), nullable=True),
    sa.Column('confirmed_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmation_method', sa.String(length=60), nullable=True),
    sa.Column('original_due_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('extensions', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('verified_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rejection_code', sa.String(length=40), nullable=True),
    sa.Column('outcome_reason', sa.Text(), nullable=True),
    sa.Column('outcome_items', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('open_key', sa.String(length=60), nullable=True),
    sa.Column('merged_count', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=30), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('certificate', sa.Text(), nullable=True),
    sa.Column('overdue_alerted_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requests_dsr')),
    sa.UniqueConstraint('open_key', name=op.f('uq_requests_dsr_open_key'))
    )
    op.create_index('ix_requests_dsr_status_due_on', 'requests_dsr', ['status', 'due_on'], unique=False)
    op.create_index(op.f('ix_requests_dsr_subject_id'), 'requests_dsr', ['subject_id'], unique=False)
    op.create_table('requests_bundles',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=True),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('kek_name', sa.String(length=60), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('created_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['requests_dsr.id'], name=op.f('fk_requests_bundles_request_id_requests_dsr')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requests_bundles')),
    sa.UniqueConstraint('request_id', name=op.f('uq_requests_bundles_request_id'))
    )
    op.create_index(op.f('ix_requests_bundles_expires_at'), 'requests_bundles', ['expires_at'], unique=False)
    op.create_index(op.f('ix_requests_bundles_subject_id'), 'requests_bundles', ['subject_id'], unique=False)
    op.create_table('requests_download_links',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('bundle_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_to', sa.String(length=140), nullable=False),
    sa.Column('expires_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('bound_to', sa.String(length=140), nullable=True),
    sa.Column('first_used_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('created_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['requests_bundles.id'], name=op.f('fk_requests_download_links_bundle_id_requests_bundles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requests_download_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_requests_download_links_token_hash'))
    )
    op.create_index(op.f('ix_requests_download_links_bundle_id'), 'requests_download_links', ['bundle_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_requests_download_links_bundle_id'), table_name='requests_download_links')
    op.drop_table('requests_download_links')
    op.drop_index(op.f('ix_requests_bundles_subject_id'), table_name='requests_bundles')
    op.drop_index(op.f('ix_requests_bundles_expires_at'), table_name='requests_bundles')
    op.drop_table('requests_bundles')
    op.drop_index(op.f('ix_requests_dsr_subject_id'), table_name='requests_dsr')
    op.drop_index('ix_requests_dsr_status_due_on', table_name='requests_dsr')
    op.drop_table('requests_dsr')
