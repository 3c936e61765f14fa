"""Taste summaries: the model rewords a summary every REWRITE_EVERY ratings (the stats it words
come from ratings), no longer every REWRITE_EVERY rows of `reviews` (which counted a rating
saved without a text as a review). `reviews_at_rewrite` becomes `rated_at_rewrite`, set to
each user's current number of rated films, so no stored wording is redone at once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 23:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("taste_summaries", "reviews_at_rewrite", new_column_name="rated_at_rewrite")
    op.execute(
        "UPDATE taste_summaries s SET rated_at_rewrite = ("
        " SELECT count(*) FROM user_films f WHERE f.user_id = s.user_id AND f.rating IS NOT NULL)"
        " WHERE s.source = 'llm'"
    )


def downgrade() -> None:
    op.alter_column("taste_summaries", "rated_at_rewrite", new_column_name="reviews_at_rewrite")
    op.execute(
        "UPDATE taste_summaries s SET reviews_at_rewrite = ("
        " SELECT count(*) FROM reviews r WHERE r.user_id = s.user_id) WHERE s.source = 'llm'"
    )
