"""The composition root: one Dispatcher with its middlewares and routers, built from the
long-lived dependencies. Used the same way by long polling, the console and the tests."""

from __future__ import annotations

import procrastinate
from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import flood
from bot.filters import run_filters_inline
from bot.flows import review
from bot.fsm import ChatLocks, PostgresStorage
from bot.handlers import (
    admin,
    avoid,
    callbacks,
    clarify,
    commands,
    errors,
    fallback,
    group,
    imports,
    inline,
    onboarding,
    profile,
    ratings,
    similar,
    user_settings,
    watchlist,
    where,
    wishes,
)
from bot.i18n import make_i18n
from bot.metrics import METRICS, HandlerProbe, Metrics, UpdateMetricsMiddleware
from bot.middlewares import (
    ChatActionMiddleware,
    CommandLeavesFlowMiddleware,
    DatabaseMiddleware,
    LogContextMiddleware,
    NulCharactersMiddleware,
    ThrottleMiddleware,
    UserLocaleMiddleware,
    UserMiddleware,
)
from bot.outage import DatabaseHealth
from bot.services import ServiceFactory
from bot.settings import Settings


def build_dispatcher(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    services: ServiceFactory,
    *,
    isolate: bool = False,
    max_concurrent_updates: int = 10,
    job_app: procrastinate.App | None = None,
    metrics: Metrics = METRICS,
) -> Dispatcher:
    """Workflow data (`settings`, `session_factory`, `service_factory`, `job_app`, `db_health`,
    `metrics`) reaches middlewares and handlers by name; `feed_update(..., **overrides)` can
    replace it per update. Without `job_app`, background jobs the services asked for are not
    queued (the worker's sweep still finds the work). `metrics` (default the process's, see
    bot.metrics) counts and times every update and what handlers serve.

    Conversation state lives in PostgreSQL (`PostgresStorage` on `session_factory`). With
    `isolate`, one update at a time per chat holds across processes, and at most
    `max_concurrent_updates` are handled at once (`bot.fsm.ChatLocks`, taken by
    DatabaseMiddleware in the update's own transaction); without it, updates are not
    isolated (tests and the console feed one update at a time).
    """
    i18n = make_i18n()
    health = DatabaseHealth()
    dp = Dispatcher(
        storage=PostgresStorage(session_factory),
        disable_fsm=True,  # aiogram's FSM middleware is added below, after DatabaseMiddleware
        settings=settings,
        session_factory=session_factory,
        service_factory=services,
        job_app=job_app,
        i18n=i18n,
        db_health=health,
        metrics=metrics,
    )

    # first of ours: counts every update, and times all the middlewares below too
    dp.update.outer_middleware(UpdateMetricsMiddleware())
    dp.update.outer_middleware(LogContextMiddleware())
    dp.update.outer_middleware(flood.ReplyContextMiddleware())  # replies are not paced (bot.flood)
    dp.update.outer_middleware(NulCharactersMiddleware())
    locks = ChatLocks(max_concurrent=max_concurrent_updates) if isolate else None
    dp.update.outer_middleware(DatabaseMiddleware(dp.fsm, locks))
    # the FSM state, read in the update's transaction (after the chat's lock)
    dp.update.outer_middleware(dp.fsm)
    dp.update.outer_middleware(UserMiddleware())
    # after the user: the locale is their /language choice first (no query of its own)
    dp.update.outer_middleware(UserLocaleMiddleware(i18n))
    # which handler aiogram chose, for UpdateMetricsMiddleware (first: seen even if throttled)
    for name, observer in dp.observers.items():
        if name not in ("update", "error"):
            observer.middleware(HandlerProbe())
    dp.message.middleware(ThrottleMiddleware())
    # "typing…" while a handler flagged chat_action runs longer than half a second
    dp.message.middleware(ChatActionMiddleware())
    dp.message.outer_middleware(CommandLeavesFlowMiddleware())

    dp.include_routers(
        flood.router,  # before errors: a send refused with 403 (user blocked the bot) ends quietly
        errors.router,
        group.router,  # group chats: watch together; everything private stays out of groups
        watchlist.router,  # before commands: `/recommend watchlist` is taken here, not as words
        wishes.router,  # before commands: `/recommend <words>` (a one-off filter); the plain one goes on
        inline.router,  # before commands: `/start film_<id>` opens a film; inline queries (@bot <title>)
        commands.router,
        admin.router,  # /stats; for anyone but an admin it matches nothing and falls through
        imports.router,  # before the flows: an export is taken in any step
        review.router,
        callbacks.router,
        avoid.router,
        onboarding.router,
        clarify.router,
        profile.router,
        ratings.router,  # /ratings and ↩️ Undo under pick cards
        user_settings.router,  # /settings (standing filters); its buttons only in the tapper's own chat
        similar.router,  # /similar <title> and 🔁 More like this on pick cards
        where.router,  # 📺 where to watch on pick cards, /country, /services
        fallback.router,  # last: answers whatever nothing else took
    )
    run_filters_inline(dp)  # no thread hop per filter per update (bot.filters)
    return dp
