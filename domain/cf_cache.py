"""The per-process cache of the stored collaborative-filtering model (`CFModelCache`): loads the
newest model that domain/cf.py trained and stored in `cf_items` / `cf_neighbours` /
`cf_transitions` into a recommender.cf.CFModel, once per version.

`CFModelCache.get` costs one tiny query per call (the newest model id) and reloads the edges,
with a binary COPY into numpy, only when a newer model exists.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.copy import copy_out
from db.models import CFModelInfo
from recommender.cf import CFModel
from recommender.sequence import SequenceModel

log = structlog.get_logger(__name__)

#: The stored model as binary COPY rows.
_ITEM_COLUMNS = (("tmdb_id", ">i4"), ("n_ratings", ">i4"))
_EDGE_COLUMNS = (("source_id", ">i4"), ("target_id", ">i4"), ("weight", ">f8"))


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
        item_rows = await copy_out(driver, "SELECT tmdb_id, n_ratings FROM cf_items", _ITEM_COLUMNS)
        edge_rows = await copy_out(
            driver, "SELECT source_id, target_id, weight FROM cf_neighbours", _EDGE_COLUMNS
        )
        step_rows = await copy_out(
            driver, "SELECT source_id, target_id, weight FROM cf_transitions", _EDGE_COLUMNS
        )
        model = CFModel.from_arrays(
            version,
            item_rows["tmdb_id"],
            item_rows["n_ratings"],
            edge_rows["source_id"],
            edge_rows["target_id"],
            edge_rows["weight"],
            transitions=SequenceModel.from_arrays(
                step_rows["source_id"], step_rows["target_id"], step_rows["weight"]
            ),
        )
        log.info(
            "cf_model_loaded",
            version=version,
            items=len(model),
            edges=len(edge_rows["weight"]),
            transitions=len(step_rows["weight"]),
            ms=round((time.perf_counter() - started) * 1000),
        )
        return model
