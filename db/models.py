"""SQLAlchemy 2 typed models.

Tables:
    users                 one row per Telegram user.
    films                 the catalog: films fetched from TMDB (or loaded from a TMDB-format CSV).
    user_films            a user's log of one film: rating, watched, liked, watchlist. Unique (user, film).
    reviews               review text of one user for one film. Unique (user, film).
    recommendations       one /recommend answer; recommendation_items its picks.
    rate_limits           last use of a throttled command per user.
    imports               Letterboxd exports sent in the chat and their import jobs' progress and report.
    title_matches         the shared cache of Letterboxd (name, year) → TMDB id decisions.
    watches               one row per viewing date of a film (diary rewatches).
    film_embeddings       one vector per catalog film and embedding model (pgvector, HNSW cosine).
    review_embeddings     one vector per review and model.
    taste_vectors         one vector per user and model: what the user likes, in film space.
    taste_summaries       one per user: their taste in words (LLM-worded or the template), for /profile.
    fsm_states            aiogram's conversation state (FSM state and data) per StorageKey (bot/fsm.py).
    avoid_topics          a user's soft-avoid topics (/avoid), with the topic's vector.
    cf_items, cf_neighbours  the item-to-item collaborative-filtering model built from all users'
                          ratings (EASE, Steck 2019), truncated to the strongest neighbours.
    cf_priors, cf_prior_ratings  public ratings datasets (MovieLens) loaded as anonymous prior
                          users the CF model also trains on (`python -m bot cf load-ratings`).
    user_settings         a user's standing filters (/settings).
    group_chats, group_members  group chats the bot is in and the members who /join'ed its
                          rounds; group_rounds (one /together), group_round_members,
                          group_picks (the films shown to the group) and group_votes.
    film_providers, region_providers  where to watch (TMDB/JustWatch), cached for a day.
    user_services         the streaming services a user pays for (/services).

Vectors are `vector(384)` and carry the name of the model that made them; queries always filter
on the model, so vectors of different models are never compared.

Ratings are Letterboxd-style: 0.5 to 5 in half steps, stored as NUMERIC(2,1) with a CHECK.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from domain.ports import EMBEDDING_DIMENSIONS

RATING_CHECK = "rating IS NULL OR (rating >= 0.5 AND rating <= 5 AND rating * 2 = floor(rating * 2))"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's autogenerate filter: procrastinate's job-queue tables are not modelled here
    (revision 0002 applies its schema verbatim), so they are left out of comparisons."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


class Base(DeclarativeBase):
    """Declarative base; naming convention keeps alembic constraint names stable."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str | None] = mapped_column(String(256))
    language_code: Mapped[str | None] = mapped_column(String(16))
    #: The /language choice ("en", "ru", "es", "pt"); None: follow Telegram's language_code.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: When Telegram last refused to deliver to this user (HTTP 403: they blocked the bot or
    #: deleted their account; bot.flood); None again as soon as they write to the bot.
    blocked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the user first wrote to the bot in a private chat (None: only ever seen in groups,
    #: so a group round asks them to open a private chat first).
    private_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The /country choice (ISO 3166-1 alpha-2, "DE") for where to watch; None: derived from
    #: `language_code` (domain/where_to_watch.py `default_country`).
    country: Mapped[str | None] = mapped_column(String(2))


class Film(Base):
    """A catalog film. `details_fetched_at` is set once the full TMDB record (runtime,
    keywords, countries) is known; search results only fill the basic columns."""

    __tablename__ = "films"

    tmdb_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(Text)
    original_title: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    release_date: Mapped[dt.date | None] = mapped_column(Date)
    genres: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    overview: Mapped[str | None] = mapped_column(Text)
    runtime: Mapped[int | None] = mapped_column(Integer)
    original_language: Mapped[str | None] = mapped_column(String(16))
    countries: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    popularity: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    vote_average: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    vote_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The card (bot/cards.py): TMDB's poster path ("/abc.jpg"), directors, the first three
    #: billed actors, the IMDb id and the official YouTube trailer's key; details only, except
    #: the poster, which list records carry too. Empty for CSV catalogs.
    poster_path: Mapped[str | None] = mapped_column(Text)
    directors: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    cast_names: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    imdb_id: Mapped[str | None] = mapped_column(String(16))
    trailer_key: Mapped[str | None] = mapped_column(String(32))
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    details_fetched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "ix_films_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}
        ),
        Index(
            "ix_films_original_title_trgm",
            "original_title",
            postgresql_using="gin",
            postgresql_ops={"original_title": "gin_trgm_ops"},
        ),
        Index("ix_films_popularity", "popularity"),
    )


