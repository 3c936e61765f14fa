"""Services for one update, built around that update's database session.

`ServiceFactory` is created once at start-up with the long-lived parts (TMDB client,
settings, the CF model cache, the embedding model's name); `bind(session, jobs)` gives the
per-update services handlers ask for by name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import CardStyle
from bot.jobs.tasks import QUEUES
from bot.settings import Settings
from domain.avoid import AvoidService
from domain.catalog import CatalogService, SourceBudget
from domain.cf_cache import CFModelCache
from domain.clarify import ClarifyService
from domain.explanations import ExplanationService
from domain.feedback import FeedbackService
from domain.groups import GroupService
from domain.imports import ImportService
from domain.inline import InlineService
from domain.letterboxd_export import LetterboxdExportService
from domain.onboarding import OnboardingService
from domain.ports import JobQueue, LanguageModel, MovieSource
from domain.profile import ProfileService
from domain.ranking_cache import RankingCache
from domain.ratings import RatingsService
from domain.recommendations import RecommendationService
from domain.reviews import ReviewService
from domain.settings import UserSettingsService
from domain.similar import SimilarService
from domain.stats import StatsService
from domain.taste import TasteSummaryService
from domain.watchlist import WatchlistService
from domain.where_to_watch import WhereToWatchService
from domain.wish_picks import WishService
from recommender.scoring import DEFAULT_WEIGHTS, RankWeights


class Services(TypedDict):
    """What handlers may declare as parameters (besides aiogram's own: state, bot, …)."""

    catalog: CatalogService
    reviews: ReviewService
    recommendations: RecommendationService
    onboarding: OnboardingService  # the grid a new user taps the films they liked on
    imports: ImportService
    profile: ProfileService
    letterboxd_export: LetterboxdExportService  # /export letterboxd
    avoid: AvoidService
    explanations: ExplanationService
    clarify: ClarifyService
    stats: StatsService
    groups: GroupService
    ratings: RatingsService  # /ratings
    feedback: FeedbackService  # ✅ / ⏭ / 🚫 on a pick and their ↩️ Undo
    watchlist: WatchlistService  # 🔖, /watchlist, /recommend watchlist
    user_settings: UserSettingsService  # /settings (standing filters)
    wishes: WishService  # /recommend <words>
    cards: CardStyle  # poster cards (bot/cards.py): the image base URL when TMDB is configured
    inline_films: InlineService  # inline mode (@bot <title>) and /start film_<id>
    similar: SimilarService  # /similar <title>, 🔁 More like this
    where: WhereToWatchService  # 📺 on pick cards, /country, /services


@dataclass(frozen=True)
class ServiceFactory:
    """`embedding_model` names the vectors the recommender reads (None: ignore vectors);
    `language_model` words explanations (None: the templates); `rank_weights` the ranking's
    constants (the defaults, chosen on validation; the benchmark passes its own choice)."""

    settings: Settings
    movie_source: MovieSource | None
    embedding_model: str | None = None
    cf_cache: CFModelCache = field(default_factory=CFModelCache)
    rankings: RankingCache = field(default_factory=RankingCache)
    language_model: LanguageModel | None = None
    rank_weights: RankWeights = DEFAULT_WEIGHTS

    def bind(self, session: AsyncSession, jobs: JobQueue) -> Services:
        """The services of one update. Their TMDB calls for /recommend, onboarding and
        clarifying answers share one SourceBudget of TMDB_INTERACTIVE_BUDGET_SECONDS (the user
        waits); imports get the TMDB client itself (they run in jobs, with long retries)."""
        budget = SourceBudget(self.settings.tmdb.interactive_budget_seconds) if self.movie_source else None
        catalog = CatalogService(
            session,
            self.movie_source,
            ttl=dt.timedelta(days=self.settings.tmdb.cache_ttl_days),
            budget=budget,
        )
        recommendations = RecommendationService(
            session,
            catalog,
            repeat_window=dt.timedelta(days=self.settings.bot.recommend_repeat_window_days),
            cf_cache=self.cf_cache,
            embedding_model=self.embedding_model,
            weights=self.rank_weights,
            rankings=self.rankings,
        )
        avoid = AvoidService(session, jobs)
        where = WhereToWatchService(session, self.movie_source, budget=budget)
        return Services(
            catalog=catalog,
            reviews=ReviewService(session, jobs, max_chars=self.settings.bot.max_review_chars),
            recommendations=recommendations,
            onboarding=OnboardingService(session, catalog, jobs, recommendations.user_settings),
            imports=ImportService(session, self.movie_source, jobs),
            profile=ProfileService(session, jobs),
            letterboxd_export=LetterboxdExportService(session),
            avoid=avoid,
            explanations=ExplanationService(
                self.language_model,
                avoid,
                budget_seconds=self.settings.openai.explanation_budget_seconds,
                summaries=TasteSummaryService(session),
            ),
            clarify=ClarifyService(recommendations),
            stats=StatsService(session, queues=QUEUES),
            groups=GroupService(
                session,
                catalog,
                jobs,
                recommendations=recommendations,
                vote_timeout=dt.timedelta(minutes=self.settings.bot.group_vote_minutes),
                repeat_window=dt.timedelta(days=self.settings.bot.recommend_repeat_window_days),
            ),
            ratings=RatingsService(session, jobs),
            feedback=FeedbackService(session, jobs),
            watchlist=WatchlistService(session, jobs, recommendations),
            user_settings=recommendations.user_settings,
            inline_films=InlineService(session, catalog),
            similar=SimilarService(
                session,
                catalog,
                recommendations,
                cooldown=dt.timedelta(seconds=self.settings.bot.recommend_cooldown_seconds),
                embedding_model=self.embedding_model,
            ),
            wishes=WishService(
                session,
                recommendations,
                catalog,
                model=self.language_model,
                budget_seconds=self.settings.openai.explanation_budget_seconds,
                embedding_model=self.embedding_model,
            ),
            cards=CardStyle.from_settings(self.settings, online=self.movie_source is not None, where=where),
            where=where,
        )
