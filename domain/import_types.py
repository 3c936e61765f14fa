"""The value types of a Letterboxd or IMDb import (`domain.imports.ImportService`).

Holds `ImportReport` (the outcome of an import, stored as JSON in `imports.report`),
`ImportProgress` (where a running import is), `PendingImport` (a queued or running import and
where it reports), `QueuedImport` (what `ImportService.start` queued), `HistoryUse` (whether
the recommendations use an imported history yet) and `ImportOutcome` (what a finished import
job tells the chat). Pure: no database, no network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from domain.entities import Source
from domain.letterboxd import LetterboxdFilm, LetterboxdFormatError, Problem


@dataclass(frozen=True, slots=True)
class ImportReport:
    """Outcome of an import. Film counts are of distinct films (name + year) of the export.

    - `films`: films in the export; `matched` + `unmatched` + `unchecked` = films (fewer when
      cancelled).
    - `unmatched`: films TMDB (or the catalog) has no film for.
    - `unchecked`: films that could not be checked because TMDB kept failing on them; nothing
      is decided about them, and importing the same file again later finishes them.
    - `ratings`, `watched`, `reviews`, `likes`, `watchlist`: matched films stored with each.
    - `viewings`: dated diary entries stored (a rewatch is one more viewing).
    - `skipped_rows`, `problems`: rows that could not be read, and why (see `Problem`).
    - `unmatched_films`: the films no TMDB film fits, for the unmatched CSV.
    - `source`: the export's site, "letterboxd" or "imdb" (`domain.entities.Source`).
    """

    films: int
    matched: int = 0
    unmatched: int = 0
    unchecked: int = 0
    ratings: int = 0
    watched: int = 0
    reviews: int = 0
    likes: int = 0
    watchlist: int = 0
    viewings: int = 0
    skipped_rows: int = 0
    problems: tuple[Problem, ...] = ()
    unmatched_films: tuple[LetterboxdFilm, ...] = field(default=(), repr=False)
    source: str = Source.LETTERBOXD.value

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (the `imports.report` column); `from_json` reads it back."""
        data = asdict(self)
        data["problems"] = [[p.file, p.row, p.code, p.value] for p in self.problems]
        data["unmatched_films"] = [_film_json(f) for f in self.unmatched_films]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportReport:
        """The report `to_json` wrote (the `imports.report` column of a finished import)."""
        values = dict(data)
        values["problems"] = tuple(Problem(*p) for p in data.get("problems", ()))
        values["unmatched_films"] = tuple(_film_from_json(f) for f in data.get("unmatched_films", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Where a running import is: `done` of `total` films processed, `matched` of them found;
    `history_done` once every rated, watched or logged film is stored (the watchlist and
    likes-only films come last)."""

    done: int
    total: int
    matched: int
    history_done: bool


@dataclass(frozen=True, slots=True)
class PendingImport:
    """A queued or running import and where it reports: the chat, its progress message (None
    until the handler has sent it) and the user's language."""

    import_id: int
    user_id: int
    chat_id: int
    message_id: int | None
    locale: str


class HistoryUse(Enum):
    """Whether the recommendations already use an imported history, as the report says it.

    - READY: the user's taste vector was recomputed with every film of their history;
    - PENDING: some films have no vector yet (they are queued): the taste vector follows
      when they are embedded (`bot.jobs` refreshes it after each batch);
    - EMPTY: the history has no film the recommender weighs (nothing matched, or only
      watchlist entries), so there is nothing to say.
    """

    READY = "ready"
    PENDING = "pending"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What a finished import job tells the chat: `status` is "done", "cancelled" or "failed";
    `error` is set when the file could not be read at all (then `report` is None). `history`
    says whether the recommendations use the history yet (None: not known, nothing is said)."""

    import_id: int
    status: str
    report: ImportReport | None
    error: LetterboxdFormatError | None = None
    history: HistoryUse | None = None


@dataclass(frozen=True, slots=True)
class QueuedImport:
    """An import `start` queued: its id and what the file holds."""

    import_id: int
    films: int
    skipped_rows: int


def _film_json(film: LetterboxdFilm) -> dict[str, Any]:
    return {
        "name": film.name,
        "year": film.year,
        "rating": None if film.rating is None else str(film.rating),
        "watched": film.watched,
        "watched_on": None if film.watched_on is None else film.watched_on.isoformat(),
        "liked": film.liked,
        "on_watchlist": film.on_watchlist,
        "review": film.review,
        "imdb_id": film.imdb_id,
    }


def _film_from_json(data: dict[str, Any]) -> LetterboxdFilm:
    return LetterboxdFilm(
        name=data["name"],
        year=data["year"],
        rating=None if data["rating"] is None else Decimal(data["rating"]),
        watched=data["watched"],
        watched_on=None if data["watched_on"] is None else dt.date.fromisoformat(data["watched_on"]),
        liked=data["liked"],
        on_watchlist=data["on_watchlist"],
        review=data["review"],
        imdb_id=data.get("imdb_id"),
    )
