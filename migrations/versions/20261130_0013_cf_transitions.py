"""CF transitions: the sequential model (what follows what in users' histories), built with
the CF model and stored beside cf_neighbours.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cf_transitions",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "target_id", name="pk_cf_transitions"),
    )


def downgrade() -> None:
    op.drop_table("cf_transitions")
