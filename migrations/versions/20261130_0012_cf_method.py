"""CF method: how each stored CF model was trained, "ease" (dense EASE) or "rp3beta" (sparse
RP3beta, catalogs above CF_DENSE_MAX_ITEMS films); existing rows were EASE.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 05:36:09.762384
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cf_models", sa.Column("method", sa.Text(), server_default="ease", nullable=False))


def downgrade() -> None:
    op.drop_column("cf_models", "method")
