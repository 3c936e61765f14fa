"""Worker processes: the loops they run, and how tests and benchmarks start the same ones."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

import procrastinate
import structlog
from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.jobs.maintenance import STALL_CHECK_SECONDS, queue_cf_if_due, watch_stalled
from bot.jobs.tasks import (
    BULK_QUEUE,
    IMPORT_QUEUE,
    LEGACY_QUEUE,
    QUEUES,
    USER_QUEUE,
    WorkerRuntime,
    use_runtime,
)
from domain.ports import Embedder, LanguageModel, MovieSource

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WorkerLoop:
    """One procrastinate worker loop of a worker process: the queues it takes jobs from
    (highest priority first, then oldest, across those queues), how many jobs it runs at
    once (`concurrency`, ≥ 1; the tasks are async, so they share the event loop) and how
    often it looks for due jobs when no notification came (`poll_seconds`). New jobs wake it
    at once (LISTEN/NOTIFY), but re-queued ones (a stalled job, a retry after its backoff)
    notify nobody and wait for the next poll."""

    name: str
    queues: tuple[str, ...]
    concurrency: int = 1
    #: procrastinate's default (`worker.FETCH_JOB_POLLING_INTERVAL`).
    poll_seconds: float = 5.0


#: Imports and a user's own vectors and summary. Two jobs at once: a long import (minutes)
#: leaves room for the user jobs, and an import waits behind one short user job at most.
#: Polled every second, so a re-queued import resumes at once.
INTERACTIVE_LOOP = WorkerLoop("interactive", (IMPORT_QUEUE, USER_QUEUE), concurrency=2, poll_seconds=1.0)
#: Catalog embeddings, the sweep and the CF rebuild (and jobs left on the legacy queue).
BULK_LOOP = WorkerLoop("bulk", (BULK_QUEUE, LEGACY_QUEUE), concurrency=1)
#: Seconds before a worker loop that stopped on an error (database unreachable) starts again.
LOOP_RESTART_SECONDS = 5.0
#: What every worker process runs unless told otherwise: the in-process worker of
#: `python -m bot run` and `python -m bot worker`.
DEFAULT_LOOPS = (INTERACTIVE_LOOP, BULK_LOOP)


def worker_loops(
    *, concurrency: int | None = None, queues: Sequence[str] | None = None
) -> tuple[WorkerLoop, ...]:
    """The loops for `python -m bot worker [--concurrency N] [--queues Q ...]`.

    Without `queues`: DEFAULT_LOOPS, each running `concurrency` jobs at once when it is given.
    With `queues`: one loop on exactly those queues, `concurrency` (default 1) jobs at once.

    Raises:
        ValueError: an unknown queue name, or `concurrency` below 1.
    """
    if concurrency is not None and concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if queues is None:
        if concurrency is None:
            return DEFAULT_LOOPS
        return tuple(replace(loop, concurrency=concurrency) for loop in DEFAULT_LOOPS)
    chosen = tuple(dict.fromkeys(queues))
    unknown = [q for q in chosen if q not in QUEUES]
    if unknown or not chosen:
        given = ", ".join(unknown) or "(none given)"
        raise ValueError(f"unknown queue(s) {given}; known: {', '.join(QUEUES)}")
    interactive = bool(set(chosen) & {IMPORT_QUEUE, USER_QUEUE})
    poll = INTERACTIVE_LOOP.poll_seconds if interactive else BULK_LOOP.poll_seconds
    return (WorkerLoop("+".join(chosen), chosen, concurrency or 1, poll_seconds=poll),)


async def run_workers(
    app: procrastinate.App,
    session_factory: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    loops: Sequence[WorkerLoop] = DEFAULT_LOOPS,
    wait: bool = True,
    name: str = "worker",
    stall_check_seconds: float | None = STALL_CHECK_SECONDS,
    language_model: LanguageModel | None = None,
    bot: Bot | None = None,
    movie_source: MovieSource | None = None,
) -> None:
    """Run a worker process's loops on an opened `app` until cancelled: every `loops` entry
    as its own procrastinate worker (named "{name}:{loop name}"), plus `watch_stalled` every
    `stall_check_seconds` (None: no stall check). This is what production runs (the
    in-process worker, `python -m bot worker`); benchmarks call it to start the same workers.

    With `wait=True` the process first queues a CF rebuild when the model is missing or older
    than the newest finished import (`queue_cf_if_due`; a failed check is logged and the
    worker starts anyway). With `wait=False` every loop stops once its queues are empty
    (tests, benchmarks, CLI) and there is neither that check nor a stall check.

    `language_model` words taste summaries (None: the template); `bot` lets import jobs talk
    to the chat; `movie_source` is TMDB for matching imports (None: the catalog). One worker
    set per process: the tasks read it from a module global.
    """
    runtime = WorkerRuntime(
        session_factory, embedder, app, language_model=language_model, bot=bot, movie_source=movie_source
    )
    if wait:
        try:
            await queue_cf_if_due(app, session_factory)
        except Exception as exc:  # the database is away: the hourly rebuild catches up
            log.warning("cf_check_failed", error=repr(exc))
    with use_runtime(runtime):
        async with asyncio.TaskGroup() as group:
            for loop in loops:
                group.create_task(_run_loop(app, loop, wait=wait, name=name), name=f"job-worker-{loop.name}")
            if wait and stall_check_seconds is not None:
                group.create_task(watch_stalled(app, every=stall_check_seconds), name="stall-watch")


async def _run_loop(app: procrastinate.App, loop: WorkerLoop, *, wait: bool, name: str) -> None:
    """One procrastinate worker for `loop`. With `wait`, a crash (procrastinate stops its
    worker when the database goes away) is logged and the loop starts again after
    LOOP_RESTART_SECONDS, so a database restart does not leave the process without a worker."""
    while True:
        try:
            await app.run_worker_async(
                queues=list(loop.queues),
                wait=wait,
                concurrency=loop.concurrency,
                fetch_job_polling_interval=loop.poll_seconds,
                name=f"{name}:{loop.name}",
                install_signal_handlers=False,
                listen_notify=wait,
            )
            return
        except Exception as exc:
            if not wait:
                raise
            log.warning("worker_loop_failed", loop=loop.name, error=repr(exc))
            await asyncio.sleep(LOOP_RESTART_SECONDS)


async def run_worker(
    app: procrastinate.App,
    session_factory: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    wait: bool = True,
    concurrency: int | None = None,
    name: str | None = None,
    language_model: LanguageModel | None = None,
    bot: Bot | None = None,
    movie_source: MovieSource | None = None,
    queues: Sequence[str] | None = None,
) -> None:
    """Run the loops `worker_loops(concurrency=…, queues=…)` gives until cancelled (or, with
    wait=False, until their queues are empty): without `queues` the production layout
    (DEFAULT_LOOPS, what `python -m bot run` and `python -m bot worker` run), with `queues`
    one loop on them. See `run_workers` for the rest.

    Raises:
        ValueError: an unknown queue name, or `concurrency` below 1.
    """
    await run_workers(
        app,
        session_factory,
        embedder,
        loops=worker_loops(concurrency=concurrency, queues=queues),
        wait=wait,
        name=name or "worker",
        language_model=language_model,
        bot=bot,
        movie_source=movie_source,
    )


async def drain(
    app: procrastinate.App,
    session_factory: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    language_model: LanguageModel | None = None,
    bot: Bot | None = None,
    movie_source: MovieSource | None = None,
    queues: Sequence[str] = QUEUES,
) -> None:
    """Run every queued job now, in this process, one at a time by priority (tests,
    benchmarks, CLI)."""
    await run_worker(
        app,
        session_factory,
        embedder,
        wait=False,
        language_model=language_model,
        bot=bot,
        movie_source=movie_source,
        queues=queues,
    )
