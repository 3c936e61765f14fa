"""Builders and hypothesis strategies shared by the recommender tests."""

from __future__ import annotations

from hypothesis import strategies as st

from recommender import (
    Candidate,
    CandidateSource,
    FilmFeatures,
    HistoryEntry,
    Reason,
    ReasonKind,
    ScoredCandidate,
    TasteProfile,
    build_taste,
)
from recommender.recent import RecentPicks

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Science Fiction", "Thriller")
KEYWORDS = ("space", "robot", "heist", "wedding", "dystopia", "ghost", "friendship", "revenge")
GOOD = (Reason(ReasonKind.HIGHLY_RATED, ("8.0",)),)


def film(
    tmdb_id: int,
    title: str = "",
    *,
    year: int | None = 2010,
    genres: tuple[str, ...] = ("Drama",),
    keywords: tuple[str, ...] = (),
    popularity: float = 20.0,
    vote_average: float = 7.0,
    vote_count: int = 1000,
    original_language: str | None = None,
) -> FilmFeatures:
    return FilmFeatures(
        tmdb_id=tmdb_id,
        title=title or f"Film {tmdb_id}",
        year=year,
        genres=genres,
        keywords=keywords,
        popularity=popularity,
        vote_average=vote_average,
        vote_count=vote_count,
        original_language=original_language,
    )


def scored(features: FilmFeatures, score: float, reasons: tuple[Reason, ...] = GOOD) -> ScoredCandidate:
    """A ScoredCandidate built directly (bypassing score_candidates)."""
    return ScoredCandidate(Candidate(features), score, {"quality": score}, reasons)


def scifi_lover() -> TasteProfile:
    """High ratings on Alien, Blade Runner, The Matrix (and two dramas); low on a romcom.

    Top genres: Science Fiction, Action, Horror; usual decades: 1990s, 2000s, 1980s, 1970s.
    """
    return build_taste(
        [
            HistoryEntry(film(348, "Alien", year=1979, genres=("Horror", "Science Fiction")), 5.0),
            HistoryEntry(film(78, "Blade Runner", year=1982, genres=("Science Fiction", "Drama")), 4.5),
            HistoryEntry(film(603, "The Matrix", year=1999, genres=("Action", "Science Fiction")), 5.0),
            HistoryEntry(film(11, "Drama A", year=1995, genres=("Drama",)), 3.5),
            HistoryEntry(film(12, "Drama B", year=2001, genres=("Drama",)), 3.5),
            HistoryEntry(film(509, "Notting Hill", year=1999, genres=("Romance", "Comedy")), 1.5),
        ]
    )


# --- hypothesis strategies -------------------------------------------------------------------

film_ids = st.integers(min_value=1, max_value=40)
unit = st.floats(min_value=-1.0, max_value=1.0, allow_subnormal=False)


@st.composite
def films(draw: st.DrawFn, ids: st.SearchStrategy[int] = film_ids) -> FilmFeatures:
    tmdb_id = draw(ids)
    return FilmFeatures(
        tmdb_id=tmdb_id,
        title=f"Film {tmdb_id}",
        year=draw(st.none() | st.integers(min_value=1900, max_value=2030)),
        genres=tuple(draw(st.lists(st.sampled_from(GENRES), max_size=3, unique=True))),
        keywords=tuple(draw(st.lists(st.sampled_from(KEYWORDS), max_size=4, unique=True))),
        popularity=draw(st.floats(min_value=0, max_value=5000, allow_nan=False)),
        vote_average=draw(st.floats(min_value=0, max_value=10, allow_nan=False)),
        vote_count=draw(st.integers(min_value=0, max_value=100_000)),
    )


history_entries = st.builds(
    HistoryEntry,
    film=films(),
    rating=st.none() | st.sampled_from([x / 2 for x in range(1, 11)]),
    liked=st.booleans(),
)

candidates = st.builds(
    Candidate,
    film=films(),
    sources=st.frozensets(st.sampled_from(list(CandidateSource))),
    cf=st.just(0.0) | st.floats(min_value=-5.0, max_value=5.0, allow_subnormal=False),
    cf_support=st.integers(min_value=0, max_value=10_000),
    content=st.none() | unit,
    avoid=st.just(0.0) | st.floats(min_value=0.0, max_value=1.0),
    avoid_keyword=st.booleans(),
    cf_seeds=st.lists(film_ids, max_size=4).map(tuple),
    similar_seeds=st.lists(film_ids, max_size=4).map(tuple),
)

#: Candidates without CF or content signal (they keep a cold-start user on the cold branch).
plain_candidates = st.builds(
    Candidate,
    film=films(),
    sources=st.frozensets(st.sampled_from([CandidateSource.POPULAR, CandidateSource.TMDB])),
    avoid=st.just(0.0) | st.floats(min_value=0.0, max_value=1.0),
    avoid_keyword=st.booleans(),
    similar_seeds=st.lists(film_ids, max_size=4).map(tuple),
)

histories = st.lists(history_entries, max_size=12)
candidate_lists = st.lists(candidates, max_size=30)
exclusions = st.frozensets(film_ids, max_size=10)
recents = st.builds(RecentPicks, st.lists(films(), max_size=5).map(tuple))


@st.composite
def scored_lists(
    draw: st.DrawFn, min_size: int = 0, max_size: int = 60, *, distinct: bool = False
) -> list[ScoredCandidate]:
    """ScoredCandidates straight from a strategy: with duplicate ids (unless `distinct`), equal
    scores and unsorted (pick_three must not rely on score_candidates' output)."""
    ids = st.integers(min_value=1, max_value=max(80, 2 * max_size))
    score = st.integers(min_value=-20, max_value=20).map(float) | st.floats(
        min_value=-10.0, max_value=10.0, allow_nan=False
    )
    items = draw(
        st.lists(
            st.tuples(films(ids), score),
            min_size=min_size,
            max_size=max_size,
            unique_by=(lambda item: item[0].tmdb_id) if distinct else None,
        )
    )
    return [scored(f, s) for f, s in items]
