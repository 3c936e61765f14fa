"""In-chat Letterboxd import: import jobs, the shared title-match cache, watch dates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RATING_CHECK = "rating IS NULL OR (rating >= 0.5 AND rating <= 5 AND rating * 2 = floor(rating * 2))"


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(8), server_default="en", nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(16), server_default="queued", nullable=False),
        sa.Column("films_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("films_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("report", postgresql.JSONB(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'cancelled', 'failed')",
            name=op.f("ck_imports_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    op.create_index("ix_imports_user_id", "imports", ["user_id"])
    op.create_index(
        "uq_imports_user_id_active",
        "imports",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_table(
        "title_matches",
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name_key", "year", name=op.f("pk_title_matches")),
    )
    op.create_table(
        "watches",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), sa.ForeignKey("films.tmdb_id"), nullable=False),
        sa.Column("watched_on", sa.Date(), nullable=False),
        sa.Column("rating", sa.Numeric(2, 1), nullable=True),
        sa.CheckConstraint(RATING_CHECK, name=op.f("ck_watches_rating_half_steps")),
        sa.PrimaryKeyConstraint("user_id", "tmdb_id", "watched_on", name=op.f("pk_watches")),
    )


def downgrade() -> None:
    op.drop_table("watches")
    op.drop_table("title_matches")
    op.drop_index("uq_imports_user_id_active", table_name="imports")
    op.drop_index("ix_imports_user_id", table_name="imports")
    op.drop_table("imports")
