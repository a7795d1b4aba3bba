"""access: staff accounts signed in through OpenID Connect single sign-on.

`sso_subject` is SHA-256 of the provider's issuer and the person's subject identifier (`sub`): the link between
an account and its identity at the provider, never the identifier itself. An account with it set signs in only
through the provider (its local password is refused).

Revision ID: sso
Revises: outbox
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sso"
down_revision: str | None = "outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_staff") as batch:
        batch.add_column(sa.Column("sso_subject", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_access_staff_sso_subject", ["sso_subject"])


def downgrade() -> None:
    with op.batch_alter_table("access_staff") as batch:
        batch.drop_constraint("uq_access_staff_sso_subject", type_="unique")
        batch.drop_column("sso_subject")
