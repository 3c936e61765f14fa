"""Letterboxd import: match precision, speed, and the bot's responsiveness meanwhile. Prints one table.

    make bench-import     # or: WTW_DATASETS=../shared/datasets .venv/bin/python -m bench.import_quality

Protocol (issue 4):
- Every export under `WTW_DATASETS/letterboxd/<user>/` is zipped as Letterboxd gives it and sent
  to the bot as a document, through the dispatcher (Telegram faked at the Bot API boundary);
  the import job then runs in a worker in this process, as `make run` does.
- TMDB is the fake TMDB server on loopback serving all of `tmdb_5000_movies.csv`, answering
  each request after `--latency` seconds (default 50 ms); the bot's real TMDB client talks to
  it with the default settings (TMDB_MAX_CONCURRENCY, TMDB_MAX_REQUESTS_PER_SECOND).
- Each export starts cold: a fresh `wtw_bench_import` database (empty catalog, empty match
  cache), so every film costs real TMDB requests.
- Times: from sending the file to the moment every rated, watched or logged film is stored
  ("history"), and to the end of the job (the watchlist included).
- Meanwhile another user sends /start every 200 ms; its answer time is measured.
- Precision: a matched film is *judged* when MovieLens (ml-latest-small) knows its TMDB id
  (links.csv) or knows a film of the same title and year. It is *right* when the MovieLens
  film with our TMDB id has the Letterboxd title (any of its MovieLens titles, normalised, or
  ≥ 90 similar) and a year within ±1, and no MovieLens film of exactly that title and year
  has another TMDB id. Disagreements are printed for inspection.
- Exact misses: films for which tmdb_5000_movies.csv has exactly one film of the same title
  (case-insensitive, title or original title) and year, but the import found nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import re
import statistics
import sys
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from aiogram import Dispatcher
from rapidfuzz import fuzz
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot import jobs
from bot.console import ChatUser, UpdateFactory, console_bot
from bot.database import recreate_database, resolve_database_url
from bot.dispatcher import build_dispatcher
from bot.logging import setup_logging
from bot.services import ServiceFactory
from bot.settings import BotSettings, DatabaseSettings, Settings, TelegramSettings, TMDBSettings
from db.models import Import, TitleMatch
from db.session import create_engine, create_session_factory
from domain.letterboxd import read_export_bytes
from domain.matching import name_key, title_key
from integrations.embeddings import LocalEmbedder
from integrations.tmdb import TMDBClient
from tests.fakes.tmdb_server import FakeTMDBServer

BENCH_DATABASE = "wtw_bench_import"
IMPORTER_ID, PROBE_ID = 8_100_000_001, 8_100_000_002
_ML_TITLE = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
_ALT = re.compile(r"\(([^()]*)\)")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.*), (?P<article>The|A|An|La|Le|Les|Il|El|Der|Die|Das|L')$")


@dataclass
class MovieLens:
    """MovieLens films by TMDB id (titles, year) and by (title key, year) → TMDB ids."""

    by_tmdb: dict[int, tuple[set[str], int | None]] = field(default_factory=dict)
    by_title: dict[tuple[str, int], set[int]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def load(cls, folder: Path) -> MovieLens:
        ml = cls()
        links = {row["movieId"]: row["tmdbId"] for row in _rows(folder / "links.csv") if row["tmdbId"]}
        for row in _rows(folder / "movies.csv"):
            tmdb = links.get(row["movieId"])
            match = _ML_TITLE.match(row["title"].strip())
            if tmdb is None or match is None:
                continue
            year = int(match["year"])
            titles = _ml_titles(match["title"])
            ml.by_tmdb[int(tmdb)] = (titles, year)
            for title in titles:
                ml.by_title[(title, year)].add(int(tmdb))
        return ml


def _ml_titles(raw: str) -> set[str]:
    """MovieLens writes "City of Lost Children, The (Cité des enfants perdus, La)": the main
    title and each alternative in parentheses, articles moved back to the front."""
    names = [raw, _ALT.sub("", raw).strip(), *_ALT.findall(raw)]
    out: set[str] = set()
    for name in names:
        moved = _TRAILING_ARTICLE.match(name.strip())
        if moved:
            name = f"{moved['article']} {moved['rest']}"
        if key := title_key(name.removeprefix("a.k.a. ")):
            out.add(key)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def exact_index(tmdb_csv: Path) -> dict[tuple[str, int], set[int]]:
    """(lower-cased title or original title, year) → TMDB ids in tmdb_5000_movies.csv."""
    index: dict[tuple[str, int], set[int]] = defaultdict(set)
    for row in _rows(tmdb_csv):
        year = row["release_date"][:4]
        if not year.isdigit():
            continue
        for title in {row["title"], row["original_title"]}:
            index[(title.strip().lower(), int(year))].add(int(row["id"]))
    return index


def zip_export(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.csv")):
            archive.write(path, f"letterboxd-{folder.name}-export/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


# --- database --------------------------------------------------------------------------------------
async def fresh_database(settings: Settings) -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or resolve_database_url(settings)
    bench_url = make_url(url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    await recreate_database(bench_url, migrated=True)
    return bench_url


def bench_settings() -> Settings:
    return Settings(
        telegram=TelegramSettings(_env_file=None, bot_token=None),
        database=DatabaseSettings(_env_file=None),
        tmdb=TMDBSettings(_env_file=None, api_key="bench", read_access_token=None),
        bot=BotSettings(_env_file=None, recommend_cooldown_seconds=0),
    )


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- one export --------------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    rows: int
    films: int
    history: int
    matched: int = 0
    unmatched: int = 0
    judged: int = 0
    right: int = 0
    exact_missed: int = 0
    history_s: float = 0.0
    total_s: float = 0.0
    requests: int = 0
    start_ms: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


async def import_one(
    dp: Dispatcher,
    folder: Path,
    server: FakeTMDBServer,
    embedder: LocalEmbedder,
    ml: MovieLens,
    exact: dict[tuple[str, int], set[int]],
) -> Result:
    settings = bench_settings()
    url = await fresh_database(settings)
    engine = create_engine(url, pool_size=5)
    session_factory = create_session_factory(engine)
    job_app = jobs.make_job_app(url, periodic=False)
    data = zip_export(folder)
    export = read_export_bytes(data, "export.zip")
    result = Result(
        folder.name,
        rows=sum(export.rows_read.values()),
        films=len(export.films),
        history=sum(1 for f in export.films if f.watched),
    )
    cfg = settings.tmdb
    client = TMDBClient(
        base_url=server.base_url,
        api_key="bench",
        max_concurrency=cfg.max_concurrency,
        max_requests_per_second=cfg.max_requests_per_second,
    )
    server.reset_log()
    bot = console_bot()
    updates = UpdateFactory(bot.session)  # type: ignore[arg-type]
    importer = ChatUser(IMPORTER_ID, "Importer", "en")
    probe = ChatUser(PROBE_ID, "Probe", "en")
    async with job_app.open_async(), client, bot:
        # one dispatcher per process (routers attach once); this export's parts per update
        parts = {
            "settings": settings,
            "session_factory": session_factory,
            "service_factory": ServiceFactory(settings, client),
            "job_app": job_app,
        }
        await dp.feed_update(bot, updates.message(probe, "/start"), **parts)  # warm the pool
        started = time.perf_counter()
        await dp.feed_update(bot, updates.document(importer, f"{folder.name}.zip", data=data), **parts)
        worker = asyncio.create_task(
            jobs.run_worker(
                job_app,
                session_factory,
                embedder,
                wait=False,
                bot=bot,
                movie_source=client,
                queues=[jobs.IMPORT_QUEUE],
            )
        )
        while not worker.done():
            t0 = time.perf_counter()
            await dp.feed_update(bot, updates.message(probe, "/start"), **parts)
            result.start_ms.append((time.perf_counter() - t0) * 1000)
            async with session_factory() as session:
                done = await session.scalar(select(Import.films_done))
            if not result.history_s and (done or 0) >= result.history:
                result.history_s = time.perf_counter() - started
            await asyncio.sleep(0.2)
        await worker
        result.total_s = time.perf_counter() - started
        result.history_s = result.history_s or result.total_s
        result.requests = server.count("/3/search/movie")
    async with session_factory() as session:
        decisions = {
            (r.name_key, r.year): r.tmdb_id for r in (await session.scalars(select(TitleMatch))).all()
        }
        await session.execute(text("SELECT 1"))
    await engine.dispose()

    for film in export.films:
        ours = decisions.get((name_key(film.name), film.year or 0))
        if ours is None:
            if film.year and len(exact.get((film.name.lower(), film.year), ())) == 1:
                result.exact_missed += 1
                result.wrong.append(f"missed: {film.name} ({film.year})")
            result.unmatched += 1
            continue
        result.matched += 1
        verdict = judge(film.name, film.year, ours, ml)
        if verdict is None:
            continue
        result.judged += 1
        if verdict:
            result.right += 1
        else:
            titles = ml.by_tmdb.get(ours, (set(), None))
            result.wrong.append(
                f"{film.name} ({film.year}) → TMDB {ours}; MovieLens: {sorted(titles[0])} {titles[1]}"
            )
    return result


def judge(name: str, year: int | None, tmdb_id: int, ml: MovieLens) -> bool | None:
    """True/False when MovieLens can tell, None when it cannot (see the module docstring)."""
    key = title_key(name)
    same_title = ml.by_title.get((key, year), set()) if year else set()
    known = ml.by_tmdb.get(tmdb_id)
    if known is None and not same_title:
        return None
    if same_title and tmdb_id not in same_title:
        return False
    if known is None:
        return True
    titles, ml_year = known
    # "Star Wars" is MovieLens' "Star Wars: Episode IV - A New Hope": one title's words within
    # the other's count, unless their numbers differ ("Scary Movie" vs "Scary Movie 2")
    close = key in titles or any(_same_title(key, t) for t in titles)
    return close and (year is None or ml_year is None or abs(ml_year - year) <= 1)


def _same_title(ours: str, theirs: str) -> bool:
    """Spacing aside ("Oldboy" / "Old boy"), one title's words within the other's, with the
    same numbers ("Star Wars" / "Star Wars: Episode IV - A New Hope", not "Scary Movie 2")."""
    if ours.replace(" ", "") == theirs.replace(" ", ""):
        return True
    numbers_agree = re.findall(r"\d+", ours) == re.findall(r"\d+", theirs)
    return numbers_agree and fuzz.token_set_ratio(ours, theirs) >= 90


def print_table(results: list[Result], latency: float) -> None:
    print()
    print(
        f"Letterboxd import — fake TMDB serving tmdb_5000_movies.csv at {latency * 1000:.0f} ms a request, "
        "cold cache, through the dispatcher and the job worker"
    )
    header = (
        f"{'export':<18} {'rows':>6} {'films':>6} {'history':>7} {'matched':>7} {'unmatched':>9} "
        f"{'judged':>6} {'precision':>9} {'exact missed':>12} {'history s':>9} {'total s':>8} "
        f"{'requests':>8} {'/start p50':>10} {'/start max':>10}"
    )
    print(header)
    for r in results:
        precision = r.right / r.judged if r.judged else float("nan")
        print(
            f"{r.name:<18} {r.rows:>6} {r.films:>6} {r.history:>7} {r.matched:>7} {r.unmatched:>9} "
            f"{r.judged:>6} {precision:>9.2%} {r.exact_missed:>12} {r.history_s:>9.1f} {r.total_s:>8.1f} "
            f"{r.requests:>8} {statistics.median(r.start_ms):>8.0f}ms {max(r.start_ms):>8.0f}ms"
        )
    judged = sum(r.judged for r in results)
    right = sum(r.right for r in results)
    print(f"all exports: precision {right / judged:.2%} on {judged} judged films")
    for r in results:
        for line in r.wrong[:25]:
            print(f"  {r.name}: {line}")


async def main(datasets: Path, latency: float, only: str | None) -> None:
    setup_logging("WARNING", json=False)
    ml = MovieLens.load(datasets / "movielens" / "ml-latest-small")
    tmdb_csv = datasets / "tmdb_5000" / "tmdb_5000_movies.csv"
    exact = exact_index(tmdb_csv)
    embedder = LocalEmbedder()
    settings = bench_settings()
    dp = build_dispatcher(settings, async_sessionmaker(), ServiceFactory(settings, None))
    results = []
    async with FakeTMDBServer(tmdb_csv) as server:
        server.knobs.latency_s = latency
        for folder in sorted(p for p in (datasets / "letterboxd").iterdir() if p.is_dir()):
            if only and folder.name != only:
                continue
            say(f"importing {folder.name}")
            results.append(await import_one(dp, folder, server, embedder, ml, exact))
            say(f"{folder.name}: {results[-1].total_s:.1f} s")
    print_table(results, latency)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=os.environ.get("WTW_DATASETS", "../shared/datasets"))
    parser.add_argument("--latency", type=float, default=0.05, help="fake TMDB seconds per request")
    parser.add_argument("--only", help="one export folder name")
    args = parser.parse_args()
    if not (args.datasets / "letterboxd").is_dir():
        sys.exit(f"No datasets at {args.datasets}: set WTW_DATASETS or pass --datasets")
    asyncio.run(main(args.datasets, args.latency, args.only))


if __name__ == "__main__":
    cli()
