"""The collaborative-filtering model: trained from every user's history in the database, stored
in `cf_items` / `cf_neighbours`, and cached in each process that recommends.

Training (`build_cf_model`) runs in a background job (periodic, and on demand with
`python -m bot cf rebuild`, and after `cf load-ratings` / `cf drop-prior`); it streams all
users' interactions and the loaded ratings priors' (domain/prior.py) out of PostgreSQL with a
binary COPY, solves EASE over a sparse matrix in a worker thread and replaces the stored model
in one transaction. `CFModelCache.get` costs one tiny query per call (the newest model id) and
reloads the edges only when a newer model exists.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog
from scipy import sparse
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CFItem, CFModelInfo, CFNeighbour
from recommender.cf import (
    EASE_L2,
    NEIGHBOURS_PER_ITEM,
    CFModel,
    IntArray,
    ease_from_gram,
    truncate_by_target,
    weighted_gram,
)

log = structlog.get_logger(__name__)

#: Films kept in the model, most-interacted first: EASE inverts an items × items matrix, so
#: memory grows with its square (6,000 films ≈ 300 MB in float64 during training).
CF_MAX_ITEMS = 6000
#: A film enters the model once this many users have it in their history.
CF_MIN_USERS = 2
#: Default weight of each prior user's row in the Gram matrix (the setting CF_PRIOR_WEIGHT,
#: bot/settings.py, has the same default): a MovieLens user counts as much as a bot user.
CF_PRIOR_WEIGHT = 1.0

#: One row of `COPY … TO STDOUT (FORMAT BINARY)` of three NOT NULL int4 columns: a field count
#: (int16), then per field its length (int32, always 4) and value (int32), all big-endian
#: (PostgreSQL manual, COPY, "Binary Format").
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("l0", ">i4"),
        ("source", ">i4"),
        ("l1", ">i4"),
        ("user", ">i4"),
        ("l2", ">i4"),
        ("tmdb", ">i4"),
    ]
)
#: The binary COPY header: 11-byte signature, int32 flags, int32 header-extension length.
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = 19
#: Bytes of the COPY stream buffered before they are parsed into arrays.
_COPY_DRAIN_BYTES = 1 << 22

#: Every interaction the model trains on, as (source, user, tmdb id): source 0 is the bot's own
#: users (user = users.id), source k > 0 the prior cf_priors.id = k (user = the dataset's user
#: id). A bot user's rated, watched or liked films that they did not mark 🚫; every rating of
#: a prior user whose film is in the catalog (binary: low ratings are interactions too).
_INTERACTIONS_SQL = """
SELECT 0::int4, user_id::int4, tmdb_id::int4 FROM user_films
WHERE NOT not_interested AND (rating IS NOT NULL OR watched OR liked)
"""
_PRIOR_INTERACTIONS_SQL = """
UNION ALL
SELECT r.prior_id::int4, r.prior_user::int4, r.tmdb_id::int4
FROM cf_prior_ratings AS r JOIN films AS f ON f.tmdb_id = r.tmdb_id
"""


@dataclass(frozen=True, slots=True)
class CFBuildReport:
    """What a build trained on: `users` the bot's users and `prior_users` the prior users with
    at least one film in the model, `items` films, `interactions` (user, film) pairs of both,
    `edges` stored weights, `prior_weight` each prior user's weight, `seconds` wall time."""

    version: int
    users: int
    items: int
    interactions: int
    edges: int
    seconds: float
    prior_users: int = 0
    prior_weight: float = 0.0