# Exact (case-insensitive) title + year lookups: Letterboxd import and the review flow.
Index("ix_films_lower_title_year", func.lower(Film.title), Film.year)
Index("ix_films_lower_original_title_year", func.lower(Film.original_title), Film.year)


class UserFilm(Base):
    """What a user did with a film: rating (0.5–5, half steps), watched, liked, on watchlist."""

    __tablename__ = "user_films"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    tmdb_id: Mapped[int] = mapped_column(ForeignKey("films.tmdb_id"), primary_key=True)
    rating: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    watched: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    watched_on: Mapped[dt.date | None] = mapped_column(Date)
    liked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    on_watchlist: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    #: 🚫 Not interested: never recommended again, and counted as a dislike.
    not_interested: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    #: When the rating (or like/watch) was given; orders the history for recency weighting.
    rated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    film: Mapped[Film] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(RATING_CHECK, name="rating_half_steps"),
        CheckConstraint("source IN ('bot', 'letterboxd', 'imdb', 'movielens')", name="source_known"),
        Index("ix_user_films_tmdb_id", "tmdb_id"),
    )


class Review(Base):
    """A user's review text of a film. One per (user, film): re-reviewing updates it."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tmdb_id: Mapped[int] = mapped_column(ForeignKey("films.tmdb_id"))
    rating: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    source: Mapped[str] = mapped_column(String(16))
    reviewed_on: Mapped[dt.date | None] = mapped_column(Date)
    recommendation_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("recommendation_items.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        UniqueConstraint("user_id", "tmdb_id"),
        CheckConstraint(RATING_CHECK, name="rating_half_steps"),
        CheckConstraint("source IN ('bot', 'letterboxd', 'imdb')", name="source_known"),
    )


class Recommendation(Base):
    """One answer to /recommend."""

    __tablename__ = "recommendations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    strategy: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    items: Mapped[list[RecommendationItem]] = relationship(
        back_populates="recommendation", order_by="RecommendationItem.position", lazy="raise"
    )


class RecommendationItem(Base):
    """One pick of a recommendation. `status`: shown → watched | skipped."""

    __tablename__ = "recommendation_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tmdb_id: Mapped[int] = mapped_column(ForeignKey("films.tmdb_id"))
    position: Mapped[int] = mapped_column(Integer)
    slot: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="shown", server_default="shown")
    status_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    recommendation: Mapped[Recommendation] = relationship(back_populates="items", lazy="raise")

    __table_args__ = (
        CheckConstraint("slot IN ('safe', 'adjacent', 'wildcard')", name="slot_known"),
        CheckConstraint("status IN ('shown', 'watched', 'skipped', 'not_interested')", name="status_known"),
        Index("ix_recommendation_items_user_id_created_at", "user_id", "created_at"),
    )


class RateLimit(Base):
    """Last time a user ran a throttled command (`key`, e.g. "recommend")."""

    __tablename__ = "rate_limits"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


#: Import job states; at most one import per user is queued or running at a time.
IMPORT_STATUSES = ("queued", "running", "done", "cancelled", "failed")
ACTIVE_IMPORT = "status IN ('queued', 'running')"


class Import(Base):
    """One Letterboxd export sent in the chat, imported by a background job.

    `payload` holds the file as sent (≤ 20 MB, Telegram's bot download limit) until the job
    finishes, so a restarted job reads it again; it is cleared when the import ends. `report`
    is the match report (counts, unread rows with reasons, unmatched films) as JSON.
    """

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(Integer)
    locale: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    file_name: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    films_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    films_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in IMPORT_STATUSES) + ")", name="status_known"
        ),
        Index("uq_imports_user_id_active", "user_id", unique=True, postgresql_where=text(ACTIVE_IMPORT)),
    )


class TitleMatch(Base):
    """A decision "this Letterboxd (name, year) is TMDB film `tmdb_id`" shared by all users, so
    the same film is never matched twice. `tmdb_id` None: TMDB had no such film (retried after
    a while, see domain.matching). `name_key` is the name casefolded with whitespace collapsed;
    `year` 0 means the export gave none."""

    __tablename__ = "title_matches"

    name_key: Mapped[str] = mapped_column(Text, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    tmdb_id: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Watch(Base):
    """One viewing of a film on a date (Letterboxd diary rows; rewatches are more rows)."""

    __tablename__ = "watches"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    tmdb_id: Mapped[int] = mapped_column(ForeignKey("films.tmdb_id"), primary_key=True)
    watched_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    rating: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))

    __table_args__ = (CheckConstraint(RATING_CHECK, name="rating_half_steps"),)


class FilmEmbedding(Base):
    """A catalog film's vector for one model; `text_hash` is the sha256 of the embedded text, so
    a film whose text changed (new overview, keywords) is embedded again."""

    __tablename__ = "film_embeddings"

    tmdb_id: Mapped[int] = mapped_column(ForeignKey("films.tmdb_id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIMENSIONS))
    text_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index(
            "ix_film_embeddings_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )


class ReviewEmbedding(Base):
    """A review's vector for one model; `text_hash` as in FilmEmbedding (reviews grow)."""

    __tablename__ = "review_embeddings"

    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIMENSIONS))
    text_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TasteVector(Base):
    """A user's taste in film-embedding space (see domain.embeddings.taste_vector)."""

    __tablename__ = "taste_vectors"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIMENSIONS))
    n_films: Mapped[int] = mapped_column(Integer)
    n_reviews: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AvoidTopic(Base):
    """A soft-avoid topic (/avoid gore): films close to it in embedding space are pushed down.

    `embedding` is filled by a background job; until then the topic matches by keyword only.
    """

    __tablename__ = "avoid_topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(64))
    embedding: Mapped[list[float] | None] = mapped_column(Vector(EMBEDDING_DIMENSIONS))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("uq_avoid_topics_user_id_lower_topic", "user_id", func.lower(topic), unique=True),
    )


