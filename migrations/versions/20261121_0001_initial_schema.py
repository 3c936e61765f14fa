"""Initial schema: pgvector and pg_trgm extensions, users, films (the catalog), user_films,
reviews, recommendations and their items, rate limits.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 14:19:44.153769
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "films",
        sa.Column("tmdb_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("original_title", sa.Text(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("genres", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("keywords", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("overview", sa.Text(), nullable=True),
        sa.Column("runtime", sa.Integer(), nullable=True),
        sa.Column("original_language", sa.String(length=16), nullable=True),
        sa.Column("countries", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("popularity", sa.Float(), server_default="0", nullable=False),
        sa.Column("vote_average", sa.Float(), server_default="0", nullable=False),
        sa.Column("vote_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("details_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tmdb_id", name=op.f("pk_films")),
    )
    op.create_index(
        "ix_films_lower_original_title_year",
        "films",
        [sa.literal_column("lower(original_title)"), "year"],
        unique=False,
    )
    op.create_index(
        "ix_films_lower_title_year", "films", [sa.literal_column("lower(title)"), "year"], unique=False
    )
    op.create_index(
        "ix_films_original_title_trgm",
        "films",
        ["original_title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"original_title": "gin_trgm_ops"},
    )
    op.create_index("ix_films_popularity", "films", ["popularity"], unique=False)
    op.create_index(
        "ix_films_title_trgm",
        "films",
        ["title"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("first_name", sa.String(length=256), nullable=True),
        sa.Column("language_code", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_users_telegram_id")),
    )
    op.create_table(
        "rate_limits",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rate_limits_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_rate_limits")),
    )
    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recommendations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
    )
    op.create_index(op.f("ix_recommendations_user_id"), "recommendations", ["user_id"], unique=False)
    op.create_table(
        "user_films",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Numeric(precision=2, scale=1), nullable=True),
        sa.Column("watched", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("watched_on", sa.Date(), nullable=True),
        sa.Column("liked", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("on_watchlist", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("source IN ('bot', 'letterboxd')", name=op.f("ck_user_films_source_known")),
        sa.CheckConstraint(
            "rating IS NULL OR (rating >= 0.5 AND rating <= 5 AND rating * 2 = floor(rating * 2))",
            name=op.f("ck_user_films_rating_half_steps"),
        ),
        sa.ForeignKeyConstraint(["tmdb_id"], ["films.tmdb_id"], name=op.f("fk_user_films_tmdb_id_films")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_films_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "tmdb_id", name=op.f("pk_user_films")),
    )
    op.create_index("ix_user_films_tmdb_id", "user_films", ["tmdb_id"], unique=False)
    op.create_table(
        "recommendation_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recommendation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="shown", nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "slot IN ('safe', 'adjacent', 'wildcard')", name=op.f("ck_recommendation_items_slot_known")
        ),
        sa.CheckConstraint(
            "status IN ('shown', 'watched', 'skipped')", name=op.f("ck_recommendation_items_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["recommendations.id"],
            name=op.f("fk_recommendation_items_recommendation_id_recommendations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tmdb_id"], ["films.tmdb_id"], name=op.f("fk_recommendation_items_tmdb_id_films")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recommendation_items_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation_items")),
    )
    op.create_index(
        "ix_recommendation_items_user_id_created_at",
        "recommendation_items",
        ["user_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Numeric(precision=2, scale=1), nullable=True),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=True),
        sa.Column("recommendation_item_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("source IN ('bot', 'letterboxd')", name=op.f("ck_reviews_source_known")),
        sa.CheckConstraint(
            "rating IS NULL OR (rating >= 0.5 AND rating <= 5 AND rating * 2 = floor(rating * 2))",
            name=op.f("ck_reviews_rating_half_steps"),
        ),
        sa.ForeignKeyConstraint(
            ["recommendation_item_id"],
            ["recommendation_items.id"],
            name=op.f("fk_reviews_recommendation_item_id_recommendation_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["tmdb_id"], ["films.tmdb_id"], name=op.f("fk_reviews_tmdb_id_films")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reviews_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("user_id", "tmdb_id", name=op.f("uq_reviews_user_id_tmdb_id")),
    )


def downgrade() -> None:
    op.drop_table("reviews")
    op.drop_index("ix_recommendation_items_user_id_created_at", table_name="recommendation_items")
    op.drop_table("recommendation_items")
    op.drop_index("ix_user_films_tmdb_id", table_name="user_films")
    op.drop_table("user_films")
    op.drop_index(op.f("ix_recommendations_user_id"), table_name="recommendations")
    op.drop_table("recommendations")
    op.drop_table("rate_limits")
    op.drop_table("users")
    op.drop_index(
        "ix_films_title_trgm",
        table_name="films",
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )
    op.drop_index("ix_films_popularity", table_name="films")
    op.drop_index(
        "ix_films_original_title_trgm",
        table_name="films",
        postgresql_using="gin",
        postgresql_ops={"original_title": "gin_trgm_ops"},
    )
    op.drop_index("ix_films_lower_title_year", table_name="films")
    op.drop_index("ix_films_lower_original_title_year", table_name="films")
    op.drop_table("films")
    # The extensions stay: other schemas in the same database may use them.
