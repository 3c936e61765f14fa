"""What the bot knows about a user: greetings (/start), /profile, /export, /forget, /language.

Every method takes the user's own id (from the update, never from button data) and every
query filters by it, so a user can only ever read or delete their own rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.export import ExportRepository
from db.repositories.library import LibraryRepository
from db.repositories.profile import ProfileRepository
from domain.avoid import AvoidService
from domain.ports import JobQueue
from domain.taste import LANGUAGES, TasteStats, TasteSummaryService

log = structlog.get_logger(__name__)

#: Columns of the /export CSV. One row per item, `kind` says which:
#: rating (a film in the user's log: rating 0.5–5, watched/liked/watchlist/not_interested flags,
#: date = when rated), review (text, rating, date = review date), watch (one viewing, date =
#: watch date), recommendation (a pick shown: slot, status, text = the reason shown, source =
#: strategy, date = shown), feedback (the user's answer to a pick: status, date = answered),
#: avoid_topic (text), taste_summary (text, source llm|template). Empty cells: not applicable.
EXPORT_COLUMNS = (
    "kind",
    "date",
    "tmdb_id",
    "title",
    "year",
    "rating",
    "watched",
    "liked",
    "watchlist",
    "not_interested",
    "slot",
    "status",
    "source",
    "text",
)


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    rated: int
    watched: int
    reviews: int


@dataclass(frozen=True, slots=True)
class ProfileView:
    """/profile: the stats, the /avoid topics, and the model-worded summary when one exists in
    the language asked for (None otherwise: the stats alone are the template summary)."""

    stats: TasteStats
    avoid_topics: tuple[str, ...]
    worded_summary: str | None


@dataclass(frozen=True, slots=True)
class UserExport:
    """One CSV file (UTF-8 with a byte-order mark, so spreadsheets read non-Latin titles) and
    the number of rows per kind."""

    file_name: str
    data: bytes
    counts: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


class ProfileService:
    def __init__(self, session: AsyncSession, jobs: JobQueue) -> None:
        self.library = LibraryRepository(session)
        self.repo = ProfileRepository(session)
        self.export_rows = ExportRepository(session)
        self.taste = TasteSummaryService(session)
        self.avoid = AvoidService(session, jobs)
        self.jobs = jobs

    async def summary(self, user_id: int) -> ProfileSummary:
        counts = await self.library.counts(user_id)
        return ProfileSummary(rated=counts["rated"], watched=counts["watched"], reviews=counts["reviews"])

    async def profile(self, user_id: int, *, language: str) -> ProfileView:
        """Stats computed now (so they are never stale), the avoid topics, and the stored
        model summary if it is written in `language`."""
        stats = await self.taste.stats(user_id)
        stored = await self.taste.stored(user_id) if stats.rated else None
        worded = stored.text if stored and stored.source == "llm" and stored.language == language else None
        topics = tuple(topic.topic for topic in await self.avoid.list(user_id))
        return ProfileView(stats, topics, worded)

    async def set_language(self, user_id: int, language: str) -> bool:
        """Store the /language choice (a key of domain.taste.LANGUAGES); False for any other
        value (nothing stored). Queues a summary refresh, so a model rewords it in that language."""
        if language not in LANGUAGES:
            return False
        await self.repo.set_language(user_id, language)
        self.jobs.refresh_summary(user_id)
        log.info("language_set", user_id=user_id, language=language)
        return True

    async def export(self, user_id: int, telegram_id: int, *, today: dt.date | None = None) -> UserExport:
        """Everything the user owns as one CSV (columns EXPORT_COLUMNS). Dates are ISO 8601
        (UTC for times), booleans true/false, ratings "4.5"."""
        rows = await self.export_rows.rows(user_id)
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=EXPORT_COLUMNS, extrasaction="raise", lineterminator="\r\n"
        )
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(value) for key, value in row.items()})
        day = (today or dt.datetime.now(dt.UTC).date()).isoformat()
        counts = Counter(str(row["kind"]) for row in rows)
        log.info("profile_exported", user_id=user_id, rows=len(rows))
        return UserExport(
            f"whattowatch-{telegram_id}-{day}.csv", buffer.getvalue().encode("utf-8-sig"), dict(counts)
        )

    async def forget(self, user_id: int) -> bool:
        """Delete the user and everything they own (every user table cascades from `users`).
        Their next message starts as a new user. Returns whether there was anything to delete."""
        deleted = await self.repo.delete_user(user_id)
        log.info("user_forgotten", user_id=user_id, deleted=deleted)
        return deleted


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
