"""The Letterboxd import in the chat, through the dispatcher (Telegram faked at the Bot API) and
the real job queue: the file is answered at once, the job imports it and edits the message."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator

import procrastinate
import pytest
from aiogram.methods import EditMessageText
from sqlalchemy import func, select

import bot.flows.imports as import_flow
from bot import jobs
from bot.flows.imports import ImportNotifier
from bot.i18n import make_i18n
from db.models import Import, UserFilm
from domain.import_types import ImportOutcome, ImportProgress, ImportReport
from integrations.embeddings import LocalEmbedder
from tests.bot.conftest import BotHarness, Chat
from tests.conftest import LETTERBOXD_DEMO_ZIP, execute_sql

RATINGS = "Date,Name,Year,Letterboxd URI,Rating"


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
async def importing(
    harness: BotHarness, job_app: procrastinate.App, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BotHarness]:
    """The harness with the job queue, and progress edits not spaced out (tests are quick)."""
    monkeypatch.setattr(import_flow, "MIN_EDIT_INTERVAL", 0.0)
    harness.overrides["job_app"] = job_app
    yield harness


async def send_file(chat: Chat, name: str, data: bytes | None, *, file_size: int | None = None) -> list[str]:
    before = len(chat.session.sent_texts(chat.user.telegram_id))
    update = chat.updates.document(chat.user, name, data=data, file_size=file_size)
    await chat.dp.feed_update(chat.bot, update, **chat.overrides)
    return chat.session.sent_texts(chat.user.telegram_id, plain=True)[before:]


async def run_jobs(harness: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder) -> None:
    await jobs.drain(job_app, harness.session_factory, embedder, bot=harness.bot)


async def films_of(harness: BotHarness, telegram_id: int) -> int:
    async with harness.session_factory() as session:
        stmt = select(func.count()).select_from(UserFilm).join(Import, Import.user_id == UserFilm.user_id)
        stmt = stmt.where(Import.chat_id == telegram_id)
        return int(await session.scalar(stmt) or 0)


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


async def test_import_command_explains_how_to_export(harness: BotHarness) -> None:
    [reply] = await harness.chat(4001).say("/import")
    assert "Settings → Import & Export → Export your data" in reply


async def test_a_sent_export_is_imported_in_the_background_and_reported(
    importing: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> None:
    chat = importing.chat(4002)
    [ack] = await send_file(chat, "letterboxd-ann-2026-11-21-utc.zip", LETTERBOXD_DEMO_ZIP.read_bytes())
    assert "17 films" in ack and "Matching" in ack
    assert await films_of(importing, 4002) == 0, "the handler only queues the import"
    progress = chat.session.last_message(4002)
    assert progress is not None

    await run_jobs(importing, job_app, embedder)

    report = chat.session.messages[(4002, progress.message_id)]  # the same message, edited
    text = report.text or ""
    assert "Import finished" in text
    assert "matched with TMDB: 15; not matched: 2" in text
    assert "12 ratings, 14 watched" in text and "4 reviews, 5 likes, 1 on the watchlist" in text
    assert "1 row couldn't be read" in text and "ratings.csv, row 5: rating '7' isn't 0.5–5 stars" in text
    assert await films_of(importing, 4002) == 15
    edits = [
        c
        for c in chat.session.calls
        if isinstance(c, EditMessageText) and c.message_id == progress.message_id
    ]
    assert edits, "progress and report edit the first message"

    await chat.tap("📄")
    [document] = chat.session.documents
    assert document.file_name == "letterboxd-ann-2026-11-21-utc-unmatched.csv"
    assert document.data is not None and b"Untitled Heist Project" in document.data

    picks = await chat.say("/recommend")
    assert any("🎯" in text for text in picks), "the imported history is used at once"


@pytest.mark.parametrize(
    ("name", "data", "file_size", "answer"),
    [
        ("ratings.csv", b"", None, "That file is empty"),
        ("export.zip", b"PK\x03\x04 not a zip at all", None, "isn't a zip file"),
        ("letterboxd.zip", None, 25 * 1024 * 1024, "too big"),
        ("films.csv", b"title;score\nAlien;5\n", None, "doesn't have Letterboxd's columns"),
        ("other.zip", zipped({"notes.txt": b"hello"}), None, "I found no Letterboxd files in it"),
    ],
)
async def test_files_that_cannot_be_imported_are_refused_with_the_reason(
    importing: BotHarness, name: str, data: bytes | None, file_size: int | None, answer: str
) -> None:
    chat = importing.chat(4003)
    [reply] = await send_file(chat, name, data, file_size=file_size)
    assert answer in reply and "Export your data" in reply
    async with importing.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Import)) == 0


async def test_a_zip_bomb_is_refused_before_it_is_unpacked(importing: BotHarness) -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("ratings.csv", "w", force_zip64=True) as member,
    ):
        member.write(RATINGS.encode() + b"\n")
        for _ in range(300):
            member.write(bytes(1024 * 1024))
    assert len(buffer.getvalue()) < 2 * 1024 * 1024
    [reply] = await send_file(importing.chat(4004), "letterboxd.zip", buffer.getvalue())
    assert "unpacks to far more than any Letterboxd export" in reply


async def test_readable_rows_are_imported_and_the_others_listed_with_reasons(
    importing: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> None:
    """A spreadsheet re-save: Windows-1252, US dates, a 7 and an "abc" rating."""
    rows = [
        RATINGS,
        "6/30/2022,Amélie,2001,u,4.5",
        "2022-07-01,Alien,1979,u,7",
        "2022-07-02,Heat,1995,u,abc",
        "7/3/2022,Pan’s Labyrinth,2006,u,5",
        "2022-07-04,Inception,2010,u,4",
    ]
    data = ("\r\n".join(rows) + "\r\n").encode("cp1252")
    chat = importing.chat(4005)
    [ack] = await send_file(chat, "ratings.csv", data)
    assert "3 films" in ack
    await run_jobs(importing, job_app, embedder)
    report = chat.session.sent_texts(4005, plain=True)[-1]
    assert "Films in the file: 3" in report
    assert "2 rows couldn't be read" in report
    assert "ratings.csv, row 2: rating '7' isn't 0.5–5 stars in half steps" in report
    assert "ratings.csv, row 3: rating 'abc' isn't 0.5–5 stars in half steps" in report
    assert "not UTF-8 text" in report
    async with importing.session_factory() as session:
        titles = await session.scalars(
            select(UserFilm.tmdb_id)
            .join(Import, Import.user_id == UserFilm.user_id)
            .where(Import.chat_id == 4005)
        )
        assert set(titles) == {194, 1417, 27205}  # Amélie, Pan’s Labyrinth, Inception: accents survived


async def test_cancel_stops_a_queued_import(
    importing: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> None:
    chat = importing.chat(4006)
    await send_file(chat, "export.zip", LETTERBOXD_DEMO_ZIP.read_bytes())
    [reply] = await chat.say("/cancel")
    assert "Import cancelled" in reply
    await run_jobs(importing, job_app, embedder)
    assert await films_of(importing, 4006) == 0
    [again] = await chat.say("/cancel")
    assert "Nothing to cancel" in again or "nothing to cancel" in again.lower()


async def test_one_import_at_a_time(importing: BotHarness) -> None:
    chat = importing.chat(4007)
    await send_file(chat, "export.zip", LETTERBOXD_DEMO_ZIP.read_bytes())
    [reply] = await send_file(chat, "export.zip", LETTERBOXD_DEMO_ZIP.read_bytes())
    assert "previous import is still running" in reply


async def test_an_export_is_taken_in_the_middle_of_another_step(importing: BotHarness) -> None:
    chat = importing.chat(4008)
    await chat.say("/review")
    [reply] = await send_file(chat, "export.zip", LETTERBOXD_DEMO_ZIP.read_bytes())
    assert "17 films" in reply


async def test_the_unmatched_list_is_only_for_its_owner(
    importing: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> None:
    ann, bob = importing.chat(4009), importing.chat(4010)
    await send_file(ann, "export.zip", LETTERBOXD_DEMO_ZIP.read_bytes())
    await run_jobs(importing, job_app, embedder)
    report = ann.session.last_keyboard_message(4009)
    assert report is not None and report.reply_markup is not None
    data = report.reply_markup.inline_keyboard[0][0].callback_data or ""
    [refused] = await bob.tap_data(data, message=report)
    assert "no longer valid" in refused
    [forged] = await ann.tap_data("imp:999999", message=report)
    assert "no longer valid" in forged
    assert not ann.session.documents


async def test_progress_edits_are_at_least_two_seconds_apart(harness: BotHarness) -> None:
    """The notifier's throttle, on a fake clock: Telegram limits edits of one message."""
    now = [0.0]
    message = await harness.bot.send_message(4011, "📥 Got it")
    notifier = ImportNotifier(
        harness.bot,
        make_i18n(),
        chat_id=4011,
        message_id=message.message_id,
        locale="en",
        import_id=1,
        clock=lambda: now[0],
    )
    shown: list[float] = []
    for t in (0.5, 1.0, 1.9, 2.0, 2.5, 3.9, 4.1, 4.2, 9.0):
        now[0] = t
        before = notifier.edits
        await notifier.progress(
            ImportProgress(done=int(t * 10), total=100, matched=int(t * 10), history_done=False)
        )
        if notifier.edits > before:
            shown.append(t)
    assert shown == [2.0, 4.1, 9.0]
    assert "Matched 90 of 90 / 100 films" in (harness.bot.session.last_message(4011).text or "")  # type: ignore[attr-defined]


