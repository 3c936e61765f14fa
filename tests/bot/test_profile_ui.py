"""/profile, /export and /forget through the real dispatcher, Telegram faked by LocalSession."""

from __future__ import annotations

import csv
import io
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot import charts
from bot.charts import GenreBar, ProfileChart, render_profile_chart
from bot.console.rules import image_size
from bot.keyboards import ForgetAnswer, ForgetConfirm
from db.models import AvoidTopic, Base, Review, User, UserFilm
from db.repositories.library import LibraryRepository
from db.repositories.users import UserRepository
from domain.entities import Source
from tests.bot.conftest import BotHarness, Chat

JPEG = b"\xff\xd8\xff"
#: Demo-catalog films: (tmdb id, rating). Science fiction high, comedy/romance low.
RATINGS = [
    (348, "4.5"),  # Alien: Horror, Science Fiction
    (679, "4"),  # Aliens: Action, Thriller, Science Fiction
    (78, "5"),  # Blade Runner: Science Fiction, Drama, Thriller
    (329865, "4.5"),  # Arrival: Drama, Science Fiction, Mystery
    (194, "2"),  # Amélie: Comedy, Romance
    (239, "1.5"),  # Some Like It Hot: Comedy, Romance
    (137, "2.5"),  # Groundhog Day: Romance, Fantasy, Drama, Comedy
    (129, "3.5"),  # Spirited Away: Animation, Family, Fantasy (JP)
]


async def rate_films(harness: BotHarness, telegram_id: int, ratings: list[tuple[int, str]] = RATINGS) -> int:
    async with harness.session_factory() as session:
        user = await UserRepository(session).upsert(telegram_id, first_name="Ann", language_code="en")
        library = LibraryRepository(session)
        for tmdb_id, rating in ratings:
            await library.rate(user.id, tmdb_id, Decimal(rating), source=Source.BOT)
        await session.commit()
        return user.id


async def count_rows(harness: BotHarness, user_id: int) -> int:
    """Rows of every table with a user_id column that belong to `user_id`."""
    total = 0
    async with harness.session_factory() as session:
        for table in Base.metadata.sorted_tables:
            if "user_id" in table.c:
                stmt = select(func.count()).select_from(table).where(table.c.user_id == user_id)
                total += int(await session.scalar(stmt) or 0)
    return total


# --- /profile -----------------------------------------------------------------------------------


async def test_profile_without_ratings_is_a_friendly_text_and_no_picture(harness: BotHarness) -> None:
    chat = harness.chat(7001)
    [reply] = await chat.say("/profile")
    assert "haven't rated any films yet" in reply and "/review" in reply
    assert chat.session.photos == []


