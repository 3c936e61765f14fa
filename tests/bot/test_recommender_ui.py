"""🚫 Not interested, /avoid and the cold-start onboarding, through Dispatcher.feed_update on the
real database (catalog mode: the demo films, no TMDB)."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.types import InlineKeyboardButton, Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keyboards import AvoidRemove, OnboardFilm, PickAction, PickCallback
from db.models import AvoidTopic, RecommendationItem, UserFilm
from domain.avoid import MAX_TOPIC_CHARS, MAX_TOPICS
from tests.bot.conftest import BotHarness, Chat, make_harness
from tests.bot.test_handlers import count

INVALID = "This button is no longer valid."
CARD_TITLES = ["🎯 Safe pick", "🧭 Something adjacent", "🎲 Wildcard"]


def buttons(chat: Chat, message: Message | None = None) -> list[InlineKeyboardButton]:
    message = message or chat.session.last_keyboard_message(chat.user.telegram_id)
    assert message is not None and message.reply_markup is not None
    return [b for row in message.reply_markup.inline_keyboard for b in row]


def card(chat: Chat, title: str) -> Message:
    """The newest card of a slot (its message as currently stored)."""
    cards = [m for m in chat.session.messages.values() if (m.text or "").startswith(title)]
    assert cards, f"no {title!r} card"
    return cards[-1]


def titles(replies: list[str]) -> list[str]:
    return [r.split("\n")[0] for r in replies if r.split("\n")[0] in CARD_TITLES]


async def with_history(chat: Chat) -> None:
    await chat.say("/review Alien (1979)")
    await chat.say("5 perfect")


# --- 🚫 Not interested ------------------------------------------------------------------------


async def test_every_pick_has_three_buttons(harness: BotHarness) -> None:
    chat = harness.chat(2001)
    await with_history(chat)
    await chat.say("/recommend")
    for title in CARD_TITLES:
        labels = [b.text for b in buttons(chat, card(chat, title)) if b.url is None]  # links: test_cards.py
        assert labels == ["✅ Watched", "⏭ Skip", "🚫 Not interested", "🔖 Save", "🔁 More like this"]


async def test_not_interested_marks_the_item_and_the_film(harness: BotHarness) -> None:
    chat = harness.chat(2002)
    await with_history(chat)
    await chat.say("/recommend")
    safe = card(chat, "🎯 Safe pick")
    answers = await chat.tap("Not interested", message=safe)
    assert answers == ["🚫 Got it: I won't suggest it again."]
    # buttons taken (no double taps): only ↩️ Undo is left (tests/bot/test_undo.py)
    assert [b.text for b in buttons(chat, card(chat, "🎯 Safe pick"))] == ["↩️ Undo"]
    async with harness.session_factory() as session:
        items = {i.position: i for i in await session.scalars(select(RecommendationItem))}
        marked = await session.scalar(select(UserFilm).filter_by(tmdb_id=items[0].tmdb_id))
    assert {p: i.status for p, i in items.items()} == {0: "not_interested", 1: "shown", 2: "shown"}
    assert marked is not None and marked.not_interested
    # the same button again (a second device, a slow double tap): already noted, nothing else
    data = PickCallback(action=PickAction.NOT_INTERESTED, item_id=items[0].id).pack()
    assert await chat.tap_data(data, message=safe) == ["Already noted."]
    assert await count(harness, RecommendationItem, status="not_interested") == 1


async def test_forged_not_interested_changes_nothing(harness: BotHarness) -> None:
    owner, intruder = harness.chat(2003), harness.chat(2004)
    await with_history(owner)
    await owner.say("/recommend")
    safe = card(owner, "🎯 Safe pick")
    [data] = [b.callback_data for b in buttons(owner, safe) if "Not interested" in b.text]
    assert data is not None and data.startswith("pick:n:")
    assert await intruder.tap_data(data, message=safe) == [INVALID]
    assert await intruder.tap_data("pick:n:99999999", message=safe) == [INVALID]
    assert await count(harness, RecommendationItem, status="shown") == 3
    assert await count(harness, UserFilm, not_interested=True) == 0


# --- /avoid ------------------------------------------------------------------------------------


async def topics(harness: BotHarness) -> list[tuple[int, str]]:
    async with harness.session_factory() as session:
        rows = await session.execute(select(AvoidTopic.user_id, AvoidTopic.topic).order_by(AvoidTopic.id))
        return [(row.user_id, row.topic) for row in rows]


async def test_avoid_without_topics_explains_how_to_add_one(harness: BotHarness) -> None:
    chat = harness.chat(2010)
    [reply] = await chat.say("/avoid")
    assert "aren't avoiding anything" in reply and "/avoid gore" in reply
    assert chat.session.last_markup(2010) is None
    assert "/avoid" in (await chat.say("/help"))[0]


async def test_avoid_add_list_and_remove(harness: BotHarness) -> None:
    chat = harness.chat(2011)
    [added] = await chat.say("/avoid gore")
    assert "“gore”" in added and "less often" in added and "not banned" in added
    [added] = await chat.say("/avoid   slow    romance ")
    assert "“slow romance”" in added
    [again] = await chat.say("/avoid GORE")  # the same topic in another case: kept once
    assert "“gore”" in again
    assert [t for _, t in await topics(harness)] == ["gore", "slow romance"]

    [listing] = await chat.say("/avoid")
    assert "• gore\n• slow romance" in listing
    assert [b.text for b in buttons(chat)] == ["❌ gore", "❌ slow romance"]
    assert all((b.callback_data or "").startswith("avoid:") for b in buttons(chat))

    [answer, edited] = await chat.tap("❌ gore")
    assert answer == "Removed."
    assert "gore" not in edited and "• slow romance" in edited
    listing_message = chat.session.last_message(2011)
    assert listing_message is not None and listing_message.text == edited
    assert [b.text for b in buttons(chat, listing_message)] == ["❌ slow romance"]
    assert [t for _, t in await topics(harness)] == ["slow romance"]

    [answer, edited] = await chat.tap("❌ slow romance")
    assert answer == "Removed." and "aren't avoiding anything" in edited
    emptied = chat.session.last_message(2011)
    assert emptied is not None and emptied.text == edited and emptied.reply_markup is None
    assert await topics(harness) == []


async def test_removing_a_stale_or_foreign_topic_is_refused(harness: BotHarness) -> None:
    owner, intruder = harness.chat(2012), harness.chat(2013)
    await owner.say("/avoid gore")
    await owner.say("/avoid")
    listing = owner.session.last_keyboard_message(2012)
    assert listing is not None
    [button] = buttons(owner, listing)
    # another user's tap on the owner's keyboard (a forwarded message) …
    assert await intruder.tap_data(button.callback_data or "", message=listing) == [INVALID]
    # … or the owner's topic id forged under the intruder's own list
    await intruder.say("/avoid horror")
    await intruder.say("/avoid")
    own_listing = intruder.session.last_keyboard_message(2013)
    assert own_listing is not None
    owner_topic_id = AvoidRemove.unpack(button.callback_data or "").topic_id
    forged = AvoidRemove(topic_id=owner_topic_id).pack()
    assert await intruder.tap_data(forged, message=own_listing) == [INVALID]
    assert await intruder.tap_data("avoid:notanumber", message=own_listing) == [INVALID]
    assert sorted(t for _, t in await topics(harness)) == ["gore", "horror"]
    # the owner's own tap works once; the same button again is stale
    [answer, edited] = await owner.tap_data(button.callback_data or "", message=listing)
    assert answer == "Removed." and "aren't avoiding anything" in edited
    assert await owner.tap_data(button.callback_data or "", message=listing) == [INVALID]
    assert [t for _, t in await topics(harness)] == ["horror"]


async def test_avoid_refuses_too_long_and_too_many_topics_kindly(harness: BotHarness) -> None:
    chat = harness.chat(2014)
    [too_long] = await chat.say("/avoid " + "x" * (MAX_TOPIC_CHARS + 1))
    assert "too long" in too_long and str(MAX_TOPIC_CHARS) in too_long
    assert await topics(harness) == []
    for n in range(MAX_TOPICS):
        await chat.say(f"/avoid topic {n}")
    [too_many] = await chat.say("/avoid one more")
    assert f"already have {MAX_TOPICS} topics" in too_many
    assert len(await topics(harness)) == MAX_TOPICS


async def test_avoid_speaks_the_users_language(harness: BotHarness) -> None:
    chat = harness.chat(2015, language_code="es")
    [added] = await chat.say("/avoid gore")
    assert "«gore»" in added and "/avoid" in added


# --- cold-start onboarding ----------------------------------------------------------------------


def grid(
    chat: Chat,
) -> tuple[list[InlineKeyboardButton], list[InlineKeyboardButton], list[InlineKeyboardButton]]:
    """The onboarding keyboard split into film, genre and 🎬 buttons."""
    all_buttons = buttons(chat)

    def with_prefix(prefix: str) -> list[InlineKeyboardButton]:
        return [b for b in all_buttons if (b.callback_data or "").startswith(prefix)]

    return with_prefix("ob_film:"), with_prefix("ob_genre:"), with_prefix("ob_done")


async def test_new_user_gets_the_onboarding_grid_then_three_picks(harness: BotHarness) -> None:
    chat = harness.chat(2020)
    [intro] = await chat.say("/recommend")
    assert "tap films you liked and genres you enjoy" in intro
    films, genres, done = grid(chat)
    assert 4 <= len(films) <= 8 and len({b.text for b in films}) == len(films)
    assert 3 <= len(genres) <= 9 and [b.text for b in done] == ["🎬 Show picks"]
    assert not any(b.text.startswith("✓") for b in films + genres)
    assert await count(harness, RecommendationItem) == 0  # nothing recommended yet

    liked = OnboardFilm.unpack(films[0].callback_data or "").tmdb_id
    answers = await chat.tap(films[0].text)
    assert answers == [f"Noted: you liked {films[0].text}."]
    assert await count(harness, UserFilm, tmdb_id=liked, liked=True) == 1
    assert await chat.tap(films[0].text) == ["Already noted."]  # a second tap changes nothing

    genre = genres[0].text
    await chat.tap(genre)
    films_now, genres_now, _ = grid(chat)
    assert films_now[0].text == f"✓ {films[0].text}" and not films_now[1].text.startswith("✓")
    assert genres_now[0].text == f"✓ {genre}" and not genres_now[1].text.startswith("✓")
    await chat.tap(f"✓ {genre}")  # toggles back off
    assert grid(chat)[1][0].text == genre
    await chat.tap(genre)

    onboarding = chat.session.last_keyboard_message(2020)
    replies = await chat.tap("Show picks")
    assert titles(replies) == CARD_TITLES
    assert onboarding is not None
    assert chat.session.messages[(2020, onboarding.message_id)].reply_markup is None  # grid closed
    async with harness.session_factory() as session:
        shown = set(await session.scalars(select(RecommendationItem.tmdb_id)))
    assert len(shown) == 3 and liked not in shown

    # the flow is over: the old grid is stale, and the next /recommend goes straight to cards
    assert await chat.tap_data(films[1].callback_data or "", message=onboarding) == [INVALID]
    assert await count(harness, UserFilm, liked=True) == 1


async def test_show_picks_right_away_gives_popular_films_with_the_hint(harness: BotHarness) -> None:
    chat = harness.chat(2021)
    await chat.say("/recommend")
    replies = await chat.tap("Show picks")
    assert "popular, well-rated" in replies[1]  # [0] is the (empty) callback answer
    assert titles(replies) == CARD_TITLES


async def test_the_grid_does_not_use_up_the_recommend_cooldown(harness: BotHarness) -> None:
    # a new user taps a film on the grid and then sends /recommend instead of 🎬: the grid was
    # not an answer, so the picks come at once instead of "Give me a moment"
    chat = harness.chat(2024)
    await chat.say("/recommend")
    films, _genres, _done = grid(chat)
    await chat.tap(films[0].text)
    replies = await chat.say("/recommend")
    assert titles(replies) == CARD_TITLES
    wait = await chat.say("/recommend")  # the picks did use it up
    assert wait[0].startswith("Give me a moment: you can ask again in")


async def test_user_with_history_gets_cards_directly(harness: BotHarness) -> None:
    chat = harness.chat(2022)
    await with_history(chat)
    replies = await chat.say("/recommend")
    assert not any("tap films you liked" in r for r in replies)
    assert titles(replies) == CARD_TITLES


async def test_onboarding_taps_outside_the_flow_or_forged_change_nothing(harness: BotHarness) -> None:
    chat = harness.chat(2023)
    await chat.say("/recommend")
    onboarding = chat.session.last_keyboard_message(2023)
    assert onboarding is not None
    films, _, _ = grid(chat)
    offered = {OnboardFilm.unpack(b.callback_data or "").tmdb_id for b in films}
    not_offered = next(t for t in (348, 679, 157336, 78, 603) if t not in offered)
    assert await chat.tap_data(OnboardFilm(tmdb_id=not_offered).pack(), message=onboarding) == [INVALID]
    assert await chat.tap_data("ob_genre:99", message=onboarding) == [INVALID]
    [hint] = await chat.say("Alien")  # text in the flow: how to use the grid
    assert "Show picks" in hint and "/review" in hint

    await chat.say("/cancel")  # a command leaves the flow
    assert await chat.tap_data(films[0].callback_data or "", message=onboarding) == [INVALID]
    assert await chat.tap_data("ob_done", message=onboarding) == [INVALID]
    assert await count(harness, UserFilm) == 0
    assert await count(harness, RecommendationItem) == 0


async def test_a_tap_on_an_older_grid_is_stale(
    dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async for harness in make_harness(dispatcher, session_factory, recommend_cooldown_seconds=0):
        chat = harness.chat(2024)
        await chat.say("/recommend")
        first = chat.session.last_keyboard_message(2024)
        assert first is not None
        first_film = grid(chat)[0][0]
        await chat.say("/recommend")  # a second grid while the first is still on screen
        second = chat.session.last_keyboard_message(2024)
        assert second is not None and second.message_id != first.message_id
        assert await chat.tap_data(first_film.callback_data or "", message=first) == [INVALID]
        assert await count(harness, UserFilm) == 0
        assert await chat.tap_data(first_film.callback_data or "", message=second) != [INVALID]
        assert await count(harness, UserFilm, liked=True) == 1


async def test_a_user_with_history_is_never_told_their_taste_is_unknown(harness: BotHarness) -> None:
    """No CF model and no taste vector yet: the picks are the popular ones, and the hint says
    how many films the bot knows instead of "I don't know your taste yet"."""
    chat = harness.chat(1190)
    await chat.say("/review Alien 1979")
    await chat.say("5 the best")
    replies = await chat.say("/recommend")
    assert not any("don't know your taste" in r for r in replies), replies
    assert any("I know 1 of your films so far" in r for r in replies), replies