class _CopyRows:
    """Collects a binary COPY stream of (source, user, tmdb) int4 rows into compact numpy
    arrays as asyncpg hands its chunks over: 12 bytes per row, never the whole stream as bytes
    or Python objects. Raises ValueError if the stream is not that format."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._header_seen = False
        self._keys: list[IntArray] = []
        self._items: list[npt.NDArray[np.int32]] = []

    async def __call__(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) >= _COPY_DRAIN_BYTES:
            self._drain()

    def _drain(self) -> None:
        if not self._header_seen:
            if len(self._buffer) < _COPY_HEADER:
                return
            if bytes(self._buffer[:11]) != _COPY_SIGNATURE:
                raise ValueError("not a binary COPY stream")
            extension = int.from_bytes(self._buffer[15:19], "big")
            del self._buffer[: _COPY_HEADER + extension]
            self._header_seen = True
        rows = len(self._buffer) // _COPY_ROW.itemsize
        if rows:
            size = rows * _COPY_ROW.itemsize
            part = np.frombuffer(bytes(self._buffer[:size]), dtype=_COPY_ROW)
            lengths = (part["l0"], part["l1"], part["l2"])
            if (part["fields"] != 3).any() or any((length != 4).any() for length in lengths):
                raise ValueError("unexpected row layout in the COPY stream")
            self._keys.append(_user_key(part["source"], part["user"]))
            self._items.append(part["tmdb"].astype(np.int32))
            del self._buffer[:size]

    def finish(self) -> tuple[IntArray, npt.NDArray[np.int32]]:
        """(user key, tmdb id) of every row received; see :func:`_user_key`."""
        self._drain()
        if bytes(self._buffer) not in (b"", b"\xff\xff"):  # the trailer: a field count of −1
            raise ValueError("truncated binary COPY stream")
        if not self._keys:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        return np.concatenate(self._keys), np.concatenate(self._items)


def _user_key(source: npt.NDArray[Any], user: npt.NDArray[Any]) -> IntArray:
    """One int64 per training user: source (0 = the bot's users, k = prior k) in the high 32
    bits, the user id (≥ 0) in the low ones, so the bot's users sort first."""
    return (source.astype(np.int64) << 32) | user.astype(np.int64)


@dataclass(frozen=True, slots=True)
class _Fit:
    item_ids: IntArray
    n_ratings: IntArray
    bot_users: int
    prior_users: int
    interactions: int
    sources: IntArray
    targets: IntArray
    weights: npt.NDArray[np.float32]


def _fit(
    keys: IntArray,
    items: npt.NDArray[np.int32],
    *,
    l2: float,
    neighbours: int,
    max_items: int,
    min_users: int,
    prior_weight: float,
) -> _Fit:
    """Pick the films, build the sparse users × films matrix and solve EASE (CPU only)."""
    item_ids, item_pos, counts = np.unique(items, return_inverse=True, return_counts=True)
    keep = counts >= min_users
    if keep.sum() > max_items:
        threshold = np.sort(counts[keep])[-max_items]
        keep &= counts >= threshold
        keep &= np.cumsum(keep) <= max_items
    kept_ids = item_ids[keep].astype(np.int64)
    new_index = np.full(len(item_ids), -1, dtype=np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    col = new_index[item_pos] if len(items) else np.zeros(0, dtype=np.int64)
    mask = col >= 0
    user_keys, user_pos = np.unique(keys[mask], return_inverse=True)
    is_prior = (user_keys >> 32) > 0
    n_prior = int(is_prior.sum())
    empty = np.zeros(0, dtype=np.int64)
    sources, targets, weights = empty, empty, np.zeros(0, dtype=np.float32)
    if len(kept_ids) >= 2:
        x = sparse.csr_array(
            (np.ones(len(user_pos), dtype=np.float64), (user_pos, col[mask])),
            shape=(len(user_keys), len(kept_ids)),
        )
        gram = weighted_gram(x, np.where(is_prior, prior_weight, 1.0))
        del x
        sources, targets, weights = truncate_by_target(ease_from_gram(gram, l2, overwrite=True), neighbours)
    return _Fit(
        kept_ids,
        counts[keep].astype(np.int64),
        len(user_keys) - n_prior,
        n_prior,
        int(mask.sum()),
        sources,
        targets,
        weights,
    )


async def build_cf_model(
    session: AsyncSession,
    *,
    l2: float = EASE_L2,
    neighbours: int = NEIGHBOURS_PER_ITEM,
    max_items: int = CF_MAX_ITEMS,
    min_users: int = CF_MIN_USERS,
    prior_weight: float = CF_PRIOR_WEIGHT,
) -> CFBuildReport:
    """Train EASE on all users' rated, watched or liked films (not 🚫 ones), and on the ratings
    of the loaded priors' users for films in the catalog, and store it as the newest model.

    X is a sparse users × films 0/1 matrix (scipy CSR) over the bot's users and the prior
    users; each prior user's row weighs `prior_weight` (≥ 0) in G = Xᵀ·diag(w)·X + λI, a bot
    user's 1 (recommender.cf.weighted_gram, ease_from_gram). `prior_weight` 0 leaves the priors
    out entirely (the model is the one trained without them). Films enter with at least
    `min_users` users (bot and prior, unweighted), the `max_items` most-had ones; a film's
    stored `n_ratings` is that user count. The rows are streamed out of PostgreSQL with a
    binary COPY and everything numeric runs in a worker thread. The caller commits. With fewer
    than two films it stores an empty model. Raises ValueError for a negative `prior_weight`."""
    if not prior_weight >= 0:
        raise ValueError(f"prior_weight must be >= 0, got {prior_weight}")
    started = time.perf_counter()
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    sink = _CopyRows()
    query = _INTERACTIONS_SQL + (_PRIOR_INTERACTIONS_SQL if prior_weight > 0 else "")
    await driver.copy_from_query(query, output=sink, format="binary")
    keys, items = sink.finish()
    fit = await asyncio.to_thread(
        _fit,
        keys,
        items,
        l2=l2,
        neighbours=neighbours,
        max_items=max_items,
        min_users=min_users,
        prior_weight=prior_weight,
    )
    del keys, items

    await session.execute(delete(CFNeighbour))
    await session.execute(delete(CFItem))
    await driver.copy_records_to_table(
        "cf_items",
        records=list(zip(fit.item_ids.tolist(), fit.n_ratings.tolist(), strict=True)),
        columns=["tmdb_id", "n_ratings"],
    )
    await driver.copy_records_to_table(
        "cf_neighbours",
        records=list(
            zip(
                fit.item_ids[fit.sources].tolist(),
                fit.item_ids[fit.targets].tolist(),
                fit.weights.tolist(),
                strict=True,
            )
        ),
        columns=["source_id", "target_id", "weight"],
    )
    seconds = time.perf_counter() - started
    info = CFModelInfo(
        n_users=fit.bot_users,
        n_items=len(fit.item_ids),
        n_ratings=fit.interactions,
        l2=l2,
        seconds=seconds,
        n_prior_users=fit.prior_users,
        prior_weight=prior_weight,
    )
    session.add(info)
    await session.flush()
    report = CFBuildReport(
        version=info.id,
        users=fit.bot_users,
        items=len(fit.item_ids),
        interactions=fit.interactions,
        edges=len(fit.weights),
        seconds=seconds,
        prior_users=fit.prior_users,
        prior_weight=prior_weight,
    )
    log.info("cf_model_built", **dataclasses.asdict(report))
    return report


class CFModelCache:
    """The newest stored CF model, loaded once per version and shared by every update of the
    process (one instance per process, held by the service factory)."""

    def __init__(self) -> None:
        self._model = CFModel.empty()
        self._lock = asyncio.Lock()

    async def get(self, session: AsyncSession) -> CFModel:
        """The newest model (CFModel.empty() before the first build)."""
        version = await session.scalar(select(func.max(CFModelInfo.id))) or 0
        if version == self._model.version:
            return self._model
        async with self._lock:
            if version != self._model.version:
                self._model = await self._load(session, version)
        return self._model

    async def _load(self, session: AsyncSession, version: int) -> CFModel:
        started = time.perf_counter()
        raw = await (await session.connection()).get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        items = await driver.fetch("SELECT tmdb_id, n_ratings FROM cf_items")
        edges = await driver.fetch("SELECT source_id, target_id, weight FROM cf_neighbours")
        model = CFModel.from_edges(
            version,
            (r[0] for r in items),
            (r[1] for r in items),
            ((r[0], r[1], r[2]) for r in edges),
        )
        log.info(
            "cf_model_loaded",
            version=version,
            items=len(model),
            edges=len(edges),
            ms=round((time.perf_counter() - started) * 1000),
        )
        return model
