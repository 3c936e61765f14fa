"""A public ratings prior for collaborative filtering: datasets loaded by
`python -m bot cf load-ratings` (anonymous prior users' ratings), and how many prior users
each CF model was trained on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cf_priors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("n_users", sa.Integer(), nullable=False),
        sa.Column("n_films", sa.Integer(), nullable=False),
        sa.Column("n_ratings", sa.Integer(), nullable=False),
        sa.Column("n_unlinked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cf_priors")),
        sa.UniqueConstraint("name", name=op.f("uq_cf_priors_name")),
    )
    op.create_table(
        "cf_prior_ratings",
        sa.Column("prior_id", sa.Integer(), nullable=False),
        sa.Column("prior_user", sa.Integer(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prior_id"],
            ["cf_priors.id"],
            name=op.f("fk_cf_prior_ratings_prior_id_cf_priors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prior_id", "prior_user", "tmdb_id", name=op.f("pk_cf_prior_ratings")),
    )
    op.add_column("cf_models", sa.Column("n_prior_users", sa.Integer(), server_default="0", nullable=False))
    op.add_column("cf_models", sa.Column("prior_weight", sa.Float(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("cf_models", "prior_weight")
    op.drop_column("cf_models", "n_prior_users")
    op.drop_table("cf_prior_ratings")
    op.drop_table("cf_priors")
