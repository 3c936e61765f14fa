"""bot.filters.run_filters_inline: no filter of the dispatcher runs in a worker thread."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.dispatcher.event import handler as aiogram_handler

from tests.bot.conftest import BotHarness


async def test_updates_are_routed_without_a_thread_hop(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[Any] = []
    real = asyncio.to_thread

    async def counting(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(aiogram_handler.asyncio, "to_thread", counting)
    chat = harness.chat(6301)
    # a command, the /review flow (State filters), text in and out of a flow (magic filters,
    # plain functions), a button tap (with_message) and the catch-all
    assert await chat.say("/help")
    assert await chat.say("/review")
    assert await chat.say("Alien")
    assert await chat.say("/cancel")
    assert await chat.say("hello there")
    assert await chat.say("/recommend")
    cards = chat.session.last_keyboard_message(chat.user.telegram_id)
    assert cards is not None
    assert await chat.tap_data("no-such-button", message=cards)

    assert hops == []
