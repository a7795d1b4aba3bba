"""gateway: privacy budgets that refresh per window (policy `budget_window`): accounts and reservations carry
the window they charge.

Revision ID: budget_windows
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "budget_windows"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_budget_accounts") as batch:
        batch.add_column(sa.Column("window_start", sa.String(length=10), server_default="", nullable=False))
        batch.drop_constraint("uq_gateway_budget_accounts_purpose_client_id", type_="unique")
        batch.create_unique_constraint(
            "uq_gateway_budget_accounts_purpose_client_id_window_start", ["purpose", "client_id", "window_start"]
        )
    with op.batch_alter_table("gateway_budget_reservations") as batch:
        batch.add_column(sa.Column("window_start", sa.String(length=10), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("gateway_budget_reservations") as batch:
        batch.drop_column("window_start")
    with op.batch_alter_table("gateway_budget_accounts") as batch:
        batch.drop_constraint("uq_gateway_budget_accounts_purpose_client_id_window_start", type_="unique")
        batch.create_unique_constraint("uq_gateway_budget_accounts_purpose_client_id", ["purpose", "client_id"])
        batch.drop_column("window_start")
