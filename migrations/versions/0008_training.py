"""training domain schema: jobs, lineage, artifacts, flags.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import governance.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('training_jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.String(length=100), nullable=False),
    sa.Column('purpose', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('spec', JSON, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('target_epsilon', sa.String(length=40), nullable=False),
    sa.Column('target_delta', sa.String(length=40), nullable=False),
    sa.Column('epsilon_spent', sa.String(length=40), nullable=True),
    sa.Column('delta_spent', sa.String(length=40), nullable=True),
    sa.Column('reservation_id', sa.Uuid(), nullable=True),
    sa.Column('budget_settled', sa.Boolean(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('queue_job_id', sa.Uuid(), nullable=True),
    sa.Column('progress', JSON, nullable=True),
    sa.Column('release', JSON, nullable=True),
    sa.Column('consent_snapshot_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('n_subjects', sa.Integer(), nullable=True),
    sa.Column('metrics', JSON, nullable=True),
    sa.Column('privacy_report', JSON, nullable=True),
    sa.Column('timings', JSON, nullable=True),
    sa.Column('error_code', sa.String(length=100), nullable=True),
    sa.Column('error_message', sa.String(length=500), nullable=True),
    sa.Column('retrain_of', sa.Uuid(), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', governance.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_jobs'))
    )
    op.create_index(op.f('ix_training_jobs_client_id'), 'training_jobs', ['client_id'], unique=False)
    op.create_index('ix_training_jobs_status', 'training_jobs', ['status'], unique=False)
    op.create_table('training_artifacts',
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('weights', sa.LargeBinary(), nullable=False),
    sa.Column('weights_sha256', sa.String(length=64), nullable=False),
    sa.Column('model_card', JSON, nullable=False),
    sa.Column('created_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['training_jobs.id'], name=op.f('fk_training_artifacts_job_id_training_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_training_artifacts'))
    )
    op.create_table('training_flags',
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('flagged_at', governance.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['training_jobs.id'], name=op.f('fk_training_flags_job_id_training_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'subject_id', 'reason', name=op.f('pk_training_flags'))
    )
    op.create_table('training_lineage',
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['training_jobs.id'], name=op.f('fk_training_lineage_job_id_training_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'subject_id', name=op.f('pk_training_lineage'))
    )
    op.create_index(op.f('ix_training_lineage_subject_id'), 'training_lineage', ['subject_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_training_lineage_subject_id'), table_name='training_lineage')
    op.drop_table('training_lineage')
    op.drop_table('training_flags')
    op.drop_table('training_artifacts')
    op.drop_index('ix_training_jobs_status', table_name='training_jobs')
    op.drop_index(op.f('ix_training_jobs_client_id'), table_name='training_jobs')
    op.drop_table('training_jobs')
