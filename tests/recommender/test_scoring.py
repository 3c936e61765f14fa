"""Taste profile and candidate scoring: examples and hypothesis properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender import (
    Candidate,
    FilmFeatures,
    HistoryEntry,
    Reason,
    ReasonKind,
    TasteProfile,
    build_taste,
    is_cold_start,
    score_candidates,
)
from recommender.scoring import (
    BAYES_PRIOR_MEAN,
    COLD_START_MIN_FILMS,
    POSITIVE_AFFINITY_MIN,
    bayesian_rating,
    decade_of,
    popularity_term,
)

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Science Fiction", "Thriller")
KEYWORDS = ("space", "robot", "heist", "wedding", "dystopia", "ghost", "friendship", "revenge")


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
    )


# --- hypothesis strategies (also used by test_picks) -----------------------------------------

film_ids = st.integers(min_value=1, max_value=40)

films = st.builds(
    FilmFeatures,
    tmdb_id=film_ids,
    title=st.text(min_size=1, max_size=12),
    year=st.none() | st.integers(min_value=1900, max_value=2030),
    genres=st.lists(st.sampled_from(GENRES), max_size=3, unique=True).map(tuple),
    keywords=st.lists(st.sampled_from(KEYWORDS), max_size=4, unique=True).map(tuple),
    popularity=st.floats(min_value=0, max_value=5000, allow_nan=False),
    vote_average=st.floats(min_value=0, max_value=10, allow_nan=False),
    vote_count=st.integers(min_value=0, max_value=100_000),
)

history_entries = st.builds(
    HistoryEntry,
    film=films,
    rating=st.none() | st.sampled_from([x / 2 for x in range(1, 11)]),
    liked=st.booleans(),
)

candidates = st.builds(
    Candidate,
    film=films,
    seeds=st.lists(film_ids, max_size=4).map(tuple),
    from_popular=st.booleans(),
)

histories = st.lists(history_entries, max_size=12)
candidate_lists = st.lists(candidates, max_size=30)
exclusions = st.frozensets(film_ids, max_size=10)


def scifi_lover() -> TasteProfile:
    """High ratings on Alien, Blade Runner, The Matrix (and two dramas); low on a romcom."""
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


# --- build_taste -----------------------------------------------------------------------------


def test_build_taste_affinities_are_mean_centred_and_shrunk() -> None:
    taste = scifi_lover()
    assert taste.mean_rating == pytest.approx(23.0 / 6)
    assert taste.n_rated == 6
    assert taste.genre_affinity["Science Fiction"] > 0 > taste.genre_affinity["Romance"]
    # three sci-fi films, signals (5, 4.5, 5) − mean, shrunk by 3 pseudo-counts
    expected = sum(r - 23.0 / 6 for r in (5.0, 4.5, 5.0)) / (3 + 3)
    assert taste.genre_affinity["Science Fiction"] == pytest.approx(expected)
    assert taste.top_genres[0] == "Science Fiction"
    assert "Romance" not in taste.top_genres and "Comedy" not in taste.top_genres
    assert taste.seed_titles[348] == "Alien"


def test_build_taste_decades_and_usual_decades() -> None:
    taste = scifi_lover()
    assert decade_of(1979) == 1970 and decade_of(2000) == 2000 and decade_of(None) is None
    assert taste.decade_counts == {1970: 1, 1980: 1, 1990: 3, 2000: 1}
    assert taste.usual_decades[0] == 1990
    assert set(taste.usual_decades) == {1970, 1980, 1990, 2000}  # each ≥ 15% of 6 films


def test_usual_decades_fall_back_to_top_two_when_history_is_spread() -> None:
    history = [HistoryEntry(film(i, year=1900 + 10 * i), None) for i in range(1, 14)]
    history.append(HistoryEntry(film(50, year=1915), None))
    taste = build_taste(history)
    assert taste.usual_decades == (1910, 2030)  # 1910: 2 of 14 < 15%; then the latest single


def test_liked_unrated_counts_half_a_point_and_watched_only_nothing() -> None:
    taste = build_taste(
        [
            HistoryEntry(film(1, genres=("Horror",)), None, liked=True),
            HistoryEntry(film(2, genres=("Comedy",)), None),
        ]
    )
    assert taste.mean_rating is None
    assert taste.n_rated == 1
    assert taste.genre_affinity["Horror"] == pytest.approx(0.5 / (1 + 3))
    assert "Comedy" not in taste.genre_affinity
    assert taste.decade_counts == {2010: 2}
    assert set(taste.seed_titles) == {1, 2}


def test_cold_start_threshold() -> None:
    rated = [HistoryEntry(film(i), 4.0) for i in range(COLD_START_MIN_FILMS)]
    assert is_cold_start(build_taste([]))
    assert is_cold_start(build_taste(rated[:-1]))
    assert not is_cold_start(build_taste(rated))
    watched_only = [HistoryEntry(film(100 + i), None) for i in range(20)]
    assert is_cold_start(build_taste(watched_only))


@given(histories)
def test_build_taste_properties(history: list[HistoryEntry]) -> None:
    taste = build_taste(history)
    assert set(taste.seed_titles) == {entry.film.tmdb_id for entry in history}
    assert len(taste.top_genres) <= 3
    assert all(taste.genre_affinity[g] >= POSITIVE_AFFINITY_MIN for g in taste.top_genres)
    assert all(math.isfinite(v) and abs(v) <= 4.5 for v in taste.genre_affinity.values())
    assert all(math.isfinite(v) and abs(v) <= 4.5 for v in taste.keyword_affinity.values())
    assert set(taste.usual_decades) <= set(taste.decade_counts)
    assert bool(taste.usual_decades) == bool(taste.decade_counts)


# --- film-level terms ------------------------------------------------------------------------


def test_bayesian_prior_prefers_many_votes_over_few_perfect_ones() -> None:
    assert bayesian_rating(8.5, 10_000) > bayesian_rating(9.5, 3)
    assert bayesian_rating(0.0, 0) == BAYES_PRIOR_MEAN
    assert bayesian_rating(9.5, 3) == pytest.approx((3 * 9.5 + 200 * 6.5) / 203)
    trusted = Candidate(film(1, vote_average=8.5, vote_count=10_000))
    hyped = Candidate(film(2, vote_average=9.5, vote_count=3))
    ranked = score_candidates([hyped, trusted], build_taste([]), exclude=())
    assert [s.candidate.film.tmdb_id for s in ranked] == [1, 2]


def test_popularity_term_is_log_scaled_and_capped() -> None:
    assert popularity_term(0.0) == 0.0
    assert popularity_term(1000.0) == pytest.approx(1.0)
    assert popularity_term(50_000.0) == 1.0
    assert 0.5 < popularity_term(40.0) < 0.6


# --- score_candidates ------------------------------------------------------------------------


def test_scifi_lover_scores_scifi_over_romcom_of_similar_quality() -> None:
    taste = scifi_lover()
    scifi = Candidate(film(1, "Arrival", genres=("Science Fiction", "Drama"), vote_average=7.6))
    romcom = Candidate(film(2, "Love Actually", genres=("Romance", "Comedy"), vote_average=7.7))
    ranked = score_candidates([romcom, scifi], taste, exclude=())
    assert [s.candidate.film.title for s in ranked] == ["Arrival", "Love Actually"]
    assert Reason(ReasonKind.SHARED_GENRES, ("Science Fiction",)) in ranked[0].reasons


def test_more_seeds_beat_fewer_with_the_same_features() -> None:
    taste = scifi_lover()
    three = Candidate(film(1), seeds=(348, 78, 603))
    one = Candidate(film(2), seeds=(348,))
    ranked = score_candidates([one, three], taste, exclude=())
    assert [s.candidate.film.tmdb_id for s in ranked] == [1, 2]
    assert ranked[0].components["seeds"] == pytest.approx(0.5 * math.log1p(3))


def test_reasons_name_seed_titles_best_rated_first() -> None:
    taste = scifi_lover()
    (scored,) = score_candidates([Candidate(film(1), seeds=(78, 509, 348))], taste, exclude=())
    assert scored.reasons[0] == Reason(ReasonKind.SIMILAR_TO, ("Alien", "Blade Runner"))


def test_cold_start_ignores_seeds_and_keywords_and_ranks_by_quality() -> None:
    taste = build_taste([HistoryEntry(film(348, "Alien", keywords=("space",)), 5.0)])
    assert is_cold_start(taste)
    seeded = Candidate(film(1, keywords=("space",), vote_average=6.0), seeds=(348,))
    great = Candidate(film(2, vote_average=8.5, vote_count=20_000, popularity=80))
    ranked = score_candidates([seeded, great], taste, exclude=())
    assert [s.candidate.film.tmdb_id for s in ranked] == [2, 1]
    assert all(s.components["seeds"] == 0.0 and s.components["keywords"] == 0.0 for s in ranked)
    assert ranked[1].reasons[0] == Reason(ReasonKind.SIMILAR_TO, ("Alien",))


def test_duplicates_merge_seeds_and_history_and_exclusions_are_dropped() -> None:
    taste = scifi_lover()
    ranked = score_candidates(
        [
            Candidate(film(1), seeds=(348,)),
            Candidate(film(1), seeds=(78, 348), from_popular=True),
            Candidate(film(2)),
            Candidate(film(348, "Alien")),  # already in the history
        ],
        taste,
        exclude={2},
    )
    assert len(ranked) == 1
    assert ranked[0].candidate.seeds == (78, 348)
    assert ranked[0].candidate.from_popular


def test_fallback_reasons_popular_or_highly_rated() -> None:
    taste = build_taste([])
    plain = Candidate(film(1, vote_average=6.0, genres=()), from_popular=True)
    good = Candidate(film(2, vote_average=8.0, vote_count=3000))
    okay = Candidate(film(3, vote_average=7.0, vote_count=100))
    by_id = {s.candidate.film.tmdb_id: s for s in score_candidates([plain, good, okay], taste, exclude=())}
    assert by_id[1].reasons == (Reason(ReasonKind.POPULAR),)
    assert by_id[2].reasons == (Reason(ReasonKind.HIGHLY_RATED, ("8.0",)),)
    assert by_id[3].reasons == (Reason(ReasonKind.HIGHLY_RATED, ("7.0",)),)


@given(candidate_lists, histories, exclusions)
def test_score_candidates_properties(
    cands: list[Candidate], history: list[HistoryEntry], exclude: frozenset[int]
) -> None:
    taste = build_taste(history)
    ranked = score_candidates(cands, taste, exclude=exclude)
    ids = [s.candidate.film.tmdb_id for s in ranked]
    hidden = exclude | {entry.film.tmdb_id for entry in history}
    assert set(ids) == {c.film.tmdb_id for c in cands} - hidden
    assert len(ids) == len(set(ids))
    assert [(-s.score, s.candidate.film.tmdb_id) for s in ranked] == sorted(
        (-s.score, s.candidate.film.tmdb_id) for s in ranked
    )
    for s in ranked:
        assert math.isfinite(s.score)
        assert s.score == pytest.approx(sum(s.components.values()))
        assert s.reasons
        merged = {seed for c in cands if c.film.tmdb_id == s.candidate.film.tmdb_id for seed in c.seeds}
        assert set(s.candidate.seeds) == merged
