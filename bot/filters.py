"""Small custom filters, and running every filter in the event loop (`run_filters_inline`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.types import CallbackQuery, Message


def with_message(callback: CallbackQuery) -> dict[str, Message] | bool:
    """Match callbacks whose message the bot can still edit, and pass it as `message`.

    Buttons on messages older than 48 hours arrive with an InaccessibleMessage; such taps
    fall through to the catch-all ("this button is no longer valid").
    """
    return {"message": callback.message} if isinstance(callback.message, Message) else False


def run_filters_inline(root: Router) -> int:
    """Make every plain (non-coroutine) filter of `root` and its sub-routers run in the event
    loop; returns how many were changed. Call once, after every router is included.

    aiogram runs a filter that is neither a coroutine function nor a `Filter` — a bare `State`,
    a magic filter (`F.text`), a plain function like `with_message` — in a worker thread
    (`asyncio.to_thread`, aiogram.dispatcher.event.handler.CallableObject.call). Ours are all
    quick and free of I/O, and a thread hop cost ~0.26 ms of CPU on the 2-core machine of the
    load bench (bench/load.py): a text message in a flow was tried against 11–12 of them, about
    3 ms per update. Covers the handlers' filters and the observers' own (`router.message.
    filter(...)`, kept by aiogram in the observer's `_handler`).
    """
    changed = 0
    for router in root.chain_tail:
        for observer in router.observers.values():
            for handler in (observer._handler, *observer.handlers):
                for event_filter in handler.filters or ():
                    if not event_filter.awaitable:
                        event_filter.callback = _inline(event_filter.callback)
                        event_filter.awaitable = True
                        changed += 1
    return changed


def _inline(check: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def inline(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return inline
