"""Poster cards (bot/cards.py): /recommend with TMDB sends photo cards with a caption and a link
row; a film without a poster, and the offline catalog, get text cards; taps edit photo cards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aiogram import Dispatcher
from aiogram.methods import SendPhoto
from aiogram.types import InlineKeyboardButton, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DEMO_CATALOG
from bot.cards import MAX_CAPTION, caption, shorten, visible_length
from bot.console.rules import image_size
from bot.i18n import LOCALES
from bot.settings import Settings
from domain.entities import FilmInfo, Slot
from domain.picks import ShownPick
from integrations.tmdb import TMDBClient
from recommender import Reason, ReasonKind
from tests.bot.conftest import BotHarness, Chat, make_harness
from tests.fakes.tmdb_server import FakeTMDBServer, fake_person

SLOTS = ("🎯", "🧭", "🎲")


@pytest.fixture
async def tmdb_server() -> AsyncIterator[FakeTMDBServer]:
    async with FakeTMDBServer(DEMO_CATALOG) as server:
        server.posterless.clear()  # every film has a poster unless a test says otherwise
        yield server


@pytest.fixture
async def online(
    tmdb_server: FakeTMDBServer, dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    """The bot with the fake TMDB, whose images it serves itself (TMDB_IMAGE_BASE_URL)."""
    client = TMDBClient(base_url=tmdb_server.base_url, api_key="k", max_attempts=2, backoff_multiplier=0.001)
    async with client:
        async for harness in make_harness(dispatcher, session_factory, client, load_demo=False):
            settings = harness.overrides["settings"]
            assert isinstance(settings, Settings)
            settings.tmdb.image_base_url = tmdb_server.image_base_url + "/"  # a trailing slash is fine
            yield harness


async def recommended(chat: Chat) -> None:
    await chat.say("/review Alien (1979)")
    await chat.say("5 perfect")
    await chat.say("/recommend")


def current(chat: Chat, message: Message) -> Message:
    return chat.session.messages[(chat.user.telegram_id, message.message_id)]


def card_messages(chat: Chat) -> list[Message]:
    """The chat's pick cards (photo or text), oldest first, as currently stored."""
    messages = sorted(chat.session.messages.values(), key=lambda m: m.message_id)
    return [m for m in messages if (m.caption or m.text or "").startswith(SLOTS)]


def link_buttons(message: Message) -> list[InlineKeyboardButton]:
    assert message.reply_markup is not None
    return [b for row in message.reply_markup.inline_keyboard for b in row if b.url]


def film_id(message: Message) -> int:
    """The card's film, from its Letterboxd link."""
    [letterboxd] = [b for b in link_buttons(message) if b.text == "Letterboxd"]
    assert letterboxd.url is not None
    return int(letterboxd.url.rstrip("/").rsplit("/", 1)[1])


async def test_recommend_sends_three_poster_cards_with_people_synopsis_and_links(
    online: BotHarness, tmdb_server: FakeTMDBServer
) -> None:
    chat = online.chat(3101)
    await recommended(chat)

    cards = card_messages(chat)
    assert len(cards) == 3 and all(card.photo for card in cards)
    photos = {photo.message.message_id: photo for photo in chat.session.photos}
    urls = [call.photo for call in chat.session.calls if isinstance(call, SendPhoto)]
    async with httpx.AsyncClient() as http:
        for card, url in zip(cards, urls, strict=True):
            tmdb_id = film_id(card)
            film = tmdb_server.catalog.films[tmdb_id]
            assert url == f"{tmdb_server.image_base_url}/w500/poster-{tmdb_id}.png"
            assert photos[card.message_id].file_name == f"poster-{tmdb_id}.png"
            image = await http.get(url)  # the fake serves the poster itself
            assert image.status_code == 200 and image_size(image.content) is not None
            text = chat.session.sent_captions(3101, plain=True)[cards.index(card)]
            assert visible_length(card.caption or "") <= MAX_CAPTION
            lines = text.split("\n")
            assert lines[1].startswith(f"{film.title} ({film.year})")
            assert f"Director: {fake_person(tmdb_id, 0)}" in text
            assert f"Starring: {fake_person(tmdb_id, 1)}, {fake_person(tmdb_id, 2)}" in text
            assert fake_person(tmdb_id, 4) not in text  # three actors at most
            assert film.overview.split()[0] in text and "/10 on TMDB" in lines[-1]
            reason_line = lines[-2]
            assert reason_line and reason_line not in film.overview
            links = {b.text: b.url for b in link_buttons(card)}
            assert links["Letterboxd"] == f"https://letterboxd.com/tmdb/{tmdb_id}/"
            assert links["TMDB"] == f"https://www.themoviedb.org/movie/{tmdb_id}"
            assert links["IMDb"] == f"https://www.imdb.com/title/tt9{tmdb_id:07d}/"
            if tmdb_id % 5:  # the fake's films with videos
                assert links["▶️ Trailer"] == f"https://www.youtube.com/watch?v=trailer-{tmdb_id}"
            else:
                assert "▶️ Trailer" not in links


