"""Film cards: the poster path, directors, leading actors, IMDb id and trailer key of each
catalog film (TMDB details with credits, external ids and videos; empty for CSV catalogs).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 03:39:00.924745
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("films", sa.Column("poster_path", sa.Text(), nullable=True))
    op.add_column(
        "films", sa.Column("directors", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False)
    )
    op.add_column(
        "films", sa.Column("cast_names", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False)
    )
    op.add_column("films", sa.Column("imdb_id", sa.String(length=16), nullable=True))
    op.add_column("films", sa.Column("trailer_key", sa.String(length=32), nullable=True))


def downgrade() -> None:
    for column in ("trailer_key", "imdb_id", "cast_names", "directors", "poster_path"):
        op.drop_column("films", column)
