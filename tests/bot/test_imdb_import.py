"""IMDb in, Letterboxd out, through the dispatcher: an IMDb ratings export sent in the chat is
imported by the job (with the fake TMDB by IMDb id, without it by title and year) and reported
like a Letterboxd one; a broken IMDb file is refused kindly; `/export letterboxd` sends the
films and the bot's reviews in Letterboxd's import format, and plain /export is unchanged."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from decimal import Decimal

import procrastinate
import pytest
from aiogram import Dispatcher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.flows.imports as import_flow
from bot import jobs
from bot.app import DEMO_CATALOG
from db.models import Import, User, UserFilm
from domain.letterboxd import html_to_text
from integrations.embeddings import LocalEmbedder
from integrations.tmdb import TMDBClient
from tests.bot.conftest import BotHarness, Chat, make_harness
from tests.domain.test_imdb import IMDB_EXPORT, IMDB_TO_TMDB
from tests.fakes.tmdb_server import FakeTMDBServer


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def quick_edits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_flow, "MIN_EDIT_INTERVAL", 0.0)


@pytest.fixture
async def tmdb_server() -> AsyncIterator[FakeTMDBServer]:
    async with FakeTMDBServer(DEMO_CATALOG, imdb_ids=IMDB_TO_TMDB) as server:
        yield server


@pytest.fixture
async def tmdb_client(tmdb_server: FakeTMDBServer) -> AsyncIterator[TMDBClient]:
    async with TMDBClient(
        base_url=tmdb_server.base_url, api_key="k", max_attempts=2, backoff_multiplier=0.001
    ) as client:
        yield client


@pytest.fixture
async def online(
    tmdb_client: TMDBClient, dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotHarness]:
    """The bot with TMDB and an EMPTY catalog: every film must come through TMDB."""
    async for harness in make_harness(dispatcher, session_factory, tmdb_client, load_demo=False):
        yield harness


async def send_file(chat: Chat, name: str, data: bytes) -> list[str]:
    before = len(chat.session.sent_texts(chat.user.telegram_id))
    await chat.dp.feed_update(chat.bot, chat.updates.document(chat.user, name, data=data), **chat.overrides)
    return chat.session.sent_texts(chat.user.telegram_id, plain=True)[before:]


async def ratings_of(harness: BotHarness, telegram_id: int) -> dict[int, tuple[Decimal | None, str]]:
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(UserFilm.tmdb_id, UserFilm.rating, UserFilm.source)
            .join(User, User.id == UserFilm.user_id)
            .where(User.telegram_id == telegram_id)
        )
        return {tmdb_id: (rating, source) for tmdb_id, rating, source in rows}


# --- IMDb import -----------------------------------------------------------------------------


async def test_an_imdb_export_is_imported_by_title_and_year_without_tmdb(
    harness: BotHarness,
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    quick_edits: None,
) -> None:
    harness.overrides["job_app"] = job_app
    chat = harness.chat(4101)
    [ack] = await send_file(chat, "ratings.csv", IMDB_EXPORT.read_bytes())
    assert "ratings.csv: 8 films" in ack
    assert await ratings_of(harness, 4101) == {}, "the handler only queues the import"
    progress = chat.session.last_message(4101)
    assert progress is not None

    await jobs.drain(job_app, harness.session_factory, embedder, bot=harness.bot)

    report = chat.session.messages[(4101, progress.message_id)].text or ""  # the same message, edited
    assert "Import finished" in report
    assert "Films in the file: 8; matched with TMDB: 6; not matched: 2" in report
    assert "Saved: 6 ratings (IMDb's 1–10 as ½–5 stars)." in report
    assert "diary entries" not in report, "an IMDb export has ratings only"
    assert "2 TV series, episodes or other titles that aren't films were left out" in report
    assert "couldn't be read" not in report
    stored = await ratings_of(harness, 4101)
    assert stored[348] == (Decimal("4.5"), "imdb")  # Alien, 9/10
    assert stored[1417] == (Decimal("0.5"), "imdb")  # Pan's Labyrinth, 1/10
    assert set(stored) == {348, 679, 603, 194, 1417, 238}

    await chat.tap("📄")
    [document] = chat.session.documents
    assert document.file_name == "ratings-unmatched.csv"
    assert document.data is not None
    assert b"Chihiros Reise ins Zauberland,2001,5,,Yes,,,,tt0245429" in document.data

    picks = await chat.say("/recommend")
    assert any(text.startswith("🎯") for text in picks), "the imported ratings are used at once"


async def test_with_tmdb_an_imdb_export_is_matched_exactly_by_imdb_id(
    online: BotHarness,
    tmdb_server: FakeTMDBServer,
    tmdb_client: TMDBClient,
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    quick_edits: None,
) -> None:
    online.overrides["job_app"] = job_app
    chat = online.chat(4102)
    await send_file(chat, "ratings.csv", IMDB_EXPORT.read_bytes())
    await jobs.drain(job_app, online.session_factory, embedder, bot=online.bot, movie_source=tmdb_client)
    report = chat.session.sent_texts(4102, plain=True)[-1]
    assert "Films in the file: 8; matched with TMDB: 7; not matched: 1" in report
    stored = await ratings_of(online, 4102)
    assert set(stored) == set(IMDB_TO_TMDB.values())
    assert stored[129] == (Decimal("5"), "imdb"), "“Chihiros Reise ins Zauberland” is found by its id"
    assert {path for path, _ in tmdb_server.requests if path.startswith("/3/find/")} == {
        f"/3/find/{imdb_id}" for imdb_id in [*IMDB_TO_TMDB, "tt0000001"]
    }, "one /find per film, none for the TV rows"


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        (
            b"Const,Title,Title Type,Date Rated\ntt0078748,Alien,movie,2020-01-01\n",
            "This looks like an IMDb export, but it has no Your Rating column.",
        ),
        (
            b"Const,Your Rating,Date Rated,Title,Title Type\ntt0903747,10,2020-01-01,Breaking Bad,tvSeries\n",
            "I found no rated films in this IMDb export",
        ),
    ],
)
async def test_an_imdb_file_that_cannot_be_imported_is_refused_kindly(
    harness: BotHarness, job_app: procrastinate.App, data: bytes, answer: str
) -> None:
    harness.overrides["job_app"] = job_app
    [reply] = await send_file(harness.chat(4103), "ratings.csv", data)
    assert answer in reply
    assert "On IMDb: Your ratings → Export" in reply and "Letterboxd" not in reply
    async with harness.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Import)) == 0


async def test_import_says_how_to_bring_imdb_ratings_too(harness: BotHarness) -> None:
    [reply] = await harness.chat(4104).say("/import")
    assert "Export your data" in reply and "From IMDb: open Your ratings → Export" in reply


# --- /export letterboxd ----------------------------------------------------------------------


async def test_export_letterboxd_sends_the_films_and_reviews_in_letterboxds_format(
    harness: BotHarness,
) -> None:
    chat = harness.chat(4105)
    await chat.say("/review Alien 1979")
    review = 'Tense, "perfect" & <scary>\nand a second line'
    [saved] = await chat.say(f"4.5 {review}")
    assert "Saved" in saved
    await chat.say("/review Heat 1995")
    await chat.say("3")  # a rating without a review

    await chat.say("/export letterboxd")  # (the command also ends the rating step: "Saved: Heat")
    [document] = chat.session.documents
    assert document.file_name.startswith("letterboxd-import-4105-") and document.file_name.endswith(".csv")
    caption = document.caption or ""
    assert "2 films for Letterboxd." in caption and "It has the review you wrote here." in caption
    assert document.data is not None and not document.data.startswith(b"\xef\xbb\xbf")
    reader = csv.DictReader(io.StringIO(document.data.decode("utf-8"), newline=""))
    assert reader.fieldnames == ["Title", "Year", "tmdbID", "Rating", "WatchedDate", "Review"]
    rows = {row["tmdbID"]: row for row in reader}
    assert set(rows) == {"348", "949"}
    assert (rows["348"]["Title"], rows["348"]["Year"], rows["348"]["Rating"]) == ("Alien", "1979", "4.5")
    assert html_to_text(rows["348"]["Review"]) == review
    assert rows["348"]["WatchedDate"] and rows["949"]["Rating"] == "3" and rows["949"]["Review"] == ""

    await chat.say("/export LETTERBOXD")
    assert chat.session.documents[-1].file_name == document.file_name, "the argument's case doesn't matter"
    await chat.say("/export")
    plain = chat.session.documents[-1]
    assert plain.file_name.startswith("whattowatch-4105-"), "plain /export is the full data export"
    assert plain.data is not None and plain.data.startswith(b"\xef\xbb\xbfkind,date,tmdb_id")


async def test_export_letterboxd_with_nothing_rated_says_so(harness: BotHarness) -> None:
    chat = harness.chat(4106)
    [reply] = await chat.say("/export letterboxd")
    assert "nothing to take to Letterboxd" in reply
    assert not chat.session.documents
