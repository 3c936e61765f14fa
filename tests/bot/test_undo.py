"""↩️ Undo under a pick card answered ✅ / ⏭ / 🚫, through the dispatcher on the real database:
the answer is taken back within the window (🚫: the film recommendable again), not after it,
and never for someone else's pick."""

from __future__ import annotations

import datetime as dt

from aiogram.types import Message
from sqlalchemy import select, update

from bot.ratings_ui import UndoFeedback
from db.models import RecommendationItem, Review, UserFilm
from db.repositories.library import LibraryRepository
from domain.feedback import UNDO_WINDOW
from tests.bot.conftest import BotHarness, Chat
from tests.bot.test_handlers import count

INVALID = "This button is no longer valid."
#: The first buttons of a pick card (🔖 Save may follow).
PICK_LABELS = ["✅ Watched", "⏭ Skip", "🚫 Not interested"]


async def recommended(chat: Chat) -> list[Message]:
    """Rate Alien, /recommend: the three cards, 🎯 first."""
    await chat.say("/review Alien (1979)")
    await chat.say("5 perfect")
    await chat.say("/recommend")
    cards = [
        m
        for m in chat.session.keyboard_messages(chat.user.telegram_id)
        if "✅ Watched" in str(m.reply_markup)
    ]
    assert len(cards) == 3
    return cards[::-1]


def now(chat: Chat, message: Message) -> Message:
    """The message as stored now (after edits)."""
    return chat.session.messages[(chat.user.telegram_id, message.message_id)]


def labels(message: Message) -> list[str]:
    return (
        [b.text for row in message.reply_markup.inline_keyboard for b in row] if message.reply_markup else []
    )


def buttons(message: Message) -> list[tuple[str, str | None]]:
    """(label, callback data) of every button."""
    assert message.reply_markup is not None
    return [(b.text, b.callback_data) for row in message.reply_markup.inline_keyboard for b in row]


async def item_of(harness: BotHarness, message: Message) -> RecommendationItem:
    """The recommendation item behind a card (its ✅ button's data: pick:w:<item id>)."""
    assert message.reply_markup is not None
    data = next(
        b.callback_data for row in message.reply_markup.inline_keyboard for b in row if "✅" in b.text
    )
    assert data is not None
    item_id = int(data.rsplit(":", 1)[1])
    async with harness.session_factory() as session:
        item = await session.get(RecommendationItem, item_id)
        assert item is not None
        return item


async def status(harness: BotHarness, item_id: int) -> tuple[str, dt.datetime | None]:
    async with harness.session_factory() as session:
        item = await session.get(RecommendationItem, item_id)
        assert item is not None
        return item.status, item.status_at


async def seen(harness: BotHarness, user_id: int) -> set[int]:
    async with harness.session_factory() as session:
        return await LibraryRepository(session).seen_ids(user_id)


async def test_undo_not_interested(harness: BotHarness) -> None:
    chat = harness.chat(8201)
    safe = (await recommended(chat))[0]
    item = await item_of(harness, safe)
    original = buttons(safe)
    assert [label for label, _ in original[:3]] == PICK_LABELS
    assert await chat.tap("Not interested", message=safe) == ["🚫 Got it: I won't suggest it again."]
    assert labels(now(chat, safe)) == ["↩️ Undo"]
    assert item.tmdb_id in await seen(harness, item.user_id)
    assert await count(harness, UserFilm, tmdb_id=item.tmdb_id, not_interested=True) == 1

    [answer] = await chat.tap("Undo", message=now(chat, safe))
    assert answer.startswith("↩️ Undone")
    assert buttons(now(chat, safe)) == original  # the buttons are back
    assert await status(harness, item.id) == ("shown", None)
    assert item.tmdb_id not in await seen(harness, item.user_id)  # recommendable again
    assert await count(harness, UserFilm, tmdb_id=item.tmdb_id, not_interested=True) == 0

    # the buttons work again: 🚫 once more, and undo once more
    await chat.tap("Not interested", message=now(chat, safe))
    assert item.tmdb_id in await seen(harness, item.user_id)
    await chat.tap("Undo", message=now(chat, safe))
    assert item.tmdb_id not in await seen(harness, item.user_id)


