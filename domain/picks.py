"""Value types and small pure helpers of the recommendation service, shared by its callers.

`ShownPick` (a stored pick), `RecommendationResult` (an answer of up to three picks), `Feedback`
(the outcome of a ✅ / ⏭ / 🚫 tap) and `Ranking` (one ranking pass, best candidate first);
`features` (what the recommender needs of a film), `load_signals` (a user's history as the
recommender's signals) and `encode_reasons` (reasons as stored in
`recommendation_items.reason`). `domain.recommendations.RecommendationService` produces them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

from db.repositories.films import FilmRow
from db.repositories.library import HistoryRow, LibraryRepository
from domain.entities import FilmInfo, Slot
from domain.settings import Setting
from recommender import (
    CFModel,
    FilmFeatures,
    Reason,
    ReasonKind,
    ScoredCandidate,
    Signal,
    TasteProfile,
)

#: With fewer picks than this and candidates removed by /settings, the result names the setting
#: to loosen (`RecommendationResult.loosen`).
LOOSEN_BELOW_PICKS = 3
#: Slot reasons pick_three puts first; kept when the reasons are rebuilt with seeds.
SLOT_REASONS = frozenset({ReasonKind.NEW_GENRE, ReasonKind.NEW_DECADE, ReasonKind.HIDDEN_GEM})


@dataclass(frozen=True, slots=True)
class ShownPick:
    """A pick as stored: `item_id` identifies it in callback data. The film's genres are in
    the order its card names them (`genres_first`): the genres its reasons name come first, so
    a card that says "You rate Comedy films highly" lists Comedy among the genres it shows."""

    item_id: int
    film: FilmInfo
    slot: Slot
    reasons: tuple[Reason, ...]


#: Reasons whose values are genre names (recommender.types.ReasonKind).
GENRE_REASONS = frozenset({ReasonKind.SHARED_GENRES, ReasonKind.NEW_GENRE})


def genres_first(film: FilmInfo, genres: Iterable[str]) -> FilmInfo:
    """`film` with those of `genres` it has moved to the front of its genres (in the order of
    `genres`; the others keep TMDB's order after them). A card names a film's first three
    genres (bot.texts.film_line), so what a reason or a wish is about is among them."""
    named = [g for g in dict.fromkeys(genres) if g in film.genres]
    if not named or tuple(named) == film.genres[: len(named)]:
        return film
    return replace(film, genres=(*named, *(g for g in film.genres if g not in named)))


def reason_genres(reasons: Iterable[Reason]) -> list[str]:
    """The genre names the reasons give (SHARED_GENRES, NEW_GENRE), in the reasons' order."""
    return [g for r in reasons if r.kind in GENRE_REASONS for g in r.values]


@dataclass(frozen=True, slots=True)
class RecommendationResult:
    """Up to three picks (fewer only if the catalog runs dry, or the user's standing filters
    leave too few films). `cold_start` when nothing personal (no CF or taste-vector signal)
    reached the ranking: the picks are popular, well-rated films (and preferred genres).
    `loosen`: with fewer than three picks, the /settings setting that removed the most
    candidates (None when the settings removed none)."""

    picks: tuple[ShownPick, ...]
    cold_start: bool
    history_size: int
    loosen: Setting | None = None
    #: The picks come from the user's watchlist (`recommend_from`): their cards need no 🔖.
    from_watchlist: bool = False


class Feedback(Enum):
    """Outcome of a ✅ / ⏭ / 🚫 tap."""

    UPDATED = "updated"
    ALREADY_DONE = "already_done"
    NOT_FOUND = "not_found"


def features(film: FilmInfo | FilmRow) -> FilmFeatures:
    """What the recommender needs of a film, from a full record or a light catalog row."""
    return FilmFeatures(
        tmdb_id=film.tmdb_id,
        title=film.title,
        year=film.year,
        genres=film.genres,
        keywords=film.keywords,
        popularity=film.popularity,
        vote_average=film.vote_average,
        vote_count=film.vote_count,
        original_language=film.original_language,
    )


async def load_signals(library: LibraryRepository, user_id: int) -> list[Signal]:
    """The user's whole history as the recommender's signals, most recent first (with the
    watchlist, a weak positive: `LibraryRepository.signals`)."""
    return _signals(await library.signals(user_id))


async def load_signals_and_history(
    library: LibraryRepository, user_id: int, *, limit: int
) -> tuple[list[Signal], list[HistoryRow]]:
    """`load_signals` and `LibraryRepository.history(user_id, limit=limit)` from one query."""
    signals, history = await library.signals_and_history(user_id, limit=limit)
    return _signals(signals), history


def _signals(rows: Iterable[tuple[int, float | None, bool, bool, bool, bool]]) -> list[Signal]:
    """`LibraryRepository.signals` rows as the recommender's signals, in the same order."""
    return [
        Signal(tmdb_id=t, rating=r, liked=liked, watched=watched, not_interested=no, on_watchlist=wl)
        for t, r, liked, watched, no, wl in rows
    ]


def encode_reasons(reasons: tuple[Reason, ...]) -> str:
    """Reasons as stored in `recommendation_items.reason` (JSON list of [kind, values])."""
    return json.dumps([[r.kind.value, list(r.values)] for r in reasons], ensure_ascii=False)


@dataclass(frozen=True)
class Ranking:
    """Everything one ranking pass worked out, best candidate first."""

    scored: list[ScoredCandidate]
    taste: TasteProfile
    weights: dict[int, float]
    cf_model: CFModel
    #: Films the user logged: rated, liked, watched or 🚫 (a watchlist-only film is not counted).
    history_size: int
    #: The /settings setting that removed the most candidates (None: it removed none).
    loosen: Setting | None = None

    @property
    def personal(self) -> bool:
        """Whether any candidate carries a CF or taste-vector signal for this user."""
        return any(s.candidate.cf or s.candidate.content is not None for s in self.scored)


def _from_features(film: FilmFeatures) -> FilmInfo:
    return FilmInfo(tmdb_id=film.tmdb_id, title=film.title, year=film.year, genres=film.genres)
