"""Public ratings priors for collaborative filtering: datasets of other people's film ratings
(MovieLens) loaded as anonymous *prior users* the CF model trains on beside the bot's own
users (domain/cf.py, weighted by the setting `CF_PRIOR_WEIGHT`).

A prior is stored in `cf_priors` (one row per dataset, unique by name) and
`cf_prior_ratings` (prior id, the dataset's own user id, TMDB id, rating). Prior users are not
rows of `users`: nothing but CF training reads them.

MovieLens layout (GroupLens, https://grouplens.org/datasets/movielens/; ml-latest-small,
ml-25m, ml-32m): a folder with `ratings.csv` (userId,movieId,rating,timestamp; "ordered first
by userId, then, within user, by movieId", per the datasets' README) and `links.csv`
(movieId,imdbId,tmdbId). The ratings are streamed in chunks of `CHUNK_ROWS` lines (numpy
parses them; a 32-million-row file never sits in memory as Python objects) and COPYed into
PostgreSQL in the caller's transaction, so a file that turns out bad halfway leaves nothing.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import itertools
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CFPrior

log = structlog.get_logger(__name__)

#: The one format `load-ratings` reads today.
MOVIELENS = "movielens"
FORMATS = (MOVIELENS,)
#: Lines of ratings.csv parsed and COPYed at once: ~10 MB of numpy arrays and ~30 MB of COPY
#: records per chunk.
CHUNK_ROWS = 200_000
RATINGS_COLUMNS = ("userId", "movieId", "rating", "timestamp")
LINKS_COLUMNS = ("movieId", "tmdbId")
#: Largest id PostgreSQL's int4 columns (prior_user, tmdb_id) hold.
_INT4_MAX = 2**31 - 1
_RATING_ROW = np.dtype([("user", np.int64), ("movie", np.int64), ("rating", np.float64), ("ts", np.int64)])


class PriorFormatError(ValueError):
    """The dataset cannot be loaded: a missing file, a missing column, an unreadable row. The
    message is one line naming the file (and line) and what is wrong."""


@dataclass(frozen=True, slots=True)
class PriorReport:
    """One load: `users` prior users with at least one stored rating, `films` distinct TMDB ids
    rated, `ratings` rows stored, `unlinked` rows skipped because their movieId has no TMDB id
    in links.csv, `merged` rows dropped because the same user rated another movieId with the
    same TMDB id (the later rating is kept), `seconds` wall time."""

    name: str
    format: str
    users: int
    films: int
    ratings: int
    unlinked: int
    merged: int
    seconds: float


@dataclass(frozen=True, slots=True)
class PriorInfo:
    """A loaded prior as `cf status` shows it (counts as in :class:`PriorReport`)."""

    name: str
    format: str
    users: int
    films: int
    ratings: int
    unlinked: int
    loaded_at: dt.datetime


@dataclass(slots=True)
class _Chunk:
    """Deduplicated ratings of whole users, sorted by (user, tmdb id)."""

    user: npt.NDArray[np.int64]
    tmdb: npt.NDArray[np.int64]
    rating: npt.NDArray[np.float64]


@dataclass(slots=True)
class _Counts:
    unlinked: int = 0
    merged: int = 0


async def load_movielens(session: AsyncSession, path: Path, *, name: str | None = None) -> PriorReport:
    """Load the MovieLens folder `path` as the prior `name` (default: the folder's name),
    replacing a prior of that name. Runs in the caller's transaction; the caller commits (and
    then rebuilds the CF model).

    Every rating row becomes one (prior user = userId, tmdb id, rating) row; rows whose movieId
    has no tmdbId in links.csv are skipped and counted; when one user rated two movieIds of one
    TMDB id, the later rating (by timestamp, then by line) is kept.

    Raises:
        PriorFormatError: `path` is not a folder with ratings.csv and links.csv, a header lacks
            a column, a row does not parse, an id is out of range, a user's ratings are not
            together, or ratings.csv has no rows. Nothing is written then (roll back).
    """
    started = time.perf_counter()
    folder = Path(path)
    if name is None:
        name = (await asyncio.to_thread(folder.resolve)).name
    name = name.strip()
    if not name:
        raise PriorFormatError("the prior needs a name (--name)")
    lookup = await asyncio.to_thread(_read_links, folder)
    counts = _Counts()
    chunks = _read_ratings(folder / "ratings.csv", lookup, counts)
    try:
        return await _store(session, folder, name, chunks, counts, started)
    finally:
        chunks.close()  # closes ratings.csv when a later chunk or the database failed


async def _store(
    session: AsyncSession,
    folder: Path,
    name: str,
    chunks: Generator[_Chunk, None, None],
    counts: _Counts,
    started: float,
) -> PriorReport:
    first = await asyncio.to_thread(next, chunks, None)  # a bad header fails before any write

    await session.execute(delete(CFPrior).where(CFPrior.name == name))
    prior = CFPrior(name=name, format=MOVIELENS, n_users=0, n_films=0, n_ratings=0, n_unlinked=0)
    session.add(prior)
    await session.flush()
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None

    users = ratings = 0
    films = np.zeros(0, dtype=bool)
    chunk = first
    while chunk is not None:
        if len(chunk.user):
            users += len(np.unique(chunk.user))
            ratings += len(chunk.user)
            top = int(chunk.tmdb.max())
            if top >= len(films):
                films = np.concatenate([films, np.zeros(top + 1 - len(films), dtype=bool)])
            films[chunk.tmdb] = True
            records = zip(
                itertools.repeat(prior.id),
                chunk.user.tolist(),
                chunk.tmdb.tolist(),
                chunk.rating.tolist(),
            )
            await driver.copy_records_to_table(
                "cf_prior_ratings", records=records, columns=["prior_id", "prior_user", "tmdb_id", "rating"]
            )
        chunk = await asyncio.to_thread(next, chunks, None)

    prior.n_users, prior.n_films, prior.n_ratings = users, int(films.sum()), ratings
    prior.n_unlinked = counts.unlinked
    await session.flush()
    report = PriorReport(
        name=name,
        format=MOVIELENS,
        users=users,
        films=prior.n_films,
        ratings=ratings,
        unlinked=counts.unlinked,
        merged=counts.merged,
        seconds=time.perf_counter() - started,
    )
    log.info("cf_prior_loaded", path=str(folder), **dataclasses.asdict(report))
    return report


async def drop_prior(session: AsyncSession, name: str | None = None) -> int:
    """Delete the prior `name` (every prior when None) with its ratings; returns how many
    priors were deleted (0 when there was none of that name). The caller commits."""
    stmt = delete(CFPrior)
    if name is not None:
        stmt = stmt.where(CFPrior.name == name)
    deleted = len((await session.execute(stmt.returning(CFPrior.id))).all())
    log.info("cf_prior_dropped", name=name, priors=deleted)
    return deleted


async def list_priors(session: AsyncSession) -> list[PriorInfo]:
    """The loaded priors, by name."""
    rows = (await session.scalars(select(CFPrior).order_by(CFPrior.name))).all()
    return [
        PriorInfo(p.name, p.format, p.n_users, p.n_films, p.n_ratings, p.n_unlinked, p.loaded_at)
        for p in rows
    ]


# --- reading the files (sync, run in a worker thread) ------------------------------------------


def _columns(header: list[str] | None, wanted: tuple[str, ...], file: str) -> list[int]:
    """Positions of the `wanted` columns in a CSV header row."""
    names = [c.strip().lstrip("\ufeff") for c in header or []]
    missing = [c for c in wanted if c not in names]
    if missing:
        found = ",".join(names) or "nothing"
        raise PriorFormatError(f"{file}: missing column(s) {', '.join(missing)} (header has {found})")
    return [names.index(c) for c in wanted]


def _open(path: Path, newline: str | None) -> Any:
    if not path.is_file():
        raise PriorFormatError(f"{path.parent}: no {path.name} (expected a MovieLens folder)")
    return path.open(encoding="utf-8", newline=newline)


def _read_links(folder: Path) -> npt.NDArray[np.int64]:
    """movieId → tmdbId as an array indexed by movieId (0: no TMDB id)."""
    if not folder.is_dir():
        raise PriorFormatError(f"{folder}: not a folder (expected a MovieLens folder with ratings.csv)")
    ratings = folder / "ratings.csv"
    if not ratings.is_file():
        raise PriorFormatError(f"{folder}: no ratings.csv (expected a MovieLens folder)")
    movie_ids: list[int] = []
    tmdb_ids: list[int] = []
    with _open(folder / "links.csv", newline="") as handle:
        reader = csv.reader(handle)
        movie_col, tmdb_col = _columns(next(reader, None), LINKS_COLUMNS, "links.csv")
        for reader_line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                movie = int(row[movie_col])
                tmdb = row[tmdb_col].strip() if tmdb_col < len(row) else ""
                tmdb_id = int(tmdb) if tmdb else 0
            except (ValueError, IndexError):
                raise PriorFormatError(
                    f"links.csv line {reader_line}: not a movieId / tmdbId: {row}"
                ) from None
            if not 0 <= movie <= _INT4_MAX or not 0 <= tmdb_id <= _INT4_MAX:
                raise PriorFormatError(f"links.csv line {reader_line}: id out of range: {row}")
            movie_ids.append(movie)
            tmdb_ids.append(tmdb_id)
    lookup = np.zeros(max(movie_ids, default=-1) + 1, dtype=np.int64)
    lookup[np.asarray(movie_ids, dtype=np.int64)] = np.asarray(tmdb_ids, dtype=np.int64)
    return lookup


def _read_ratings(
    path: Path, lookup: npt.NDArray[np.int64], counts: _Counts
) -> Generator[_Chunk, None, None]:
    """ratings.csv in chunks of whole users, deduplicated by (user, tmdb id). Yields at least
    once (an empty chunk for a file whose rows are all unlinked)."""
    with _open(path, newline=None) as handle:  # no quoted newlines in ratings: universal newlines
        cols = _columns(next(csv.reader([handle.readline()]), None), RATINGS_COLUMNS, "ratings.csv")
        line = 1
        rows = 0
        done: set[int] = set()  # users already yielded
        carry: tuple[npt.NDArray[Any], ...] | None = None
        while True:
            lines = list(itertools.islice(handle, CHUNK_ROWS))
            if not lines:
                break
            first_line, line = line + 1, line + len(lines)
            try:
                data = np.loadtxt(
                    lines, delimiter=",", quotechar='"', usecols=cols, dtype=_RATING_ROW, ndmin=1
                )
            except ValueError as exc:
                reason = " ".join(str(exc).split())
                raise PriorFormatError(
                    f"ratings.csv lines {first_line}-{line}: unreadable row ({reason})"
                ) from None
            rows += len(data)
            user, movie = data["user"], data["movie"]
            if len(data) and (user.min() < 0 or user.max() > _INT4_MAX or movie.min() < 0):
                raise PriorFormatError(
                    f"ratings.csv lines {first_line}-{line}: a userId or movieId is out of range"
                )
            tmdb = np.zeros(len(data), dtype=np.int64)
            known = movie < len(lookup)
            tmdb[known] = lookup[movie[known]]
            linked = tmdb > 0
            counts.unlinked += int((~linked).sum())
            seq = np.arange(rows - len(data), rows, dtype=np.int64)
            part: tuple[npt.NDArray[Any], ...] = (
                user[linked],
                tmdb[linked],
                data["rating"][linked],
                data["ts"][linked],
                seq[linked],
            )
            if carry is not None:
                part = tuple(np.concatenate([a, b]) for a, b in zip(carry, part, strict=True))
            if not len(part[0]):
                carry = None
                continue
            # the last user may go on in the next chunk: hold their rows back
            held = part[0] == part[0][-1]
            carry = tuple(a[held] for a in part)
            ready = tuple(a[~held] for a in part)
            if len(ready[0]):
                yield _finish(ready, done, counts, first_line)
        if rows == 0:
            raise PriorFormatError("ratings.csv: no ratings (only a header)")
        if carry is not None:
            yield _finish(carry, done, counts, line)
        else:
            yield _Chunk(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))


def _finish(part: tuple[npt.NDArray[Any], ...], done: set[int], counts: _Counts, near_line: int) -> _Chunk:
    """Check the users are new, keep the latest rating of each (user, tmdb id)."""
    user, tmdb, rating, ts, seq = part
    seen = np.unique(user).tolist()
    again = done.intersection(seen)
    if again:
        raise PriorFormatError(
            f"ratings.csv near line {near_line}: userId {min(again)} appears again after other users "
            "(MovieLens lists each user's ratings together)"
        )
    done.update(seen)
    order = np.lexsort((seq, ts, tmdb, user))
    user, tmdb = user[order], tmdb[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (user[1:] != user[:-1]) | (tmdb[1:] != tmdb[:-1])
    counts.merged += int((~last).sum())
    return _Chunk(user[last], tmdb[last], rating[order][last])
