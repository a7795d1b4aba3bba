"""vault: master-key versions are kept for the backup retention after they are retired, then destroyed.

`destroy_after` is when a retired version's key material is destroyed in the provider (its retirement plus
`GOVERNANCE_BACKUP_RETENTION_DAYS`: a backup taken while it was in use stays restorable until it expires);
`destroyed_at` records that the provider destroyed it. Versions retired by earlier code were destroyed at once.

Revision ID: key_epochs
Revises: release_footprints
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from governance.db import UTCDateTime

revision: str = "key_epochs"
down_revision: str | None = "release_footprints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vault_master_keys") as batch:
        batch.add_column(sa.Column("destroy_after", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("destroyed_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE vault_master_keys SET destroyed_at = retired_at WHERE state = 'retired'")


def downgrade() -> None:
    with op.batch_alter_table("vault_master_keys") as batch:
        batch.drop_column("destroyed_at")
        batch.drop_column("destroy_after")
