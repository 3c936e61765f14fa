"""Where to watch: providers per film and per country (TMDB/JustWatch, cached for a day),
the streaming services each user pays for (/services) and their /country.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 03:53:53.928994
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "film_providers",
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("tmdb_id", name=op.f("pk_film_providers")),
    )
    op.create_table(
        "region_providers",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("country", name=op.f("pk_region_providers")),
    )
    op.create_table(
        "user_services",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("provider_name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_services_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "provider_id", name=op.f("pk_user_services")),
    )
    op.add_column("users", sa.Column("country", sa.String(length=2), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "country")
    op.drop_table("user_services")
    op.drop_table("region_providers")
    op.drop_table("film_providers")
