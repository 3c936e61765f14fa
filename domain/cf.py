"""The collaborative-filtering model: trained from every user's history in the database, stored
in `cf_items` / `cf_neighbours`, and cached in each process that recommends.

Training (`build_cf_model`) runs in a background job (periodic, and on demand with
`python -m bot cf rebuild`); it reads all users' interactions, solves EASE in a worker thread
and replaces the stored model in one transaction. `CFModelCache.get` costs one tiny query per
call (the newest model id) and reloads the edges only when a newer model exists.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import structlog
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CFItem, CFModelInfo, CFNeighbour, UserFilm
from recommender.cf import EASE_L2, NEIGHBOURS_PER_ITEM, CFModel, ease_weights, truncate_by_target

log = structlog.get_logger(__name__)

#: Films kept in the model, most-interacted first: EASE inverts an items × items matrix, so
#: memory grows with its square (6,000 films ≈ 300 MB in float64 during training).
CF_MAX_ITEMS = 6000
#: A film enters the model once this many users have it in their history.
CF_MIN_USERS = 2


@dataclass(frozen=True, slots=True)
class CFBuildReport:
    version: int
    users: int
    items: int
    interactions: int
    edges: int
    seconds: float


async def build_cf_model(
    session: AsyncSession,
    *,
    l2: float = EASE_L2,
    neighbours: int = NEIGHBOURS_PER_ITEM,
    max_items: int = CF_MAX_ITEMS,
    min_users: int = CF_MIN_USERS,
) -> CFBuildReport:
    """Train EASE on all users' rated, watched or liked films (not 🚫 ones) and store it as the
    newest model. The caller commits. With fewer than two films it stores an empty model."""
    started = time.perf_counter()
    rows = (
        await session.execute(
            select(UserFilm.user_id, UserFilm.tmdb_id).where(
                ~UserFilm.not_interested,
                or_(UserFilm.rating.is_not(None), UserFilm.watched, UserFilm.liked),
            )
        )
    ).all()
    users_arr = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    items_arr = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    item_ids, item_pos, counts = np.unique(items_arr, return_inverse=True, return_counts=True)
    keep = counts >= min_users
    if keep.sum() > max_items:
        threshold = np.sort(counts[keep])[-max_items]
        keep &= counts >= threshold
        keep &= np.cumsum(keep) <= max_items
    kept_ids = item_ids[keep]
    kept_counts = counts[keep]
    new_index = np.full(len(item_ids), -1, dtype=np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    col = new_index[item_pos] if len(rows) else np.zeros(0, dtype=np.int64)
    mask = col >= 0
    user_ids, user_pos = np.unique(users_arr[mask], return_inverse=True)

    def train() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if len(kept_ids) < 2:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.float32)
        x = np.zeros((len(user_ids), len(kept_ids)), dtype=np.float32)
        x[user_pos, col[mask]] = 1.0
        return truncate_by_target(ease_weights(x, l2), neighbours)

    sources, targets, weights = await asyncio.to_thread(train)

    await session.execute(delete(CFNeighbour))
    await session.execute(delete(CFItem))
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(
        "cf_items",
        records=list(zip(kept_ids.tolist(), kept_counts.tolist(), strict=True)),
        columns=["tmdb_id", "n_ratings"],
    )
    await driver.copy_records_to_table(
        "cf_neighbours",
        records=list(
            zip(kept_ids[sources].tolist(), kept_ids[targets].tolist(), weights.tolist(), strict=True)
        ),
        columns=["source_id", "target_id", "weight"],
    )
    seconds = time.perf_counter() - started
    info = CFModelInfo(
        n_users=len(user_ids), n_items=len(kept_ids), n_ratings=int(mask.sum()), l2=l2, seconds=seconds
    )
    session.add(info)
    await session.flush()
    report = CFBuildReport(info.id, len(user_ids), len(kept_ids), int(mask.sum()), len(weights), seconds)
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
