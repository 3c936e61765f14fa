"""Standing filters per user (/settings: `user_settings`), and IMDb as a source of ratings
and reviews (`user_films.source`, `reviews.source`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 02:54:52.447656
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("excluded_genres", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("min_year", sa.Integer(), nullable=True),
        sa.Column("max_year", sa.Integer(), nullable=True),
        sa.Column("max_runtime", sa.Integer(), nullable=True),
        sa.Column("languages_include", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("languages_exclude", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("from_watchlist", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_settings")),
    )
    for table in ("user_films", "reviews"):
        op.drop_constraint("source_known", table, type_="check")
    op.create_check_constraint(
        "source_known",
        "user_films",
        "source IN ('bot', 'letterboxd', 'imdb', 'movielens')",
    )
    op.create_check_constraint("source_known", "reviews", "source IN ('bot', 'letterboxd', 'imdb')")


def downgrade() -> None:
    for table in ("user_films", "reviews"):
        op.drop_constraint("source_known", table, type_="check")
    op.create_check_constraint("source_known", "user_films", "source IN ('bot', 'letterboxd', 'movielens')")
    op.create_check_constraint("source_known", "reviews", "source IN ('bot', 'letterboxd')")
    op.drop_table("user_settings")