async def test_profile_sends_the_taste_summary_and_a_picture(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await rate_films(harness, 7002)
    chat = harness.chat(7002)
    await chat.say("/avoid gore")
    threads: list[int] = []

    def render(chart: ProfileChart) -> bytes:
        threads.append(threading.get_ident())
        return render_profile_chart(chart)

    monkeypatch.setattr(charts, "render_profile_chart", render)
    [text] = await chat.say("/profile")

    assert "8 films rated" in text and "average 3.4★" in text and "0 reviews" in text
    assert "Favourite genres: Science Fiction (4.5★)" in text
    assert "Least favourite genres: Comedy (2.0★), Romance (2.0★), Fantasy (3.0★)" in text
    assert "Favourite decades: 1980s (4.5★)" in text and "Favourite countries: United Kingdom" in text
    assert "Avoid topics: gore." in text
    [photo] = chat.session.photos
    assert photo.chat_id == 7002 and photo.data is not None and photo.data.startswith(JPEG)
    assert (photo.width, photo.height) == (1080, 1350)
    assert photo.caption and "half stars" in photo.caption
    assert threads and threads[0] != threading.get_ident()  # drawn in a worker thread, off the loop


def test_chart_renders_a_jpeg_and_refuses_an_empty_distribution() -> None:
    genres = [GenreBar(f"Genre {i}", 5 - i * 0.4, f"{5 - i * 0.4:.1f}★ · {i + 2} films") for i in range(8)]
    distribution = (1, 2, 3, 5, 8, 13, 21, 13, 8, 5)
    chart = ProfileChart(
        "Your taste in films", "80 films rated", "Your ratings", "Stars", "Films", distribution,
        "Your main genres by average rating", genres, 3.6, "your average",
    )  # fmt: skip
    jpeg = render_profile_chart(chart)  # its speed is a bench matter, not a test's (README: Measured)
    assert jpeg.startswith(JPEG) and image_size(jpeg) == (1080, 1350)
    with pytest.raises(ValueError, match="no ratings"):
        render_profile_chart(ProfileChart("t", "s", "r", "x", "y", (0,) * 10, "g", [], 0.0, "avg"))


# --- /export -----------------------------------------------------------------------------------


async def test_export_sends_one_csv_of_the_users_own_data(harness: BotHarness) -> None:
    await rate_films(harness, 7011)
    await rate_films(harness, 7012, [(603, "5")])  # someone else: The Matrix
    chat = harness.chat(7011)
    await chat.say("/avoid slow romance")
    await chat.say("/recommend")  # three picks shown
    await chat.tap("Skip")
    assert await chat.say("/export") == []  # a document, no text message
    [document] = chat.session.documents
    assert document.chat_id == 7011 and document.file_name.startswith("whattowatch-7011-")
    assert document.file_name.endswith(".csv") and document.data is not None
    assert document.caption and "rating, review, watch, recommendation, feedback" in document.caption
    rows = list(csv.DictReader(io.StringIO(document.data.decode("utf-8-sig"))))
    kinds = {r["kind"] for r in rows}
    assert {"rating", "recommendation", "feedback", "avoid_topic"} <= kinds
    assert len([r for r in rows if r["kind"] == "rating"]) == len(RATINGS)
    assert len([r for r in rows if r["kind"] == "recommendation"]) == 3
    assert [r["status"] for r in rows if r["kind"] == "feedback"] == ["skipped"]
    assert "603" not in {r["tmdb_id"] for r in rows}  # not the other user's film


async def test_export_of_nothing_is_a_text(harness: BotHarness) -> None:
    chat = harness.chat(7013)
    [reply] = await chat.say("/export")
    assert "nothing to export" in reply and chat.session.documents == []


# --- /forget -----------------------------------------------------------------------------------


async def _forget_question(chat: Chat) -> None:
    [question] = await chat.say("/forget")
    assert "cannot be undone" in question


async def test_forget_keep_deletes_nothing_and_yes_deletes_everything(harness: BotHarness) -> None:
    user_id = await rate_films(harness, 7021)
    chat = harness.chat(7021)
    await chat.say("/avoid gore")
    await chat.say("/review Alien 1979")
    await chat.say("4.5 still the best")
    before = await count_rows(harness, user_id)
    assert before >= len(RATINGS) + 2

    await _forget_question(chat)
    assert await chat.tap("Keep my data") == ["", "Nothing was deleted."]
    assert await count_rows(harness, user_id) == before

    await _forget_question(chat)
    replies = await chat.tap("Yes, delete everything")
    assert any("deleted everything" in r for r in replies)
    assert await count_rows(harness, user_id) == 0
    async with harness.session_factory() as session:
        assert await session.get(User, user_id) is None
    # the next message starts fresh: a new user without a taste
    [welcome] = await chat.say("/start")
    assert "I don't know your taste yet" in welcome
    async with harness.session_factory() as session:
        user = await UserRepository(session).by_telegram_id(7021)
        assert user is not None and user.id != user_id
        assert (
            await session.scalar(
                select(func.count()).select_from(UserFilm).where(UserFilm.user_id == user.id)
            )
            == 0
        )


async def test_forged_stale_or_someone_elses_confirmation_deletes_nothing(harness: BotHarness) -> None:
    ann_id = await rate_films(harness, 7031)
    bob_id = await rate_films(harness, 7032)
    ann, bob = harness.chat(7031), harness.chat(7032)
    ann_rows, bob_rows = await count_rows(harness, ann_id), await count_rows(harness, bob_id)

    await _forget_question(ann)
    question = ann.session.last_keyboard_message(7031)
    assert question is not None and question.reply_markup is not None
    yes_data = question.reply_markup.inline_keyboard[0][0].callback_data
    assert yes_data is not None and yes_data.startswith("forget:y:")

    forged = ForgetConfirm(answer=ForgetAnswer.YES, nonce="0" * 16).pack()
    assert await ann.tap_data(forged, message=question) == ["This button is no longer valid."]
    # Bob taps Ann's real button (a shared group, or a copied payload): Bob has no question open
    assert await bob.tap_data(yes_data, message=question) == ["This button is no longer valid."]
    await bob.say("/forget")  # Bob's own question has its own nonce: Ann's button is not his
    assert await bob.tap_data(yes_data, message=question) == ["This button is no longer valid."]
    assert await count_rows(harness, ann_id) == ann_rows and await count_rows(harness, bob_id) == bob_rows

    await ann.say("/help")  # a command leaves the question: its buttons are stale now
    assert await ann.tap_data(yes_data, message=question) == ["This button is no longer valid."]
    assert await count_rows(harness, ann_id) == ann_rows
    async with harness.session_factory() as session:
        topics = await session.scalar(select(func.count()).select_from(AvoidTopic))
        reviews = await session.scalar(select(func.count()).select_from(Review))
    assert topics == 0 and reviews == 0
