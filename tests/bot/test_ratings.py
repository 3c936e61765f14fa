"""/ratings through the dispatcher on the real database: the list newest first and best first,
pages edited in place, ✏️ changing one rating, 🗑 with Yes / Keep, and taps that are not the
user's own changing nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from aiogram.types import InlineKeyboardButton, Message
from sqlalchemy import select

from bot.ratings_ui import DeleteAnswer, RatingsDeleteConfirm, RatingsEdit, RatingsOrder, RatingsSet
from db.models import Review, UserFilm, Watch
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository
from tests.bot.conftest import BotHarness, Chat
from tests.bot.test_handlers import count

INVALID = "This button is no longer valid."
BASE = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
#: (tmdb id, rating, title), oldest rating first (one a day from 1 Mar 2025).
RATED = [
    (348, "4.5", "Alien"),
    (679, "4", "Aliens"),
    (8077, "2", "Alien³"),
    (8078, "1.5", "Alien Resurrection"),
    (70981, "3", "Prometheus"),
    (157336, "5", "Interstellar"),
    (27205, "3.5", "Inception"),
    (603, "4", "The Matrix"),
    (78, "5", "Blade Runner"),
    (335984, "2.5", "Blade Runner 2049"),
    (62, "0.5", "2001: A Space Odyssey"),
    (238, "3", "The Godfather"),
]


async def seed(harness: BotHarness, telegram_id: int, rated: list[tuple[int, str, str]] = RATED) -> int:
    """The user (users.id) with these ratings, a review of Alien and a diary viewing of it."""
    async with harness.session_factory() as session:
        user = await UserRepository(session).upsert(telegram_id, first_name="Ann", language_code="en")
        library = LibraryRepository(session)
        rows = [
            LogRow(t, Decimal(r), True, None, False, False, BASE + dt.timedelta(days=i))
            for i, (t, r, _) in enumerate(rated)
        ]
        await library.merge_log(user.id, rows, source="letterboxd")
        if any(t == 348 for t, _, _ in rated):
            await library.upsert_review(
                user.id, 348, rating=Decimal("4.5"), text="Perfect tension.", source="bot"
            )
            await library.merge_watches(user.id, [(348, dt.date(2025, 3, 1), Decimal("4.5"))])
        await session.commit()
        return user.id


def listing(chat: Chat) -> Message:
    message = chat.session.last_keyboard_message(chat.user.telegram_id)
    assert message is not None and message.reply_markup is not None
    return message


def labels(message: Message) -> list[str]:
    assert message.reply_markup is not None
    return [b.text for row in message.reply_markup.inline_keyboard for b in row]


def button(message: Message, label: str) -> InlineKeyboardButton:
    assert message.reply_markup is not None
    found = [b for row in message.reply_markup.inline_keyboard for b in row if label in b.text]
    assert found, f"no {label!r} in {labels(message)}"
    return found[0]


def lines(text: str) -> list[str]:
    """The film lines of a list (numbered)."""
    return [line for line in text.split("\n") if line[:1].isdigit()]


async def rating(harness: BotHarness, user_id: int, tmdb_id: int) -> Decimal | None:
    async with harness.session_factory() as session:
        return await session.scalar(select(UserFilm.rating).filter_by(user_id=user_id, tmdb_id=tmdb_id))


async def test_no_ratings_gets_a_hint(harness: BotHarness) -> None:
    chat = harness.chat(8101)
    [reply] = await chat.say("/ratings")
    assert "haven't rated any films" in reply and "/review" in reply and "/import" in reply
    assert chat.session.last_markup(8101) is None


async def test_ratings_newest_first_paged_in_place_and_by_rating(harness: BotHarness) -> None:
    chat = harness.chat(8102)
    await seed(harness, 8102)
    [reply] = await chat.say("/ratings")
    assert reply.startswith("⭐ Your ratings: 12 films · newest first · page 1 of 2")
    shown = lines(reply)
    assert shown[0] == "1. The Godfather (1972) ★★★ · 12 Mar 2025"
    assert shown[1] == "2. 2001: A Space Odyssey (1968) ½ · 11 Mar 2025"
    assert len(shown) == 10 and shown[-1].startswith("10. Alien³ (1992) ★★ ")
    message = listing(chat)
    assert labels(message)[:2] == ["✏️ 1. The Godfather", "🗑 1"]
    assert "◀" not in labels(message) and "▶" in labels(message) and "⭐ Sort by rating" in labels(message)
    assert "<b>The Godfather</b> (1972)" in (chat.session.sent_texts(8102)[-1])  # titles in bold

    [_, page2] = await chat.tap("▶", message=message)
    assert "page 2 of 2" in page2
    assert lines(page2) == [
        "11. Aliens (1986) ★★★★ · 2 Mar 2025",
        "12. Alien (1979) ★★★★½ · 1 Mar 2025 📝",
    ]
    edited = chat.session.messages[(8102, message.message_id)]  # the same message, edited
    assert "12. <b>Alien</b> (1979)" in (edited.text or "")
    assert "◀" in labels(edited) and "▶" not in labels(edited)

    [_, back] = await chat.tap("◀", message=edited)
    assert lines(back)[0].startswith("1. The Godfather")

    [_, best] = await chat.tap("Sort by rating", message=chat.session.messages[(8102, message.message_id)])
    assert "best first" in best.split("\n")[0]
    assert [line.split(" (")[0] for line in lines(best)[:3]] == [
        "1. Blade Runner",
        "2. Interstellar",
        "3. Alien",
    ]
    assert lines(best)[-2:] == [
        "9. Blade Runner 2049 (2017) ★★½ · 10 Mar 2025",
        "10. Alien³ (1992) ★★ · 3 Mar 2025",
    ]
    by_rating = chat.session.messages[(8102, message.message_id)]
    assert "📅 Sort by date" in labels(by_rating)
    [_, best2] = await chat.tap("▶", message=by_rating)
    assert [line.split(" (")[0] for line in lines(best2)] == [
        "11. Alien Resurrection",
        "12. 2001: A Space Odyssey",
    ]
    assert [key for key in chat.session.messages if key[0] == 8102] == [
        (8102, message.message_id)
    ]  # one list


async def test_change_one_rating(harness: BotHarness) -> None:
    chat = harness.chat(8103)
    user_id = await seed(harness, 8103)
    await chat.say("/ratings")
    message = listing(chat)
    [_, prompt] = await chat.tap("✏️ 12.", message=await _page2(chat, message))
    assert prompt.startswith("Change your rating of Alien (1979) (now ★★★★½)")
    stars = chat.session.messages[(8103, message.message_id)]
    assert labels(stars)[:10] == ["½", "★", "★½", "★★", "★★½", "★★★", "★★★½", "★★★★", "★★★★½", "★★★★★"]
    assert all(
        (b.callback_data or "").startswith("rts:")
        for row in stars.reply_markup.inline_keyboard[:2]
        for b in row
    )  # type: ignore[union-attr]

    [answer, updated] = await chat.tap("★★", message=stars)  # the first match: ★★ (2 stars)
    assert answer == "Saved: Alien ★★"
    assert await rating(harness, user_id, 348) == Decimal("2.0")
    async with harness.session_factory() as session:
        review = await session.scalar(select(Review).filter_by(user_id=user_id, tmdb_id=348))
    assert review is not None and review.rating == Decimal("2.0") and review.text == "Perfect tension."
    # the list is back on the page it was on (a changed rating is the newest: now on page 1)
    assert "page 2 of 2" in updated and "Alien (1979)" not in updated
    [_, first] = await chat.tap("◀", message=chat.session.messages[(8103, message.message_id)])
    assert lines(first)[0].startswith("1. Alien (1979) ★★ · ")
    assert await rating(harness, user_id, 679) == Decimal("4.0")  # the others untouched

    # ◀ Back from the stars changes nothing
    await chat.tap("✏️ 2.", message=chat.session.messages[(8103, message.message_id)])
    [_, back] = await chat.tap("Back", message=chat.session.messages[(8103, message.message_id)])
    assert lines(back)[1].startswith("2. The Godfather (1972) ★★★")
    assert await rating(harness, user_id, 238) == Decimal("3.0")


async def _page2(chat: Chat, message: Message) -> Message:
    await chat.tap("▶", message=message)
    return chat.session.messages[(chat.user.telegram_id, message.message_id)]


async def test_delete_asks_then_deletes_the_rating_and_its_review(harness: BotHarness) -> None:
    chat = harness.chat(8104)
    user_id = await seed(harness, 8104, RATED[:3])
    await chat.say("/ratings")
    message = listing(chat)
    [_, question] = await chat.tap("🗑 3", message=message)  # Alien, the oldest
    assert question.startswith("Delete your rating and review of Alien (1979)?")
    asked = chat.session.messages[(8104, message.message_id)]
    assert labels(asked) == ["🗑 Yes, delete", "Keep"]

    [answer, kept] = await chat.tap("Keep", message=asked)
    assert answer == "Kept." and len(lines(kept)) == 3
    assert await rating(harness, user_id, 348) == Decimal("4.5")
    assert await count(harness, Review, user_id=user_id) == 1

    await chat.tap("🗑 3", message=chat.session.messages[(8104, message.message_id)])
    [answer, after] = await chat.tap("Yes, delete", message=chat.session.messages[(8104, message.message_id)])
    assert answer == "Deleted."
    assert after.startswith("⭐ Your ratings: 2 films") and "Alien (1979)" not in after
    assert await count(harness, UserFilm, user_id=user_id, tmdb_id=348) == 0
    assert await count(harness, Review, user_id=user_id) == 0
    assert await count(harness, Watch, user_id=user_id) == 0
    assert await rating(harness, user_id, 679) == Decimal("4.0")

    # an unreviewed film is asked about without "review"; the last one gone leaves the hint
    [_, question] = await chat.tap("🗑 1", message=chat.session.messages[(8104, message.message_id)])
    assert question.startswith("Delete your rating of Alien³ (1992)?")
    await chat.tap("Yes", message=chat.session.messages[(8104, message.message_id)])
    await chat.tap("🗑 1", message=chat.session.messages[(8104, message.message_id)])
    [_, empty] = await chat.tap("Yes", message=chat.session.messages[(8104, message.message_id)])
    assert "haven't rated any films" in empty
    assert chat.session.messages[(8104, message.message_id)].reply_markup is None


async def test_other_users_and_forged_taps_change_nothing(harness: BotHarness) -> None:
    owner, intruder = harness.chat(8105), harness.chat(8106)
    owner_id = await seed(harness, 8105, RATED[:2])
    intruder_id = await seed(harness, 8106, RATED[5:6])  # Interstellar only
    await owner.say("/ratings")
    message = listing(owner)
    await owner.tap("🗑 2", message=message)
    question = owner.session.messages[(8105, message.message_id)]
    yes = button(question, "Yes").callback_data or ""

    # the owner's buttons tapped by someone else (under the owner's message): refused
    assert await intruder.tap_data(yes, message=question) == [INVALID]
    set_ = RatingsSet(tmdb_id=348, halves=1, page=0, order=RatingsOrder.DATE).pack()
    assert await intruder.tap_data(set_, message=question) == [INVALID]

    # in the intruder's own chat, buttons naming the owner's films: nothing of theirs to change
    await intruder.say("/ratings")
    own = listing(intruder)
    for data in (
        set_,
        RatingsEdit(tmdb_id=348, page=0, order=RatingsOrder.DATE).pack(),
        RatingsDeleteConfirm(tmdb_id=348, answer=DeleteAnswer.YES, page=0, order=RatingsOrder.DATE).pack(),
        "rts:348:11:0:d",  # 5½ stars
        "rts:348:0:0:d",
        "rtx:0:y:0:d",
        "rtx:348:maybe:0:d",
        "rtp:0:x",
        "rte:99999999999:0:d",
    ):
        assert await intruder.tap_data(data, message=own) == [INVALID], data

    assert await rating(harness, owner_id, 348) == Decimal("4.5")
    assert await rating(harness, owner_id, 679) == Decimal("4.0")
    assert await count(harness, Review, user_id=owner_id) == 1
    assert await rating(harness, intruder_id, 157336) == Decimal("5.0")
    assert await count(harness, UserFilm, user_id=intruder_id) == 1

    # a stale Yes (the film was deleted meanwhile) deletes nothing more
    await owner.tap("Yes", message=question)
    assert await count(harness, UserFilm, user_id=owner_id) == 1
    assert await owner.tap_data(yes, message=question) == [INVALID]
    assert await rating(harness, owner_id, 679) == Decimal("4.0")
