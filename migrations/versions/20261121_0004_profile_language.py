"""Profile and language: taste summaries (/profile) and the user's /language choice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(8), nullable=True))
    op.create_table(
        "taste_summaries",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), server_default="en", nullable=False),
        sa.Column("reviews_at_rewrite", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("source IN ('llm', 'template')", name=op.f("ck_taste_summaries_source_known")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_taste_summaries_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_taste_summaries")),
    )


def downgrade() -> None:
    op.drop_table("taste_summaries")
    op.drop_column("users", "language")
