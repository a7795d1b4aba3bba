"""gateway: lineage keeps each released person's footprint digest (keyed per release, opaque) so that a later
release that can be joined with this one is measured together with it (k per person over both).

Revision ID: release_footprints
Revises: budget_windows
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "release_footprints"
down_revision: str | None = "budget_windows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_release_subjects") as batch:
        batch.add_column(sa.Column("footprint", sa.LargeBinary(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateway_release_subjects") as batch:
        batch.drop_column("footprint")
