"""Storing an import's films, a chunk at a time (`domain.imports.ImportService.store_export`).

`ImportStore.match_and_store` matches a chunk of an export's films to TMDB (by IMDb id with
`domain.imdb.ImdbMatcher`, by name and year with `domain.matching.TitleMatcher`), merges the
entries that matched the same film and stores them (log rows, reviews, viewings) in one
committed transaction; the films TMDB failed on come back deferred. `ImportTally` is what one
import has stored so far, across its chunks and retry rounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.films import FilmRepository
from db.repositories.library import LibraryRepository, LogRow, ReviewRow
from db.repositories.matches import TitleMatchRepository
from domain.entities import Source
from domain.imdb import ImdbMatcher, ImdbOutcome
from domain.letterboxd import LetterboxdFilm
from domain.matching import MatchOutcome, Pair, TitleMatcher
from domain.ports import MovieSource, MovieSourceError


@dataclass(slots=True)
class ImportTally:
    """What one import has stored so far (kept by `domain.imports.ImportService.store_export`
    across its chunks and retry rounds, filled by `ImportStore.match_and_store`)."""

    source: Source = Source.LETTERBOXD
    stored: dict[int, LogRow] = field(default_factory=dict)
    reviews: dict[int, ReviewRow] = field(default_factory=dict)
    viewings: set[tuple[int, dt.date]] = field(default_factory=set)
    unmatched: list[LetterboxdFilm] = field(default_factory=list)
    matched: int = 0
    #: TMDB searches that answered, and the last TMDB failure
    answered: int = 0
    error: MovieSourceError | None = None
    retried: bool = False

    def note(self, outcome: MatchOutcome | ImdbOutcome) -> None:
        """Count a match round's answered TMDB searches and keep its failure, if any."""
        self.answered += outcome.answered
        self.error = outcome.error or self.error


class ImportStore:
    """Matches and stores an import's films for one session. `source`: TMDB (None: the catalog
    only). Match decisions are committed on this session as they are made."""

    def __init__(self, session: AsyncSession, source: MovieSource | None) -> None:
        self.session = session
        self.library = LibraryRepository(session)
        self.matcher = TitleMatcher(
            FilmRepository(session), TitleMatchRepository(session), source, checkpoint=session.commit
        )
        self.imdb_matcher = ImdbMatcher(
            FilmRepository(session),
            TitleMatchRepository(session),
            source,
            self.matcher,
            checkpoint=session.commit,
        )

    async def match_and_store(
        self, user_id: int, films: Sequence[LetterboxdFilm], tally: ImportTally
    ) -> list[LetterboxdFilm]:
        """Match films and store those decided, in one transaction (committed); returns the
        films TMDB failed on (deferred: not stored, not counted). Films with an IMDb id are
        matched by it, the others by name and year."""
        decided: dict[str | Pair, int | None] = {}
        by_title = [(f.name, f.year) for f in films if f.imdb_id is None]
        if by_title:
            outcome = await self.matcher.match_deferring(by_title)
            tally.note(outcome)
            decided.update(outcome.decided)
        by_imdb = [(f.imdb_id, (f.name, f.year)) for f in films if f.imdb_id is not None]
        if by_imdb:
            found = await self.imdb_matcher.match_deferring(by_imdb)
            tally.note(found)
            decided.update(found.decided)
        groups: dict[int, list[LetterboxdFilm]] = {}
        deferred: list[LetterboxdFilm] = []
        for film in films:
            key: str | Pair = film.imdb_id or (film.name, film.year)
            if key not in decided:
                deferred.append(film)
            elif (tmdb_id := decided[key]) is None:
                tally.unmatched.append(film)
            else:
                groups.setdefault(tmdb_id, []).append(film)
        rows = [_log_row(i, [*_earlier(tally.stored.get(i)), *group]) for i, group in groups.items()]
        review_rows = [r for r in (_review_row(i, group) for i, group in groups.items()) if r]
        watches = [
            (i, day, rating) for i, group in groups.items() for f in group for day, rating in f.watches
        ]
        await self.library.merge_log(user_id, rows, source=tally.source)
        await self.library.merge_reviews(user_id, review_rows, source=tally.source)
        await self.library.merge_watches(user_id, watches)
        await self.session.commit()
        tally.stored.update({r.tmdb_id: r for r in rows})
        tally.reviews.update({r.tmdb_id: r for r in review_rows})
        tally.viewings.update((i, day) for i, day, _ in watches)
        tally.matched += sum(len(group) for group in groups.values())
        return deferred


def _earlier(row: LogRow | None) -> Sequence[LetterboxdFilm]:
    """A film already stored by an earlier chunk, as an entry to merge with (two spellings of
    one film can land in different chunks)."""
    if row is None:
        return ()
    return (
        LetterboxdFilm(
            name="",
            year=None,
            rating=row.rating,
            watched=row.watched,
            watched_on=row.watched_on,
            liked=row.liked,
            on_watchlist=row.on_watchlist,
            rated_on=row.rated_at.date() if row.rating is not None and row.rated_at is not None else None,
        ),
    )


def _log_row(tmdb_id: int, group: Iterable[LetterboxdFilm]) -> LogRow:
    """Merge the export's entries that matched the same TMDB film (e.g. two spellings): the
    most recently given rating (`rated_on`; undated ones count as oldest, later entries win
    ties). `rated_at` is that rating's date (midnight UTC; None when its row has no date), or
    for an unrated film its last watch date (history recency)."""
    films = list(group)
    rated = [(f.rated_on or dt.date.min, i, f) for i, f in enumerate(films) if f.rating is not None]
    dates = [f.watched_on for f in films if f.watched_on is not None]
    chosen = max(rated, key=lambda item: item[:2])[2] if rated else None
    latest = chosen.rated_on if chosen is not None else max(dates, default=None)
    return LogRow(
        tmdb_id=tmdb_id,
        rating=chosen.rating if chosen is not None else None,
        watched=any(f.watched for f in films),
        watched_on=max(dates) if dates else None,
        liked=any(f.liked for f in films),
        on_watchlist=any(f.on_watchlist for f in films) and not any(f.watched for f in films),
        rated_at=_midnight(latest),
    )


def _midnight(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime.combine(day, dt.time(), dt.UTC)


def _review_row(tmdb_id: int, group: Iterable[LetterboxdFilm]) -> ReviewRow | None:
    reviewed = [f for f in group if f.review]
    if not reviewed:
        return None
    latest = max(reviewed, key=lambda f: (f.reviewed_on is not None, f.reviewed_on))
    assert latest.review is not None
    return ReviewRow(
        tmdb_id=tmdb_id,
        rating=latest.review_rating if latest.review_rating is not None else latest.rating,
        text=latest.review,
        reviewed_on=latest.reviewed_on,
    )
