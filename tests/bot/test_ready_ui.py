"""Ready at once (issue 11), in the chat: the import job computes the taste vector before its
report, and the report's last line says truthfully whether /recommend already uses the
history. The export goes through the dispatcher, the job through the real queue; only the
`imports` queue is run, so nothing but the import job can have made the taste vector."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import procrastinate
import pytest
from sqlalchemy import select

import bot.flows.imports as import_flow
from bot import jobs
from db.models import Import, TasteVector
from domain.embeddings import EmbeddingService
from domain.import_types import HistoryUse, ImportReport
from integrations.embeddings import LocalEmbedder
from tests.bot.conftest import BotHarness, Chat
from tests.conftest import LETTERBOXD_DEMO_ZIP

READY = "Your recommendations already use this history: try /recommend."
PENDING = "I'm still reading these films; your recommendations will use them within a few minutes."


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
async def importing(
    harness: BotHarness, job_app: procrastinate.App, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BotHarness]:
    monkeypatch.setattr(import_flow, "MIN_EDIT_INTERVAL", 0.0)
    harness.overrides["job_app"] = job_app
    yield harness


async def _embed_catalog(harness: BotHarness, embedder: LocalEmbedder) -> None:
    async with harness.session_factory() as session:
        svc = EmbeddingService(session, embedder)
        await svc.embed_films(await svc.films_to_embed())
        await session.commit()


async def _import(
    chat: Chat, harness: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> str:
    """Send the demo export, run only the import job; the report's text."""
    update = chat.updates.document(chat.user, "export.zip", data=LETTERBOXD_DEMO_ZIP.read_bytes())
    await chat.dp.feed_update(chat.bot, update, **chat.overrides)
    await jobs.drain(job_app, harness.session_factory, embedder, bot=harness.bot, queues=[jobs.IMPORT_QUEUE])
    return chat.session.sent_texts(chat.user.telegram_id, plain=True)[-1]


async def _taste(harness: BotHarness, telegram_id: int) -> TasteVector | None:
    async with harness.session_factory() as session:
        user_id = await session.scalar(select(Import.user_id).where(Import.chat_id == telegram_id))
        return await session.scalar(select(TasteVector).where(TasteVector.user_id == user_id))


async def test_the_import_job_computes_the_taste_before_it_reports_ready(
    importing: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> None:
    await _embed_catalog(importing, embedder)
    chat = importing.chat(4101)
    report = await _import(chat, importing, job_app, embedder)

    assert "Import finished" in report and READY in report and PENDING not in report
    taste = await _taste(importing, 4101)
    # 15 matched, 1 of them only on the watchlist: a weak signal, in the taste too
    assert taste is not None and taste.n_films == 15
    # the job did it: no taste job is left waiting for this user, and /recommend is personal
    assert list(await job_app.job_manager.list_jobs_async(task=jobs.REFRESH_TASTE)) == []
    picks = await chat.say("/recommend")
    assert any("🎯" in text for text in picks)
    assert not any("I don't know your taste yet" in text for text in picks)


async def test_the_report_says_still_reading_while_films_lack_vectors_and_that_comes_true(
    importing: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> None:
    chat = importing.chat(4102)  # the catalog has no film vector yet
    report = await _import(chat, importing, job_app, embedder)

    assert PENDING in report and READY not in report
    assert await _taste(importing, 4102) is None
    # the user's films were queued ahead of the bulk backlog…
    [films_job] = await job_app.job_manager.list_jobs_async(task=jobs.EMBED_FILMS)
    assert films_job.priority == jobs.PRIORITY_USER_FILMS and len(films_job.task_kwargs["tmdb_ids"]) == 15

    # …and once a worker has run them, the taste vector includes every film
    await jobs.drain(job_app, importing.session_factory, embedder, queues=[jobs.BULK_QUEUE])
    await jobs.drain(job_app, importing.session_factory, embedder, queues=[jobs.USER_QUEUE])
    taste = await _taste(importing, 4102)
    assert taste is not None and taste.n_films == 15


async def test_the_pending_line_speaks_the_users_language(
    importing: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> None:
    chat = importing.chat(4103, language_code="es")
    report = await _import(chat, importing, job_app, embedder)
    assert "Todavía estoy leyendo estas películas" in report and PENDING not in report


async def test_an_import_queues_one_delayed_cf_rebuild(
    importing: BotHarness, job_app: procrastinate.App, embedder: LocalEmbedder
) -> None:
    before = dt.datetime.now(dt.UTC)
    for telegram_id in (4104, 4105):  # two imports end within the delay: one rebuild
        await _import(importing.chat(telegram_id), importing, job_app, embedder)
    [rebuild] = await job_app.job_manager.list_jobs_async(task=jobs.REBUILD_CF)
    assert str(rebuild.status) == "todo" and rebuild.scheduled_at is not None
    assert rebuild.scheduled_at >= before + dt.timedelta(seconds=jobs.CF_REBUILD_DELAY_S - 1)


def test_no_line_about_recommendations_when_nothing_is_known_or_nothing_was_imported(
    harness: BotHarness,
) -> None:
    from bot.i18n import make_i18n
    from bot.texts import import_report

    report = ImportReport(films=3, matched=0, unmatched=3)
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("en"):
        for history in (None, HistoryUse.EMPTY):
            text = import_report(report, history=history)
            assert READY not in text and PENDING not in text
        assert READY in import_report(report, history=HistoryUse.READY)
        assert PENDING in import_report(report, history=HistoryUse.PENDING)
