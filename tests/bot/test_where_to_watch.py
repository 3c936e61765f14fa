"""Where to watch (bot/handlers/where.py): 📺 on pick cards answers the providers in the user's
country with JustWatch's credit, cached for a day; /country and its default from the Telegram
language; /services and the "📺 On Netflix for you" card note; TMDB failing; offline."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Dispatcher
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DEMO_CATALOG
from bot.settings import Settings
from integrations.tmdb import TMDBClient
from tests.bot.conftest import BotHarness, Chat, make_harness
from tests.fakes.tmdb_server import FakeTMDBServer

SLOTS = ("🎯", "🧭", "🎲")


@pytest.fixture
async def tmdb_server() -> AsyncIterator[FakeTMDBServer]:
    async with FakeTMDBServer(DEMO_CATALOG) as server:
        server.providerless.clear()  # every film streams somewhere unless a test says otherwise
        yield server


@pytest.fixture
async def online(
    tmdb_server: FakeTMDBServer, dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    client = TMDBClient(base_url=tmdb_server.base_url, api_key="k", max_attempts=2, backoff_multiplier=0.001)
    async with client:
        async for harness in make_harness(
            dispatcher, session_factory, client, load_demo=False, recommend_cooldown_seconds=0
        ):
            settings = harness.overrides["settings"]
            assert isinstance(settings, Settings)
            settings.tmdb.image_base_url = tmdb_server.image_base_url
            yield harness


async def recommended(chat: Chat) -> list[Message]:
    await chat.say("/review Alien (1979)")
    await chat.say("5 perfect")
    await chat.say("/recommend")
    return cards(chat)


def cards(chat: Chat) -> list[Message]:
    """The chat's pick cards, oldest first, as currently stored."""
    messages = sorted(chat.session.messages.values(), key=lambda m: m.message_id)
    return [m for m in messages if (m.caption or m.text or "").startswith(SLOTS)]


def film_id(card: Message) -> int:
    assert card.reply_markup is not None
    [url] = [b.url for row in card.reply_markup.inline_keyboard for b in row if b.text == "Letterboxd"]
    assert url is not None
    return int(url.rstrip("/").rsplit("/", 1)[1])


def labels(card: Message) -> list[str]:
    assert card.reply_markup is not None
    return [b.text for row in card.reply_markup.inline_keyboard for b in row]


def providers_calls(server: FakeTMDBServer, tmdb_id: int) -> int:
    return server.count(f"/3/movie/{tmdb_id}/watch/providers")


async def test_watch_button_answers_providers_in_the_users_country_with_the_justwatch_credit(
    online: BotHarness, tmdb_server: FakeTMDBServer
) -> None:
    chat = online.chat(3201)  # language "en": the United States
    first, second, *_ = await recommended(chat)
    tmdb_id = film_id(first)
    assert "📺 Where to watch" in labels(first)

    answer = await chat.tap("📺", message=first)
    text = "\n".join(answer)
    us_stream = "Netflix" if tmdb_id % 2 == 0 else "Hulu"
    assert "United States" in text and f"Stream: {us_stream}" in text
    assert "Rent: Apple TV, Google Play Movies" in text and "Buy: Apple TV" in text
    assert "Streaming data by JustWatch" in text
    html = chat.session.sent_texts(3201)[-1]
    assert f'href="https://www.themoviedb.org/movie/{tmdb_id}/watch?locale=US"' in html
    assert providers_calls(tmdb_server, tmdb_id) == 1

    await chat.tap("📺", message=first)  # cached for a day: no second TMDB call
    assert providers_calls(tmdb_server, tmdb_id) == 1
    assert chat.session.sent_texts(3201, plain=True)[-1] == chat.session.sent_texts(3201, plain=True)[-2]

    other = film_id(second)
    tmdb_server.providerless.add(other)
    nowhere = "\n".join(await chat.tap("📺", message=second))
    assert "not streaming in United States as far as JustWatch knows" in nowhere
    assert "Streaming data by JustWatch" in nowhere