class CFItem(Base):
    """A film in the current collaborative-filtering model: how many users rated it there."""

    __tablename__ = "cf_items"

    tmdb_id: Mapped[int] = mapped_column(ForeignKey("films.tmdb_id", ondelete="CASCADE"), primary_key=True)
    n_ratings: Mapped[int] = mapped_column(Integer)


class CFNeighbour(Base):
    """One weight of the item-to-item model: rating `source_id` raises `target_id`'s CF score by
    `weight` (the EASE weight B[source, target]); each target keeps its strongest sources."""

    __tablename__ = "cf_neighbours"

    source_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    weight: Mapped[float] = mapped_column(Float)


class CFTransition(Base):
    """One weight of the transition model (recommender.sequence): `target_id` tends to be
    watched soon after `source_id`; T[source, target], each source's row sums to at most 1."""

    __tablename__ = "cf_transitions"

    source_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    weight: Mapped[float] = mapped_column(Float)


class CFModelInfo(Base):
    """One row per CF model build; the newest row's `id` is the model version."""

    __tablename__ = "cf_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    built_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    n_users: Mapped[int] = mapped_column(Integer)
    n_items: Mapped[int] = mapped_column(Integer)
    n_ratings: Mapped[int] = mapped_column(Integer)
    l2: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    #: Anonymous users of the loaded ratings priors the model was trained on (0: none).
    n_prior_users: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Weight of each prior user's row in EASE's Gram matrix (`CF_PRIOR_WEIGHT`; 0: prior unused).
    prior_weight: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    #: How the model was trained (domain/cf.py): "ease" (dense) or "rp3beta" (sparse, large catalogs).
    method: Mapped[str] = mapped_column(Text, default="ease", server_default="ease")


class CFPrior(Base):
    """A public ratings dataset loaded as CF prior users (domain/prior.py). `n_unlinked` counts
    its ratings whose movie had no TMDB id (skipped); `n_ratings` the ratings stored."""

    __tablename__ = "cf_priors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    format: Mapped[str] = mapped_column(String(32))
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    n_users: Mapped[int] = mapped_column(Integer)
    n_films: Mapped[int] = mapped_column(Integer)
    n_ratings: Mapped[int] = mapped_column(Integer)
    n_unlinked: Mapped[int] = mapped_column(Integer)


class CFPriorRating(Base):
    """One rating of a prior user (the dataset's own user id, not a row of `users`). No foreign
    key to `films`: the catalog may be loaded after the prior; training joins on it."""

    __tablename__ = "cf_prior_ratings"

    prior_id: Mapped[int] = mapped_column(ForeignKey("cf_priors.id", ondelete="CASCADE"), primary_key=True)
    prior_user: Mapped[int] = mapped_column(Integer, primary_key=True)
    tmdb_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating: Mapped[float] = mapped_column(Float)


#: Who wrote a taste summary: the language model, or the template in domain/taste.py.
SUMMARY_SOURCES = ("llm", "template")


class TasteSummary(Base):
    """A user's taste in words, refreshed by a background job after every saved review
    (domain.taste). `rated_at_rewrite` is the user's number of rated films at the last LLM
    rewording (0: never); `language` is the language `text` is written in."""

    __tablename__ = "taste_summaries"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    rated_at_rewrite: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "source IN (" + ", ".join(f"'{s}'" for s in SUMMARY_SOURCES) + ")", name="source_known"
        ),
    )


