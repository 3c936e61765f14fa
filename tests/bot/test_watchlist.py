"""The watchlist through Dispatcher.feed_update on the real database (catalog mode, the demo
films): 🔖 on a pick and on a /review result, /watchlist with ◀ ▶, ❌ and ✅, /recommend
watchlist, and forged taps."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from aiogram.types import InlineKeyboardButton, Message
from sqlalchemy import select, update

from bot.watchlist_ui import SaveOrigin, WatchlistRemove, WatchlistSave, WatchlistTurn, WatchlistWatched
from db.models import Recommendation, RecommendationItem, User, UserFilm
from db.repositories.library import LibraryRepository, LogRow
from db.repositories.users import UserRepository
from domain.entities import Source
from tests.bot.conftest import BotHarness, Chat

INVALID = "This button is no longer valid."
CARD_TITLES = ("🎯 Safe pick", "🧭 Something adjacent", "🎲 Wildcard")
ALIEN, ALIENS, MATRIX, HEAT, AMELIE, BLADE_RUNNER = 348, 679, 603, 949, 194, 78
#: 12 demo films (tmdb id → title) for a two-page watchlist
TWELVE = {
    8077: "Alien³",
    70981: "Prometheus",
    157336: "Interstellar",
    27205: "Inception",
    62: "2001: A Space Odyssey",
    238: "The Godfather",
    680: "Pulp Fiction",
    496243: "Parasite",
    129: "Spirited Away",
    1091: "The Thing",
    329865: "Arrival",
    76341: "Mad Max: Fury Road",
}


def buttons(message: Message) -> list[InlineKeyboardButton]:
    assert message.reply_markup is not None
    return [b for row in message.reply_markup.inline_keyboard for b in row]


def current(chat: Chat, message: Message) -> Message:
    """`message` as it is now (after edits)."""
    return chat.session.messages[(message.chat.id, message.message_id)]


def cards(chat: Chat) -> list[Message]:
    return [m for m in chat.session.messages.values() if (m.text or "").startswith(CARD_TITLES)]


async def user_id(harness: BotHarness, telegram_id: int) -> int:
    async with harness.session_factory() as session:
        found = await session.scalar(select(User.id).filter_by(telegram_id=telegram_id))
    assert found is not None
    return found


async def watchlist_ids(harness: BotHarness, telegram_id: int) -> set[int]:
    async with harness.session_factory() as session:
        stmt = (
            select(UserFilm.tmdb_id)
            .join(User, User.id == UserFilm.user_id)
            .where(User.telegram_id == telegram_id, UserFilm.on_watchlist)
        )
        return set(await session.scalars(stmt))


async def imported_watchlist(harness: BotHarness, telegram_id: int, films: list[int]) -> None:
    """`films` on the user's watchlist as a Letterboxd import puts them, dated yesterday."""
    async with harness.session_factory() as session:
        user = await UserRepository(session).upsert(telegram_id, first_name="Ann", language_code="en")
        rows = [LogRow(t, None, False, None, False, True) for t in films]
        await LibraryRepository(session).merge_log(user.id, rows, source=Source.LETTERBOXD)
        await session.execute(
            update(UserFilm)
            .where(UserFilm.user_id == user.id)
            .values(updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        )
        await session.commit()


async def with_history(chat: Chat) -> None:
    await chat.say("/review Alien (1979)")
    await chat.say("5 perfect")


# --- 🔖 Save ----------------------------------------------------------------------------------


async def test_save_on_a_pick_then_watchlist_shows_it(harness: BotHarness) -> None:
    chat = harness.chat(8101)
    await with_history(chat)
    await chat.say("/recommend")
    safe = cards(chat)[0]
    assert [b.text for b in buttons(safe) if b.url is None] == [  # links: tests/bot/test_cards.py
        "✅ Watched",
        "⏭ Skip",
        "🚫 Not interested",
        "🔖 Save",
        "🔁 More like this",
    ]
    [save] = [b for b in buttons(safe) if b.text == "🔖 Save"]
    tmdb_id = WatchlistSave.unpack(save.callback_data or "").tmdb_id

    assert await chat.tap("🔖 Save", message=safe) == ["🔖 Saved to your watchlist."]
    assert "🔖 Saved" in [b.text for b in buttons(current(chat, safe))]  # the card stays
    assert await chat.tap("🔖 Saved", message=current(chat, safe)) == ["It's already on your watchlist."]
    assert await watchlist_ids(harness, 8101) == {tmdb_id}

    [listing] = await chat.say("/watchlist")
    title = re.sub("<[^>]+>", "", (safe.text or "").split("\n")[1])  # the card's film line
    assert listing.startswith("🔖 Your watchlist · 1 film") and f"1. {title}" in listing
    labels = [b.text for b in buttons(chat.session.last_keyboard_message(8101) or safe)]
    assert labels[0].startswith("✅ 1. ") and labels[1] == "❌ 1"
    # ⏭ on the card still works, and the film stays on the watchlist
    assert await chat.tap("Skip", message=current(chat, safe)) == [
        "⏭ Skipped. It won't come back for a while."
    ]
    assert await watchlist_ids(harness, 8101) == {tmdb_id}


async def test_save_on_a_review_result_instead_of_reviewing(harness: BotHarness) -> None:
    chat = harness.chat(8102)
    [question] = await chat.say("/review The Matrix 1999")
    assert "How many stars?" in question
    prompt = chat.session.last_keyboard_message(8102)
    assert prompt is not None
    labels = [b.text for b in buttons(prompt)]
    assert labels[-2:] == ["🔖 Save", "❌ Cancel"]

    replies = await chat.tap("🔖 Save", message=prompt)
    assert replies[0] == "🔖 Saved to your watchlist."
    assert replies[1].startswith("🔖 The Matrix (1999) is on your watchlist.")
    assert current(chat, prompt).reply_markup is None
    assert await watchlist_ids(harness, 8102) == {MATRIX}
    # the review flow is over: a rating typed now is not taken as a review of The Matrix
    await chat.say("4.5 great")
    async with harness.session_factory() as session:
        assert await session.scalar(select(UserFilm.rating).filter_by(tmdb_id=MATRIX)) is None


async def test_review_of_a_seen_film_cannot_be_saved(harness: BotHarness) -> None:
    chat = harness.chat(8103)
    await with_history(chat)  # Alien rated 5
    await chat.say("/review Alien (1979)")
    prompt = chat.session.last_keyboard_message(8103)
    assert prompt is not None
    assert await chat.tap("🔖 Save", message=prompt) == [
        "You've already seen this one: it's rated or marked watched."
    ]
    assert current(chat, prompt).reply_markup is not None  # still asking for the rating
    assert await watchlist_ids(harness, 8103) == set()


# --- /watchlist -------------------------------------------------------------------------------


async def test_empty_watchlist_gets_a_hint(harness: BotHarness) -> None:
    chat = harness.chat(8104)
    [reply] = await chat.say("/watchlist")
    assert reply.startswith("Your watchlist is empty.") and "🔖 Save" in reply and "/import" in reply
    [reply] = await chat.say("/recommend watchlist")
    assert reply.startswith("Your watchlist is empty, so there's nothing to pick from.")


async def test_twelve_films_page_in_place_newest_first(harness: BotHarness) -> None:
    chat = harness.chat(8105)
    await imported_watchlist(harness, 8105, list(TWELVE))
    await chat.say("/review Heat 1995")
    await chat.tap("🔖 Save")  # saved in the bot today: first

    [first] = await chat.say("/watchlist")
    listing = chat.session.last_keyboard_message(8105)
    assert listing is not None
    assert first.startswith("🔖 Your watchlist · 13 films · page 1 of 2")
    assert "1. Heat (1995)" in first
    assert sum(bool(re.match(r"\d+\. ", line)) for line in first.split("\n")) == 10, first
    assert [b.text for b in buttons(listing)][-1] == "▶"

    silent, second = await chat.tap("▶", message=listing)  # a silent answer, then the edit
    assert silent == ""
    assert second.startswith("🔖 Your watchlist · 13 films · page 2 of 2")
    assert "11. " in second and "13. " in second and "10. " not in second
    now = current(chat, listing)  # the same message, edited
    assert [b.text for b in buttons(now)][-1] == "◀" and "▶" not in [b.text for b in buttons(now)]
    shown = [line for line in (first + "\n" + second).split("\n") if line[:1].isdigit()]
    assert len(shown) == 13
    assert all(any(title in line for line in shown) for title in TWELVE.values())

    _, back = await chat.tap("◀", message=now)
    assert back == first
    # a page past the end (a stale ▶ after removals) shows the last page
    _, last = await chat.tap_data(WatchlistTurn(page=7).pack(), message=now)
    assert last == second


async def test_remove_edits_the_list(harness: BotHarness) -> None:
    chat = harness.chat(8106)
    await imported_watchlist(harness, 8106, [ALIENS, MATRIX])
    [before] = await chat.say("/watchlist")
    listing = chat.session.last_keyboard_message(8106)
    assert listing is not None and "2 films" in before
    [removed] = [b for b in buttons(listing) if b.text == "❌ 1"]
    gone = WatchlistRemove.unpack(removed.callback_data or "").tmdb_id

    answer, after = await chat.tap("❌ 1", message=listing)
    assert answer == "❌ Removed from your watchlist."
    assert after.startswith("🔖 Your watchlist · 1 film\n")
    assert await watchlist_ids(harness, 8106) == {ALIENS, MATRIX} - {gone}
    # the same button again (a stale list): nothing on the list to remove
    assert await chat.tap_data(removed.callback_data or "", message=listing) == [INVALID]
    await chat.tap("❌ 1", message=current(chat, listing))
    assert await watchlist_ids(harness, 8106) == set()
    assert current(chat, listing).text == (
        "Your watchlist is empty. Tap 🔖 Save on a pick from /recommend or on a film you find with "
        "/review, or /import your Letterboxd export: its watchlist comes along."
    )
    assert current(chat, listing).reply_markup is None


async def test_watched_starts_the_review_and_rating_takes_it_off(harness: BotHarness) -> None:
    chat = harness.chat(8107)
    await imported_watchlist(harness, 8107, [ALIENS])
    await chat.say("/watchlist")
    _, question = await chat.tap("✅ 1. Aliens")
    assert question.startswith("Aliens (1986)") and "How many stars?" in question
    prompt = chat.session.last_keyboard_message(8107)
    assert prompt is not None and "🔖 Save" not in [b.text for b in buttons(prompt)]  # seen: no 🔖
    await chat.tap("★★★★", message=prompt)
    await chat.tap("Save without a review")
    async with harness.session_factory() as session:
        row = await session.scalar(select(UserFilm).filter_by(tmdb_id=ALIENS))
    assert row is not None and row.rating == Decimal("4") and not row.on_watchlist
    [reply] = await chat.say("/watchlist")
    assert reply.startswith("Your watchlist is empty.")


# --- /recommend watchlist ----------------------------------------------------------------------


async def test_recommend_watchlist_picks_only_watchlisted_unrated_films(harness: BotHarness) -> None:
    chat = harness.chat(8108)
    await with_history(chat)
    listed = {ALIENS, MATRIX, HEAT, AMELIE}
    await imported_watchlist(harness, 8108, [*listed, BLADE_RUNNER])
    await chat.say("/review Blade Runner 1982")
    await chat.say("2 not for me")  # rated: off the watchlist
    async with harness.session_factory() as session:  # an old row still flagged, though rated
        await session.execute(
            update(UserFilm).where(UserFilm.tmdb_id == BLADE_RUNNER).values(on_watchlist=True)
        )
        await session.commit()

    replies = await chat.say("/recommend watchlist")
    assert replies[0] == "🔖 From your watchlist, for tonight: the 3 that fit your taste best."
    shown = [r for r in replies if r.startswith(CARD_TITLES)]
    assert len(shown) == 3 and all(r.count("\n") >= 2 for r in shown)  # title, film, reasons
    async with harness.session_factory() as session:
        rec = await session.scalar(select(Recommendation).order_by(Recommendation.id.desc()))
        assert rec is not None and rec.strategy == "watchlist"
        picked = set(
            await session.scalars(select(RecommendationItem.tmdb_id).filter_by(recommendation_id=rec.id))
        )
    assert len(picked) == 3 and picked <= listed
    labels = [b.text for b in buttons(cards(chat)[-1]) if b.url is None]
    assert labels == ["✅ Watched", "⏭ Skip", "🚫 Not interested"]  # no 🔖: it is on the watchlist
    # one cooldown for both
    assert await chat.say("/recommend") == ["Give me a moment: you can ask again in 60 seconds."]


async def test_recommend_watchlist_with_fewer_than_three(harness: BotHarness) -> None:
    chat = harness.chat(8109)
    await imported_watchlist(harness, 8109, [AMELIE])
    replies = await chat.say("/recommend   Watchlist ")
    assert replies[0] == "🔖 From your watchlist, for tonight: the one that fits your taste best."
    shown = [r for r in replies if r.startswith(CARD_TITLES)]
    assert len(shown) == 1 and "Amélie (2001)" in shown[0]


async def test_plain_recommend_is_not_taken_and_the_cooldown_is_shared(harness: BotHarness) -> None:
    chat = harness.chat(8119)
    await with_history(chat)
    await imported_watchlist(harness, 8119, [AMELIE])
    plain = await chat.say("/recommend")
    assert len([r for r in plain if r.startswith(CARD_TITLES)]) == 3
    assert not any(r.startswith("🔖 From your watchlist") for r in plain)
    assert await chat.say("/recommend watchlist") == ["Give me a moment: you can ask again in 60 seconds."]


# --- forged taps ------------------------------------------------------------------------------


async def test_forged_taps_change_nothing_of_anyone_else(harness: BotHarness) -> None:
    owner, intruder = harness.chat(8110), harness.chat(8111, first_name="Eve")
    await imported_watchlist(harness, 8110, [ALIENS, MATRIX])
    await owner.say("/watchlist")
    listing = owner.session.last_keyboard_message(8110)
    assert listing is not None
    await intruder.say("/start")

    # ❌ and ✅ of the owner's films, tapped by the intruder: not on the intruder's list
    remove = WatchlistRemove(tmdb_id=ALIENS, page=0).pack()
    assert await intruder.tap_data(remove, message=listing) == [INVALID]
    watched = WatchlistWatched(tmdb_id=MATRIX).pack()
    assert await intruder.tap_data(watched, message=listing) == [INVALID]
    # 🔖 with a film that is not in the catalog
    forged = WatchlistSave(tmdb_id=987654321, origin=SaveOrigin.PICK).pack()
    assert await intruder.tap_data(forged, message=listing) == [INVALID]
    # out-of-range data does not even unpack
    assert await intruder.tap_data("wlp:5000", message=listing) == [INVALID]
    assert await intruder.tap_data("wlr:0:0", message=listing) == [INVALID]
    # 🔖 on a real film only ever touches the tapper's own list
    own = WatchlistSave(tmdb_id=HEAT, origin=SaveOrigin.PICK).pack()
    assert await intruder.tap_data(own, message=listing) == ["🔖 Saved to your watchlist."]

    assert await watchlist_ids(harness, 8110) == {ALIENS, MATRIX}
    assert await watchlist_ids(harness, 8111) == {HEAT}
    assert current(owner, listing).text == listing.text  # the owner's message untouched
    async with harness.session_factory() as session:
        owner_id = await user_id(harness, 8110)
        rows = await session.scalar(select(UserFilm.rating).filter_by(user_id=owner_id, tmdb_id=MATRIX))
    assert rows is None