async def test_undo_skip(harness: BotHarness) -> None:
    chat = harness.chat(8202)
    cards = await recommended(chat)
    item = await item_of(harness, cards[1])
    original = buttons(cards[1])
    assert await chat.tap("Skip", message=cards[1]) == ["⏭ Skipped. It won't come back for a while."]
    assert (await status(harness, item.id))[0] == "skipped"
    await chat.tap("Undo", message=now(chat, cards[1]))
    assert await status(harness, item.id) == ("shown", None)
    assert buttons(now(chat, cards[1])) == original
    # a second tap on a stale ↩️ (the client had not refreshed): nothing more to undo
    undo = UndoFeedback(item_id=item.id).pack()
    [answer] = await chat.tap_data(undo, message=now(chat, cards[1]))
    assert answer.startswith("↩️ Undone") and await status(harness, item.id) == ("shown", None)
    assert await count(harness, RecommendationItem, status="shown") == 3


async def test_undo_after_the_window_is_too_late(harness: BotHarness) -> None:
    chat = harness.chat(8203)
    safe = (await recommended(chat))[0]
    item = await item_of(harness, safe)
    await chat.tap("Not interested", message=safe)
    async with harness.session_factory() as session:  # the tap was a little over the window ago
        await session.execute(
            update(RecommendationItem)
            .where(RecommendationItem.id == item.id)
            .values(status_at=RecommendationItem.status_at - UNDO_WINDOW - dt.timedelta(seconds=5))
        )
        await session.commit()
    before = await status(harness, item.id)

    [answer] = await chat.tap("Undo", message=now(chat, safe))
    assert answer == "Too late to undo: that was more than 5 minutes ago."
    assert labels(now(chat, safe)) == ["Letterboxd", "TMDB"]  # the button is gone, the links stay
    assert await status(harness, item.id) == before and before[0] == "not_interested"
    assert item.tmdb_id in await seen(harness, item.user_id)


async def test_undo_of_another_users_pick_changes_nothing(harness: BotHarness) -> None:
    owner, intruder = harness.chat(8204), harness.chat(8205)
    owner_safe = (await recommended(owner))[0]
    intruder_safe = (await recommended(intruder))[0]
    item = await item_of(harness, owner_safe)
    await owner.tap("Not interested", message=owner_safe)
    undo = UndoFeedback(item_id=item.id).pack()

    # under the owner's card, and in the intruder's own chat: refused
    assert await intruder.tap_data(undo, message=now(owner, owner_safe)) == [INVALID]
    assert await intruder.tap_data(undo, message=intruder_safe) == [INVALID]
    assert await intruder.tap_data("undo:0", message=intruder_safe) == [INVALID]
    assert await intruder.tap_data("undo:abc", message=intruder_safe) == [INVALID]
    assert (await status(harness, item.id))[0] == "not_interested"
    assert item.tmdb_id in await seen(harness, item.user_id)
    assert labels(now(owner, owner_safe)) == ["↩️ Undo"]
    assert buttons(now(intruder, intruder_safe)) == buttons(intruder_safe)


async def test_undo_watched_leaves_the_review_it_started(harness: BotHarness) -> None:
    chat = harness.chat(8206)
    cards = await recommended(chat)
    item = await item_of(harness, cards[2])
    out = await chat.tap("Watched", message=cards[2])
    assert out[0] == "✅ Marked as watched." and "How many stars" in out[-1]
    assert labels(now(chat, cards[2])) == ["↩️ Undo"]

    [answer] = await chat.tap("Undo", message=now(chat, cards[2]))
    assert answer == "↩️ Undone: the buttons are back and that review is cancelled."
    assert await status(harness, item.id) == ("shown", None)
    # the review flow is gone: a rating typed now is not taken for that film
    [reply] = await chat.say("4 nice")
    assert "/recommend" in reply
    assert await count(harness, UserFilm, tmdb_id=item.tmdb_id) == 0

    # ✅ again, rate it, then undo: the item reopens, the rating given stays
    await chat.tap("Watched", message=now(chat, cards[2]))
    await chat.say("4 nice")
    [answer] = await chat.tap("Undo", message=now(chat, cards[2]))
    assert answer == "↩️ Undone: the buttons are back. Your rating stays (change it in /ratings)."
    assert (await status(harness, item.id))[0] == "shown"
    async with harness.session_factory() as session:
        rating = await session.scalar(select(UserFilm.rating).filter_by(tmdb_id=item.tmdb_id))
        review = await session.scalar(select(Review.text).filter_by(tmdb_id=item.tmdb_id))
    assert rating == 4 and review == "nice"