class FsmState(Base):
    """aiogram's FSM state and data of one conversation, keyed like aiogram's `StorageKey`
    (bot, chat, user, thread, business connection, destiny); `bot/fsm.py` reads and writes it.

    Keyed by Telegram ids, not `users.id`: a state may exist before the user row (and /forget
    clears the state itself). An absent thread or business connection is stored as 0 / ''
    (primary-key columns cannot be NULL).
    """

    __tablename__ = "fsm_states"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    business_connection_id: Mapped[str] = mapped_column(Text, primary_key=True)
    destiny: Mapped[str] = mapped_column(Text, primary_key=True)
    state: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


#: A group round's life: members join, then vote on three picks, then a winner (or a cancel).
ROUND_STATUSES = ("joining", "voting", "decided", "cancelled")
OPEN_ROUND_STATUSES = ("joining", "voting")


class GroupChat(Base):
    """A group or supergroup the bot was added to. `telegram_chat_id` follows a migration to a
    supergroup; `active` is False once the bot was removed; `show_names`: vote cards name the
    voters (`/together names`), else they show counts only."""

    __tablename__ = "group_chats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    show_names: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GroupMember(Base):
    """A member who /join'ed the group's rounds: they are in every round from its start."""

    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("group_chats.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    joined_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GroupRound(Base):
    """One /together: `status` in ROUND_STATUSES; at most one open round (joining or voting)
    per group. `message_id` is the 🙋 message; `deadline` ends the vote; `winner_pick_id` is
    the group pick that won."""

    __tablename__ = "group_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("group_chats.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="joining", server_default="joining")
    message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    winner_pick_id: Mapped[int | None] = mapped_column(Integer)
    #: The language of the member who asked for the picks: the round's end is announced in it.
    locale: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in ROUND_STATUSES) + ")", name="status_known"
        ),
        Index(
            "ix_group_rounds_open",
            "group_id",
            unique=True,
            postgresql_where=text("status IN ('joining', 'voting')"),
        ),
    )


class GroupRoundMember(Base):
    """A member in one round (tapped 🙋, /join'ed, or carried over by 🔄)."""

    __tablename__ = "group_round_members"

    round_id: Mapped[int] = mapped_column(ForeignKey("group_rounds.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    joined_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GroupPick(Base):
    """A film shown to a group in a round: `position` 1–3, `score` the group score
    (recommender.group), `reasons` as [[kind, [member user ids], [values]], …]."""

    __tablename__ = "group_picks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("group_rounds.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    tmdb_id: Mapped[int] = mapped_column(ForeignKey("films.tmdb_id"))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("round_id", "position"),)


class GroupVote(Base):
    """One member's vote on one group pick: +1 (👍) or −1 (👎); a new tap replaces it."""

    __tablename__ = "group_votes"

    pick_id: Mapped[int] = mapped_column(ForeignKey("group_picks.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    vote: Mapped[int] = mapped_column(Integer)
    voted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("vote IN (-1, 1)", name="vote_sign"),)


class UserSettings(Base):
    """A user's standing filters (/settings), honoured by every recommendation path.

    `excluded_genres`: TMDB genre names never picked; `min_year`/`max_year`: release years
    (inclusive); `max_runtime`: minutes; `languages_include` / `languages_exclude`: ISO 639-1
    original languages (include empty: any); `from_watchlist`: picks may be watchlisted films.
    """

    __tablename__ = "user_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    excluded_genres: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    min_year: Mapped[int | None] = mapped_column(Integer)
    max_year: Mapped[int | None] = mapped_column(Integer)
    max_runtime: Mapped[int | None] = mapped_column(Integer)
    languages_include: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    languages_exclude: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    from_watchlist: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class FilmProviders(Base):
    """Where a film streams (TMDB `/movie/{id}/watch/providers`, JustWatch data), cached for a
    day: `data` is {country: {"link": url, "flatrate"|"rent"|"buy"|"free"|"ads": [[provider_id,
    name], …]}} (domain/where_to_watch.py); `fetched_at` dates it."""

    __tablename__ = "film_providers"

    tmdb_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)


class RegionProviders(Base):
    """The streaming services TMDB knows in a country (`/watch/providers/movie?watch_region=`),
    cached for a day: `data` is [[provider_id, name], …] in TMDB's display order."""

    __tablename__ = "region_providers"

    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[list[Any]] = mapped_column(JSONB)


class UserService(Base):
    """A streaming service a user pays for (/services): TMDB's provider id and its name."""

    __tablename__ = "user_services"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_name: Mapped[str] = mapped_column(Text)
