"""The admin's figures (/stats): users, picks shown and answered, imports, job queues, the CF
model, and TMDB's error rate. Read-only; every figure has one written rule, below and on the
dataclass that carries it.

The window is `WINDOW` (7 days) back from `now`, the moment `StatsService.collect` is asked
for (a bind parameter, not the database's `now()`, so a test can pin it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, and_, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import (
    AvoidTopic,
    CFModelInfo,
    Import,
    Recommendation,
    RecommendationItem,
    Review,
    User,
    UserFilm,
)

#: How far back "recent" figures look.
WINDOW = dt.timedelta(days=7)

#: procrastinate's job statuses as counted here: waiting (`todo`, including jobs scheduled
#: for later, e.g. a retry's wait), running (`doing`), failed (`failed`: after all retries,
#: kept until `python -m bot jobs retry ID`).
_JOBS_SQL = text(
    "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
    "WHERE status IN ('todo', 'doing', 'failed') GROUP BY 1, 2"
)


@dataclass(frozen=True, slots=True)
class UserCounts:
    """Rows of `users` (people who ever wrote to the bot).

    - `total`: all of them.
    - `active`: those who did something the bot stores with a time within the window: joined
      (`users.created_at`), asked /recommend (`recommendations.created_at`), answered a pick
      with ✅/⏭/🚫 (`recommendation_items.status_at`), saved a review (`reviews.updated_at`),
      had a film added to or re-rated in their log, by the bot, onboarding or an import
      (`user_films.updated_at` or `rated_at`), sent an import (`imports.created_at`) or added
      an /avoid topic (`avoid_topics.created_at`). Commands that store nothing (/start, /help,
      /profile, /export, /language of a known user) leave no time and do not count.
    - `blocked`: `users.blocked_at` is set: Telegram last refused to deliver to them (HTTP 403,
      blocked the bot or deleted the account) and they have not written since. A blocked user
      may also be active (they blocked the bot after using it this week).
    """

    total: int
    active: int
    blocked: int


@dataclass(frozen=True, slots=True)
class PickCounts:
    """Picks shown (`recommendation_items` rows, three per /recommend) created in a period, by
    their status now: `watched` (✅), `skipped` (⏭), `not_interested` (🚫), the rest still
    `shown` (no answer). `shown` = watched + skipped + not_interested + unanswered."""

    shown: int
    watched: int
    skipped: int
    not_interested: int

    @property
    def unanswered(self) -> int:
        return self.shown - self.watched - self.skipped - self.not_interested


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """Letterboxd imports (`imports` rows).

    - `in_progress`: queued or running now, whenever they were sent.
    - `done`, `cancelled`, `failed`: imports that ended within the window with that status
      ("cancelled": stopped by /cancel; its films so far are kept). An import ends at
      `finished_at`; one cancelled before its job started has none, and ends at its last
      change (`updated_at`).
    - `films_matched`: films matched with TMDB in the `done` and `cancelled` ones (their
      report's `matched`); a failed import's report holds no count, so it adds nothing.
    """

    in_progress: int
    done: int
    cancelled: int
    failed: int
    films_matched: int


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Jobs of one procrastinate queue now: `waiting` (status todo, including jobs scheduled
    for later), `running` (doing), `failed` (failed after all retries, still in the table)."""

    queue: str
    waiting: int
    running: int
    failed: int


@dataclass(frozen=True, slots=True)
class CFModelSummary:
    """The newest CF model build (`cf_models`, highest id): when it was built (UTC), the films
    it scores (`n_items`), the bot's users and the prior users it was trained on."""

    built_at: dt.datetime
    n_items: int
    n_users: int
    n_prior_users: int


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """HTTP requests to an external service counted by ONE process since `since` (UTC; when
    that process started), from its `wtw_external_requests_total` counter: `total` attempts
    (retries included), `errors` of them answered with a status other than 2xx or not
    answered at all (timeouts, refused connections). Other processes (separate workers,
    other replicas) count their own."""

    total: int
    errors: int
    since: dt.datetime


@dataclass(frozen=True, slots=True)
class BotStats:
    """Everything /stats shows, taken at `taken_at` (UTC) with the window `window` back from it.
    `cf_model` None: no model was built yet; `tmdb` None: not counted (the caller gave none)."""

    taken_at: dt.datetime
    window: dt.timedelta
    users: UserCounts
    picks_recent: PickCounts
    picks_all: PickCounts
    imports: ImportCounts
    queues: tuple[QueueCounts, ...]
    cf_model: CFModelSummary | None
    tmdb: RequestCounts | None


class StatsService:
    """Reads the figures of `BotStats` in one session (six queries, none per row).

    Args:
        session: any session; nothing is written.
        queues: queue names always listed, in this order, even when empty; queues found in
            `procrastinate_jobs` but not named here follow, sorted.
    """

    def __init__(self, session: AsyncSession, *, queues: Sequence[str] = ()) -> None:
        self.session = session
        self.queues = tuple(queues)

    async def collect(self, *, tmdb: RequestCounts | None = None, now: dt.datetime | None = None) -> BotStats:
        """The figures now (or at `now`, timezone-aware); `tmdb` is passed through as it is."""
        now = now or dt.datetime.now(dt.UTC)
        since = now - WINDOW
        return BotStats(
            taken_at=now,
            window=WINDOW,
            users=await self._users(since),
            picks_recent=await self._picks(since),
            picks_all=await self._picks(None),
            imports=await self._imports(since),
            queues=await self._queues(),
            cf_model=await self._cf_model(),
            tmdb=tmdb,
        )

    async def _users(self, since: dt.datetime) -> UserCounts:
        active = or_(
            User.created_at >= since,
            exists().where(
                Recommendation.user_id == User.id,
                Recommendation.created_at >= since,
            ),
            exists().where(
                RecommendationItem.user_id == User.id,
                RecommendationItem.status_at >= since,
            ),
            exists().where(Review.user_id == User.id, Review.updated_at >= since),
            exists().where(
                UserFilm.user_id == User.id,
                or_(UserFilm.updated_at >= since, UserFilm.rated_at >= since),
            ),
            exists().where(Import.user_id == User.id, Import.created_at >= since),
            exists().where(AvoidTopic.user_id == User.id, AvoidTopic.created_at >= since),
        )
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.count().filter(active),
                    func.count().filter(User.blocked_at.is_not(None)),
                ).select_from(User)
            )
        ).one()
        return UserCounts(total=row[0], active=row[1], blocked=row[2])

    async def _picks(self, since: dt.datetime | None) -> PickCounts:
        status = RecommendationItem.status
        stmt = select(
            func.count(),
            func.count().filter(status == "watched"),
            func.count().filter(status == "skipped"),
            func.count().filter(status == "not_interested"),
        ).select_from(RecommendationItem)
        if since is not None:
            stmt = stmt.where(RecommendationItem.created_at >= since)
        row = (await self.session.execute(stmt)).one()
        return PickCounts(shown=row[0], watched=row[1], skipped=row[2], not_interested=row[3])

    async def _imports(self, since: dt.datetime) -> ImportCounts:
        ended = func.coalesce(Import.finished_at, Import.updated_at) >= since

        def ended_as(*statuses: str) -> ColumnElement[bool]:
            return and_(Import.status.in_(statuses), ended)

        matched = func.coalesce(Import.report["matched"].astext.cast(Integer), 0)
        row = (
            await self.session.execute(
                select(
                    func.count().filter(Import.status.in_(("queued", "running"))),
                    func.count().filter(ended_as("done")),
                    func.count().filter(ended_as("cancelled")),
                    func.count().filter(ended_as("failed")),
                    func.coalesce(func.sum(matched).filter(ended_as("done", "cancelled")), 0),
                ).select_from(Import)
            )
        ).one()
        return ImportCounts(
            in_progress=row[0], done=row[1], cancelled=row[2], failed=row[3], films_matched=int(row[4])
        )

    async def _queues(self) -> tuple[QueueCounts, ...]:
        counts: dict[str, dict[str, int]] = {queue: {} for queue in self.queues}
        for queue, status, count in await self.session.execute(_JOBS_SQL):
            counts.setdefault(queue, {})[status] = int(count)
        order = [*self.queues, *sorted(set(counts) - set(self.queues))]
        return tuple(
            QueueCounts(
                queue,
                waiting=counts[queue].get("todo", 0),
                running=counts[queue].get("doing", 0),
                failed=counts[queue].get("failed", 0),
            )
            for queue in order
        )

    async def _cf_model(self) -> CFModelSummary | None:
        row = await self.session.scalar(select(CFModelInfo).order_by(CFModelInfo.id.desc()).limit(1))
        if row is None:
            return None
        return CFModelSummary(
            built_at=row.built_at, n_items=row.n_items, n_users=row.n_users, n_prior_users=row.n_prior_users
        )