async def test_an_import_whose_worker_died_is_resumed(
    importing: BotHarness,
    job_app: procrastinate.App,
    embedder: LocalEmbedder,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process died after storing the first chunk: the job is left 'doing' with no live
    worker. recover_stalled re-queues it and the rerun completes without duplicates."""
    import domain.imports as imports_module

    monkeypatch.setattr(imports_module, "CHUNK", 5)
    chat = importing.chat(4012)
    await send_file(chat, "export.zip", LETTERBOXD_DEMO_ZIP.read_bytes())

    original = imports_module.ImportService.store_export

    class ProcessKilled(BaseException):  # not an Exception: nothing catches it, like a SIGKILL
        pass

    async def dies_after_one_chunk(self, user_id, export, *, on_progress=None, cancelled=None):  # type: ignore[no-untyped-def]
        async def progress(p: ImportProgress) -> None:
            raise ProcessKilled

        return await original(self, user_id, export, on_progress=progress, cancelled=cancelled)

    monkeypatch.setattr(imports_module.ImportService, "store_export", dies_after_one_chunk)
    await run_jobs(importing, job_app, embedder)  # procrastinate logs the job as errored
    monkeypatch.setattr(imports_module.ImportService, "store_export", original)
    partial = await films_of(importing, 4012)
    assert 0 < partial < 15
    # what a dead worker leaves behind: the job 'doing', its worker gone
    await execute_sql(database_url, "UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL")

    assert await jobs.retry_stalled(job_app) == 1
    await run_jobs(importing, job_app, embedder)
    assert await films_of(importing, 4012) == 15
    assert "Import finished" in chat.session.sent_texts(4012, plain=True)[-1]


async def test_the_import_speaks_the_senders_language(
    importing: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> None:
    """The job runs outside any update: it reports in the language stored with the import."""
    chat = importing.chat(4013, language_code="ru")
    [ack] = await send_file(chat, "export.zip", LETTERBOXD_DEMO_ZIP.read_bytes())
    assert "Получил export.zip: 17 фильмов" in ack
    await run_jobs(importing, job_app, embedder)
    report = chat.session.sent_texts(4013, plain=True)[-1]
    assert "Импорт завершён" in report and "Import finished" not in report
    keyboard = chat.session.last_markup(4013)
    assert keyboard is not None and "CSV" in keyboard.inline_keyboard[0][0].text


async def test_the_report_says_how_many_films_tmdb_could_not_check(harness: BotHarness) -> None:
    """Films TMDB kept failing on are neither matched nor unmatched: the report counts them and
    says that sending the file again finishes them; there is no unmatched CSV for them."""
    message = await harness.bot.send_message(4014, "📥 Got it")
    notifier = ImportNotifier(
        harness.bot, make_i18n(), chat_id=4014, message_id=message.message_id, locale="en", import_id=1
    )
    notifier.min_interval = 0.0
    report = ImportReport(films=10, matched=7, unmatched=0, unchecked=3, ratings=7, watched=7)
    await notifier.finish(ImportOutcome(1, "done", report))
    text = harness.bot.session.last_message(4014).text or ""  # type: ignore[attr-defined]
    assert "Import finished" in text
    assert "3 films couldn't be checked with TMDB right now" in text
    assert "Send me the same file again later to finish them" in text
    assert harness.bot.session.last_markup(4014) is None  # type: ignore[attr-defined]
