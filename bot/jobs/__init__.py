"""Background jobs on a PostgreSQL queue (procrastinate): embeddings, taste vectors and
summaries, the CF model, Letterboxd imports.

Modules: `tasks` (the user-facing tasks, queues, priorities, the blueprint and the App),
`maintenance` (stall recovery and the stall watch, the periodic sweep and CF rebuild, and what
they queue), `outbox` (what an update asks for, deferred after commit), `worker` (worker
processes and their loops).

- Handlers never run these jobs. Services record what they want in the update's `JobOutbox`
  (`domain.ports.JobQueue`); `DatabaseMiddleware` defers the jobs after the update's
  transaction commits, so a job never sees uncommitted data.
- Queues keep interactive work ahead of bulk work: `imports` (run_import), `user` (one user's
  review and topic vectors, taste vector and summary) and `bulk` (catalog film embeddings, the
  sweep, CF rebuilds). Jobs carry priorities (procrastinate fetches the highest priority first,
  then the oldest: `procrastinate_fetch_job_v2` orders by `priority DESC, id ASC`), and a worker
  process runs two loops (DEFAULT_LOOPS): an `interactive` one on imports + user and a `bulk`
  one, so a backlog of 4,800 film embeddings never delays an import or a user's vectors.
- Every worker process also runs `watch_stalled`, a plain asyncio loop (not a queued job, so it
  never waits behind anything) that re-queues the jobs of dead workers.
- `python -m bot worker` runs workers (any number, on any machine that reaches the
  database); `python -m bot run` also runs one in-process unless `WORKER_IN_PROCESS=false`.
- A job that raises is retried with exponential backoff (RETRY); after the last attempt it
  stays `failed`, listed by `python -m bot jobs failed` and re-queued by `python -m bot jobs
  retry ID`.
- Ready at once: `catalog load-csv` embeds the films it loads; every `embed_films` job queues
  a taste refresh for the users with those films in their history; the import job computes
  the user's taste vector before its report and queues a CF rebuild CF_REBUILD_DELAY_S later
  (one for a burst of imports); a worker that starts with no CF model (or one older than the
  newest import) queues a rebuild at once.
- Nothing is lost when the worker is down or a deferral fails: the periodic `sweep` finds
  every film, review and topic without a vector for the current model and every stale taste
  vector, and queues them.
"""

from __future__ import annotations

from bot.jobs.maintenance import (
    STALL_CHECK_SECONDS,
    STALLED_AFTER_SECONDS,
    queue_cf_if_due,
    queue_missing,
    queue_overdue_rounds,
    rebuild_cf,
    recover_stalled,
    retry_stalled,
    sweep,
    watch_stalled,
)
from bot.jobs.outbox import (
    CF_REBUILD_DELAY_S,
    EMBED_FILMS,
    EMBED_REVIEWS,
    EMBED_TOPICS,
    REBUILD_CF,
    RECOVER_STALLED,
    REFRESH_SUMMARY,
    REFRESH_TASTE,
    RUN_IMPORT,
    SWEEP,
    JobOutbox,
    defer_cf_rebuild,
    defer_films,
    defer_summary,
    defer_taste,
    defer_tastes,
)
from bot.jobs.tasks import (
    BULK_QUEUE,
    IMPORT_QUEUE,
    LEGACY_QUEUE,
    MAX_RETRIES,
    PRIORITY_BULK,
    PRIORITY_CF,
    PRIORITY_CONTROL,
    PRIORITY_IMPORT,
    PRIORITY_USER,
    PRIORITY_USER_FILMS,
    QUEUES,
    RETRY,
    USER_QUEUE,
    WorkerRuntime,
    blueprint,
    embed_avoid_topics,
    embed_films,
    embed_films_here,
    embed_reviews,
    make_job_app,
    refresh_summary,
    refresh_taste,
    run_import,
    use_runtime,
)
from bot.jobs.worker import (
    BULK_LOOP,
    DEFAULT_LOOPS,
    INTERACTIVE_LOOP,
    LOOP_RESTART_SECONDS,
    WorkerLoop,
    drain,
    run_worker,
    run_workers,
    worker_loops,
)

__all__ = [
    "BULK_LOOP",
    "BULK_QUEUE",
    "CF_REBUILD_DELAY_S",
    "DEFAULT_LOOPS",
    "EMBED_FILMS",
    "EMBED_REVIEWS",
    "EMBED_TOPICS",
    "IMPORT_QUEUE",
    "INTERACTIVE_LOOP",
    "LEGACY_QUEUE",
    "LOOP_RESTART_SECONDS",
    "MAX_RETRIES",
    "PRIORITY_BULK",
    "PRIORITY_CF",
    "PRIORITY_CONTROL",
    "PRIORITY_IMPORT",
    "PRIORITY_USER",
    "PRIORITY_USER_FILMS",
    "QUEUES",
    "REBUILD_CF",
    "RECOVER_STALLED",
    "REFRESH_SUMMARY",
    "REFRESH_TASTE",
    "RETRY",
    "RUN_IMPORT",
    "STALLED_AFTER_SECONDS",
    "STALL_CHECK_SECONDS",
    "SWEEP",
    "USER_QUEUE",
    "JobOutbox",
    "WorkerLoop",
    "WorkerRuntime",
    "blueprint",
    "defer_cf_rebuild",
    "defer_films",
    "defer_summary",
    "defer_taste",
    "defer_tastes",
    "drain",
    "embed_avoid_topics",
    "embed_films",
    "embed_films_here",
    "embed_reviews",
    "make_job_app",
    "queue_cf_if_due",
    "queue_missing",
    "queue_overdue_rounds",
    "rebuild_cf",
    "recover_stalled",
    "refresh_summary",
    "refresh_taste",
    "retry_stalled",
    "run_import",
    "run_worker",
    "run_workers",
    "sweep",
    "use_runtime",
    "watch_stalled",
    "worker_loops",
]