async def test_country_command_changes_the_answer(online: BotHarness, tmdb_server: FakeTMDBServer) -> None:
    chat = online.chat(3202)
    [card, *_] = await recommended(chat)
    tmdb_id = film_id(card)

    [reply] = await chat.say("/country")
    assert "United States (from your Telegram language)" in reply
    assert "✓ United States" in labels(chat.session.last_keyboard_message(3202))  # type: ignore[arg-type]
    [reply] = await chat.say("/country de")
    assert "Germany" in reply
    [reply] = await chat.say("/country")
    assert "Germany" in reply and "from your Telegram language" not in reply

    text = "\n".join(await chat.tap("📺", message=card))
    assert "Germany" in text and "Stream: Amazon Prime Video" in text
    assert "Netflix" not in text and "Hulu" not in text
    assert providers_calls(tmdb_server, tmdb_id) == 1  # one call serves every country

    [reply] = await chat.say("/country zz")
    assert "don't know the country zz" in reply
    [reply] = await chat.say("/country")
    assert "Germany" in reply  # unchanged

    keyboard = await chat.say("/country")
    assert keyboard
    await chat.tap("Japan")
    [reply] = await chat.say("/country")
    assert "Japan" in reply


@pytest.mark.parametrize(
    ("language", "code"), [("pt-br", "BR"), ("en-gb", "GB"), ("de", "DE"), ("en", "US"), ("ru", "RU")]
)
async def test_default_country_comes_from_the_telegram_language(
    online: BotHarness, language: str, code: str
) -> None:
    chat = online.chat(3203, language_code=language)
    await chat.say("/country")
    message = chat.session.last_keyboard_message(3203)
    assert message is not None and message.reply_markup is not None
    ticked = [
        b.callback_data for row in message.reply_markup.inline_keyboard for b in row if b.text.startswith("✓")
    ]
    assert ticked == [f"wtc:{code}"]


async def test_services_make_cards_say_on_netflix_for_you(
    online: BotHarness, tmdb_server: FakeTMDBServer
) -> None:
    chat = online.chat(3204)  # the US: Netflix streams films with even ids there (the fake)
    await chat.say("/services")
    menu = chat.session.last_keyboard_message(3204)
    assert menu is not None and "Netflix" in labels(menu) and "Hulu" in labels(menu)
    assert tmdb_server.count("/3/watch/providers/movie") == 1
    answers = await chat.tap("Netflix", message=menu)
    assert "Added ✓" in "\n".join(answers)
    assert "✓ Netflix" in labels(chat.session.messages[(3204, menu.message_id)])

    shown = await recommended(chat)
    assert len(shown) == 3
    for card in shown:
        on_netflix = film_id(card) % 2 == 0
        assert ("📺 On Netflix for you" in (card.caption or card.text or "")) is on_netflix, film_id(card)

    await chat.tap("Netflix", message=chat.session.messages[(3204, menu.message_id)])  # untick
    await chat.say("/recommend")
    for card in cards(chat)[3:]:
        assert "for you" not in (card.caption or card.text or "")


async def test_tmdb_failing_gets_a_friendly_answer(online: BotHarness, tmdb_server: FakeTMDBServer) -> None:
    chat = online.chat(3205)
    [card, *_] = await recommended(chat)
    tmdb_server.knobs.fail_all = True
    answer = "\n".join(await chat.tap("📺", message=card))
    assert "can't check where it streams right now" in answer
    assert "Traceback" not in answer

    await chat.say("/services")  # the well-known services instead of TMDB's list
    menu = chat.session.last_keyboard_message(3205)
    assert menu is not None and {"Netflix", "MUBI", "Max"} <= set(labels(menu))


async def test_offline_cards_have_no_watch_button(harness: BotHarness) -> None:
    chat = harness.chat(3206)
    await chat.say("/review Alien (1979)")
    await chat.say("5 perfect")
    await chat.say("/recommend")
    shown = cards(chat)
    assert len(shown) == 3
    assert all("🔁 More like this" in labels(card) for card in shown)
    assert not any("📺" in label for card in shown for label in labels(card))


async def test_forged_buttons_change_nothing(online: BotHarness) -> None:
    chat = online.chat(3207)
    await chat.say("/services")
    menu = chat.session.last_keyboard_message(3207)
    assert menu is not None
    answers = await chat.tap_data("wts:424242", message=menu)  # a service nobody offers
    assert "Added" not in "\n".join(answers)
    await chat.say("/services")
    assert not any(label.startswith("✓") for label in labels(chat.session.last_keyboard_message(3207)))  # type: ignore[arg-type]
    answers = await chat.tap_data("wtc:zz", message=menu)  # not an upper-case code: no match
    [reply] = await chat.say("/country")
    assert "United States" in reply
