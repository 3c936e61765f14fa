"""Handlers through Dispatcher.feed_update on the real database, no TMDB (catalog mode)."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from db.models import RecommendationItem, Review, UserFilm
from tests.bot.conftest import BotHarness, make_harness

ALIEN, ALIENS, INTERSTELLAR = 348, 679, 157336


async def count(harness: BotHarness, model: type, **where: object) -> int:
    async with harness.session_factory() as session:
        stmt = select(func.count()).select_from(model).filter_by(**where)
        return int(await session.scalar(stmt) or 0)


async def test_start_greets_and_lists_commands(harness: BotHarness) -> None:
    chat = harness.chat(1001, first_name="Ann")
    [reply] = await chat.say("/start")
    assert "Hi, Ann!" in reply and "/recommend" in reply and "/review" in reply
    assert (await chat.say("/help"))[0].startswith("/review")
    assert "1001" in (await chat.say("/myid"))[0]


async def test_unknown_text_gets_a_hint(harness: BotHarness) -> None:
    chat = harness.chat(1002)
    [reply] = await chat.say("what should I watch")
    assert "/recommend" in reply
    [reply] = await chat.say("/nosuchcommand")
    assert "/help" in reply


async def test_review_with_exact_title_and_year_typed_rating(harness: BotHarness) -> None:
    chat = harness.chat(1003)
    [ask] = await chat.say("/review")
    assert "Which film" in ask
    [rating_prompt] = await chat.say("Alien (1979)")
    assert "Alien (1979)" in rating_prompt and "How many stars" in rating_prompt
    [saved] = await chat.say("4.5 great tension, the best creature design")
    assert "Saved" in saved and "★★★★½" in saved
    async with harness.session_factory() as session:
        review = (await session.scalars(select(Review))).one()
        assert review.tmdb_id == ALIEN and review.source == "bot"
        assert review.rating == Decimal("4.5") and review.text == "great tension, the best creature design"
    # Telegram split a long review: the next part is appended to the same review
    [added] = await chat.say("And the second half of my very long review.")
    assert "Added" in added
    await chat.tap("Done")
    async with harness.session_factory() as session:
        review = (await session.scalars(select(Review))).one()
        assert review.text.endswith("\nAnd the second half of my very long review.")


async def test_ambiguous_title_offers_choices_then_rating_buttons(harness: BotHarness) -> None:
    chat = harness.chat(1004)
    await chat.say("/review")
    [choose] = await chat.say("Alie")
    assert "Which one" in choose
    labels = [b.text for row in chat.session.last_markup(1004).inline_keyboard for b in row]
    assert "Alien (1979)" in labels and "Aliens (1986)" in labels and "❌ Cancel" in labels
    assert len(labels) <= 6
    await chat.tap("Aliens (1986)")
    await chat.tap("★★★★")  # the first button containing four stars is exactly 4
    [saved] = await chat.say("Game over, man")
    assert "Saved" in saved
    assert await count(harness, UserFilm, tmdb_id=ALIENS) == 1


async def test_review_text_without_rating_asks_for_the_rating_alone(harness: BotHarness) -> None:
    chat = harness.chat(1005)
    await chat.say("/review Interstelar 2014")  # a typo: pg_trgm still finds it
    [ask] = await chat.say("The docking scene!")
    assert "Now the rating" in ask
    await chat.tap("★★★★★")
    async with harness.session_factory() as session:
        review = (await session.scalars(select(Review))).one()
        assert (review.tmdb_id, review.rating, review.text) == (
            INTERSTELLAR,
            Decimal("5.0"),
            "The docking scene!",
        )


async def test_bad_rating_is_explained_and_nothing_saved(harness: BotHarness) -> None:
    chat = harness.chat(1006)
    await chat.say("/review Alien 1979")
    [reply] = await chat.say("7 loved it")
    assert "half steps" in reply
    assert await count(harness, Review) == 0


async def test_re_review_updates_the_same_record(harness: BotHarness) -> None:
    chat = harness.chat(1007)
    for text in ("3 fine", "★★★★½ grew on me"):
        await chat.say("/review Alien (1979)")
        await chat.say(text)
    assert await count(harness, Review) == 1
    async with harness.session_factory() as session:
        assert await session.scalar(select(UserFilm.rating)) == Decimal("4.5")


async def test_command_inside_a_flow_wins(harness: BotHarness) -> None:
    chat = harness.chat(1008)
    await chat.say("/review")
    [reply] = await chat.say("/myid")
    assert "1008" in reply
    [reply] = await chat.say("Alien (1979)")  # no longer in the flow: a hint, not a search
    assert "/recommend" in reply
    [reply] = await chat.say("/cancel")
    assert "Nothing to cancel" in reply


async def test_recommend_three_picks_cooldown_and_buttons(harness: BotHarness) -> None:
    chat = harness.chat(1009)
    await chat.say("/review Alien 1979")
    await chat.say("5 perfect")
    replies = await chat.say("/recommend")
    assert "popular, well-rated" in replies[0]  # thin history: says what to do
    cards = replies[1:]
    assert [c.split("\n")[0] for c in cards] == ["🎯 Safe pick", "🧭 Something adjacent", "🎲 Wildcard"]
    async with harness.session_factory() as session:
        items = list(await session.scalars(select(RecommendationItem).order_by(RecommendationItem.position)))
    assert len({i.tmdb_id for i in items}) == 3 and ALIEN not in {i.tmdb_id for i in items}

    [wait] = await chat.say("/recommend")
    assert "ask again in" in wait and "second" in wait

    messages = [m for m in chat.session.messages.values() if m.reply_markup and "Wildcard" in (m.text or "")]
    answers = await chat.tap("Skip", message=messages[-1])
    assert any("Skipped" in a for a in answers)
    async with harness.session_factory() as session:
        statuses = {i.position: i.status for i in await session.scalars(select(RecommendationItem))}
    assert statuses == {0: "shown", 1: "shown", 2: "skipped"}


async def test_watched_starts_review_linked_to_the_item(harness: BotHarness) -> None:
    chat = harness.chat(1010)
    await chat.say("/recommend")
    await chat.tap("Show picks")  # a new user: straight past the onboarding grid
    safe = next(m for m in chat.session.messages.values() if "Safe pick" in (m.text or ""))
    replies = await chat.tap("Watched", message=safe)
    assert any("How many stars" in r for r in replies)
    await chat.say("4 lovely")
    async with harness.session_factory() as session:
        item = (
            await session.scalars(select(RecommendationItem).where(RecommendationItem.position == 0))
        ).one()
        review = (await session.scalars(select(Review))).one()
    assert (
        item.status == "watched"
        and review.recommendation_item_id == item.id
        and review.tmdb_id == item.tmdb_id
    )


async def test_forged_and_stale_buttons_change_nothing(harness: BotHarness) -> None:
    owner, intruder = harness.chat(1011), harness.chat(1012)
    await owner.say("/recommend")
    await owner.tap("Show picks")  # a new user: straight past the onboarding grid
    card = next(m for m in owner.session.messages.values() if "Safe pick" in (m.text or ""))
    data = card.reply_markup.inline_keyboard[0][1].callback_data  # ⏭ of the owner's item
    answers = await intruder.tap_data(data, message=card)
    assert answers == ["This button is no longer valid."]
    for garbage in ("pick:s:99999999", "pick:x:1", "nonsense", "film:348", "rate:11"):
        assert await intruder.tap_data(garbage, message=card) == ["This button is no longer valid."]
    assert await count(harness, RecommendationItem, status="shown") == 3
    # the owner's own tap still works, and a second tap is "already noted"
    assert any("Skipped" in a for a in await owner.tap_data(data, message=card))
    assert await owner.tap_data(data, message=card) == ["Already noted."]


async def test_over_long_review_is_refused_kindly_and_the_saved_part_kept(
    dispatcher, session_factory
) -> None:
    async for harness in make_harness(dispatcher, session_factory, max_review_chars=100):
        chat = harness.chat(1013)
        await chat.say("/review Alien (1979)")
        [too_long] = await chat.say("4 " + "x" * 150)
        assert "longer than 100 characters" in too_long
        [saved] = await chat.say("4 " + "a" * 60)
        assert "Saved" in saved
        [refused] = await chat.say("b" * 60)  # appending would pass the limit
        assert "longer than 100 characters" in refused
        async with harness.session_factory() as session:
            assert (await session.scalars(select(Review.text))).one() == "a" * 60


async def test_non_text_messages_get_a_reply(harness: BotHarness) -> None:
    chat = harness.chat(1014)
    update = chat.updates.document(chat.user, "letterboxd.zip")
    await chat.dp.feed_update(chat.bot, update, **chat.overrides)
    assert chat.session.sent_texts(1014), "a document outside any flow still gets an answer"
    await chat.say("/review")
    before = len(chat.session.sent_texts(1014))
    await chat.dp.feed_update(chat.bot, chat.updates.document(chat.user, "photo.jpg"), **chat.overrides)
    assert "only read text" in chat.session.sent_texts(1014, plain=True)[before]


async def test_unexpected_error_is_answered_kindly_and_logged_once(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def search(self, query: object) -> None:
            raise RuntimeError("internal detail: connection string postgres://secret")

    original = harness.overrides["service_factory"]

    class BrokenServices:
        def bind(self, session: object) -> dict[str, object]:
            return {**original.bind(session), "catalog": Broken()}  # type: ignore[attr-defined]

    chat = harness.chat(1015)
    chat.overrides = {**harness.overrides, "service_factory": BrokenServices()}
    with caplog.at_level(logging.ERROR):
        [reply] = await chat.say("/review Alien")
    assert "something went wrong" in reply and "secret" not in reply and "RuntimeError" not in reply
    failures = [r for r in caplog.records if "update_failed" in r.getMessage()]
    assert len(failures) == 1


async def test_review_search_takes_a_dominant_exact_title_and_keeps_the_year_window(
    harness: BotHarness,
) -> None:
    """The search rules of domain.catalog.choose, on the demo catalog."""
    chat = harness.chat(1020)
    [taken] = await chat.say("/review Alien")  # exact, 14,800 votes, no other film of that title
    assert "Alien (1979)" in taken and "How many stars?" in taken
    [within_a_year] = await chat.say("/review Alien 1986")  # only Aliens (1986) is within ±1 year
    assert "Aliens (1986)" in within_a_year and "How many stars?" in within_a_year
    [choose] = await chat.say("/review Alie")  # no exact title: the user picks
    assert "Which one" in choose


async def test_typing_is_shown_only_for_a_flagged_handler_that_takes_a_while(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/help answers at once and sends no chat action; /recommend (flagged chat_action) shows
    "typing…" once it runs longer than the delay (0 here, so always)."""
    from aiogram.methods import SendChatAction

    from bot import middlewares

    chat = harness.chat(7030)
    await chat.say("/help")
    await chat.say("/review Alien 1979")
    await chat.tap("★★★★")
    assert not [c for c in chat.session.calls if isinstance(c, SendChatAction)]
    monkeypatch.setattr(middlewares, "CHAT_ACTION_DELAY_SECONDS", 0.0)
    await chat.say("/recommend")
    [typing] = [c for c in chat.session.calls if isinstance(c, SendChatAction)]
    assert typing.chat_id == 7030 and typing.action == "typing"
