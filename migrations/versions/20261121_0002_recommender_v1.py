"""Recommender v1: vectors (films, reviews, taste, avoid topics), the CF model, 🚫 not interested,
rating times, and procrastinate's job-queue schema.

The procrastinate schema is the one shipped with the pinned procrastinate release
(`procrastinate.schema.SchemaManager.get_schema()`); upgrading procrastinate means adding a
revision that runs its new files from `procrastinate/sql/migrations/`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from procrastinate.schema import SchemaManager
from sqlalchemy.util import await_

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIM = 384


def upgrade() -> None:
    op.add_column(
        "user_films", sa.Column("not_interested", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("user_films", sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint(op.f("ck_user_films_source_known"), "user_films", type_="check")
    op.create_check_constraint("source_known", "user_films", "source IN ('bot', 'letterboxd', 'movielens')")
    op.drop_constraint(op.f("ck_recommendation_items_status_known"), "recommendation_items", type_="check")
    op.create_check_constraint(
        "status_known", "recommendation_items", "status IN ('shown', 'watched', 'skipped', 'not_interested')"
    )

    op.create_table(
        "film_embeddings",
        sa.Column(
            "tmdb_id", sa.Integer(), sa.ForeignKey("films.tmdb_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("embedding", Vector(DIM), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("tmdb_id", "model", name="pk_film_embeddings"),
    )
    op.create_index(
        "ix_film_embeddings_embedding_hnsw",
        "film_embeddings",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_table(
        "review_embeddings",
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("embedding", Vector(DIM), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("review_id", "model", name="pk_review_embeddings"),
    )
    op.create_table(
        "taste_vectors",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("embedding", Vector(DIM), nullable=False),
        sa.Column("n_films", sa.Integer(), nullable=False),
        sa.Column("n_reviews", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "model", name="pk_taste_vectors"),
    )
    op.create_table(
        "avoid_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("model", sa.String(64), nullable=True),
        sa.Column("embedding", Vector(DIM), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_avoid_topics"),
    )
    op.create_index(
        "uq_avoid_topics_user_id_lower_topic",
        "avoid_topics",
        ["user_id", sa.text("lower(topic)")],
        unique=True,
    )
    op.create_table(
        "cf_items",
        sa.Column(
            "tmdb_id", sa.Integer(), sa.ForeignKey("films.tmdb_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("n_ratings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tmdb_id", name="pk_cf_items"),
    )
    op.create_table(
        "cf_neighbours",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "target_id", name="pk_cf_neighbours"),
    )
    op.create_table(
        "cf_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("n_users", sa.Integer(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("n_ratings", sa.Integer(), nullable=False),
        sa.Column("l2", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cf_models"),
    )
    # procrastinate's schema: many statements and $$ bodies, so asyncpg's simple-query execute
    driver = op.get_bind().connection.driver_connection
    await_(driver.execute(SchemaManager.get_schema()))


def downgrade() -> None:
    for table in ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute("DROP TABLE IF EXISTS procrastinate_workers CASCADE")
    op.execute(
        "DO $$ DECLARE f record; BEGIN FOR f IN SELECT oid::regprocedure AS sig FROM pg_proc "
        "WHERE proname LIKE 'procrastinate%' LOOP EXECUTE 'DROP FUNCTION ' || f.sig || ' CASCADE'; "
        "END LOOP; END $$"
    )
    for type_ in (
        "procrastinate_job_to_defer_v1",
        "procrastinate_job_event_type",
        "procrastinate_job_status",
    ):
        op.execute(f"DROP TYPE IF EXISTS {type_} CASCADE")
    for table in ("cf_models", "cf_neighbours", "cf_items", "avoid_topics", "taste_vectors"):
        op.drop_table(table)
    op.drop_table("review_embeddings")
    op.drop_table("film_embeddings")
    op.drop_constraint(op.f("ck_recommendation_items_status_known"), "recommendation_items", type_="check")
    op.create_check_constraint(
        "status_known", "recommendation_items", "status IN ('shown', 'watched', 'skipped')"
    )
    op.drop_constraint(op.f("ck_user_films_source_known"), "user_films", type_="check")
    op.create_check_constraint("source_known", "user_films", "source IN ('bot', 'letterboxd')")
    op.drop_column("user_films", "rated_at")
    op.drop_column("user_films", "not_interested")