async def test_buttons_on_a_photo_card_edit_its_keyboard_and_undo_restores_it(online: BotHarness) -> None:
    chat = online.chat(3102)
    await recommended(chat)
    safe, adjacent, wildcard = card_messages(chat)
    keyboard = safe.reply_markup

    assert await chat.tap("Skip", message=safe) == ["⏭ Skipped. It won't come back for a while."]
    assert [b.text for row in current(chat, safe).reply_markup.inline_keyboard for b in row] == ["↩️ Undo"]  # type: ignore[union-attr]
    assert current(chat, safe).photo and current(chat, safe).caption == safe.caption  # still the poster card
    await chat.tap("Undo", message=current(chat, safe))
    assert current(chat, safe).reply_markup == keyboard  # ✅ ⏭ 🚫, 🔖 and the links again

    assert await chat.tap("🔖 Save", message=adjacent) == ["🔖 Saved to your watchlist."]
    labels = [b.text for b in link_buttons(current(chat, adjacent))]
    assert labels[:2] == ["Letterboxd", "TMDB"]  # the links stay
    assert any(
        b.text == "🔖 Saved" for row in current(chat, adjacent).reply_markup.inline_keyboard for b in row
    )  # type: ignore[union-attr]

    out = await chat.tap("Not interested", message=wildcard)
    assert out == ["🚫 Got it: I won't suggest it again."]
    out = await chat.tap("Watched", message=safe)
    assert out[0] == "✅ Marked as watched." and "How many stars" in out[-1]


async def test_a_film_without_a_poster_gets_a_text_card_with_people_and_links(
    online: BotHarness, tmdb_server: FakeTMDBServer
) -> None:
    tmdb_server.posterless.update(tmdb_server.catalog.films)  # no film has a poster
    chat = online.chat(3103)
    await recommended(chat)
    cards = card_messages(chat)
    assert len(cards) == 3 and chat.session.photos == []
    for card in cards:
        tmdb_id = film_id(card)
        assert f"Director: {fake_person(tmdb_id, 0)}" in (card.text or "")
        assert [b.text for b in link_buttons(card)][:3] == ["Letterboxd", "TMDB", "IMDb"]
    await chat.tap("Skip", message=cards[0])  # edits work on text cards too
    await chat.tap("Undo", message=current(chat, cards[0]))
    assert current(chat, cards[0]).reply_markup == cards[0].reply_markup


async def test_offline_cards_are_text_with_letterboxd_and_tmdb_links(harness: BotHarness) -> None:
    chat = harness.chat(3104)
    await recommended(chat)
    cards = card_messages(chat)
    assert len(cards) == 3 and chat.session.photos == []
    for card in cards:
        assert "Director" not in (card.text or "")  # the demo catalog has no credits: as before
        tmdb_id = film_id(card)
        assert {b.text: b.url for b in link_buttons(card)} == {
            "Letterboxd": f"https://letterboxd.com/tmdb/{tmdb_id}/",
            "TMDB": f"https://www.themoviedb.org/movie/{tmdb_id}",
        }


# --- the caption --------------------------------------------------------------------------------


@pytest.fixture
def english() -> Iterator[None]:
    """Texts outside an update need an i18n context (English: the source texts)."""
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        yield


def pick(**film: object) -> ShownPick:
    info = FilmInfo(**{"tmdb_id": 1, "title": "Film", "year": 2001, **film})  # type: ignore[arg-type]
    return ShownPick(1, info, Slot.SAFE, (Reason(ReasonKind.POPULAR, ()),))


def test_caption_escapes_and_cuts_the_synopsis_at_a_word_boundary(english: None) -> None:
    overview = "word " * 100
    text = caption(
        pick(
            title="<Tom & Jerry>",
            overview=overview,
            directors=("A <b>",),
            cast_names=("X", "Y", "Z", "W"),
            vote_average=7.25,
            vote_count=10,
        )
    )
    assert "&lt;Tom &amp; Jerry&gt;" in text and "A &lt;b&gt;" in text and "<b>A" not in text
    synopsis = next(line for line in text.split("\n") if line.startswith("<i>"))
    assert synopsis.endswith("word…</i>") and len(synopsis) - len("<i></i>") <= 201
    assert "Starring: X, Y, Z" in text and "W" not in text.split("Starring: ")[1].split("\n")[0]
    assert "7.2/10 on TMDB" in text or "7.3/10 on TMDB" in text


def test_caption_fits_1024_characters_whatever_the_explanation(english: None) -> None:
    long_words = "Alien " * 400
    text = caption(pick(overview="A crew meets a creature. " * 30, directors=("Ridley Scott",)), long_words)
    assert visible_length(text) <= MAX_CAPTION
    assert "Ridley Scott" in text and text.count("Alien") > 50  # the explanation cut, not dropped
    short = caption(pick(overview="Short."), "Because you loved Alien.")
    assert "<i>Short.</i>" in short and short.endswith("Because you loved Alien.")


def test_shorten_cuts_at_a_word_boundary() -> None:
    assert shorten("one two three", 20) == "one two three"
    assert shorten("one two three", 9) == "one two…"
    assert shorten("abcdefghijkl", 5) == "abcde…"
