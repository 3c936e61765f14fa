"""The composition root: one Dispatcher with its middlewares and routers, built from the
long-lived dependencies. Used the same way by long polling, the console and the tests."""

from __future__ import annotations

import procrastinate
from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.flows import review
from bot.handlers import avoid, callbacks, clarify, commands, errors, fallback, imports, onboarding, profile
from bot.i18n import make_i18n
from bot.middlewares import (
    CommandLeavesFlowMiddleware,
    DatabaseMiddleware,
    LogContextMiddleware,
    ThrottleMiddleware,
    UserLocaleMiddleware,
    UserMiddleware,
)
from bot.services import ServiceFactory
from bot.settings import Settings


def build_dispatcher(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    services: ServiceFactory,
    *,
    storage: BaseStorage | None = None,
    job_app: procrastinate.App | None = None,
) -> Dispatcher:
    """Workflow data (`settings`, `session_factory`, `service_factory`, `job_app`) reaches
    middlewares and handlers by name; `feed_update(..., **overrides)` can replace it per
    update. Without `job_app`, background jobs the services ask for are not queued (the
    worker's sweep still finds the work)."""
    i18n = make_i18n()
    dp = Dispatcher(
        storage=storage or MemoryStorage(),
        settings=settings,
        session_factory=session_factory,
        service_factory=services,
        job_app=job_app,
        i18n=i18n,
    )

    dp.update.outer_middleware(LogContextMiddleware())
    dp.update.outer_middleware(DatabaseMiddleware())
    dp.update.outer_middleware(UserMiddleware())
    # after the user: the locale is their /language choice first (no query of its own)
    dp.update.outer_middleware(UserLocaleMiddleware(i18n))
    dp.message.middleware(ThrottleMiddleware())
    dp.message.outer_middleware(CommandLeavesFlowMiddleware())

    dp.include_routers(
        errors.router,
        commands.router,
        imports.router,  # before the flows: an export is taken in any step
        review.router,
        callbacks.router,
        avoid.router,
        onboarding.router,
        clarify.router,
        profile.router,
        fallback.router,  # last: answers whatever nothing else took
    )
    return dp
