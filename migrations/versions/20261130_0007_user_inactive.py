"""Users who blocked the bot: `users.blocked_at`, set when Telegram refuses to deliver to the
user (HTTP 403) and cleared when they write again (bot.flood, bot.middlewares).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "blocked_at")
