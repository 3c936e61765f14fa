"""The "more like this" rules (recommender/similar.py): each reason holds exactly when its
written rule does, closeness stays in [0, 1] and grows with every signal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender.similar import (
    CLOSENESS_SHARE,
    FANS_MIN_SHARE,
    FANS_MIN_WEIGHT,
    W_CF,
    W_DIRECTOR,
    Closeness,
    FilmFacts,
    SimilarReason,
    SimilarReasonKind,
    closeness,
    combined,
    fans_loved,
    percentiles,
    relative,
    shared_genres,
    shared_keywords,
    similar_reasons,
)

ALIEN = FilmFacts(
    348,
    genres=("Horror", "Science Fiction"),
    keywords=("alien", "space", "spaceship", "android", "survival", "xenomorph"),
    directors=("Ridley Scott",),
)


def film(
    genres: tuple[str, ...] = (), keywords: tuple[str, ...] = (), directors: tuple[str, ...] = ()
) -> FilmFacts:
    return FilmFacts(1, genres, keywords, directors)


def kinds(reasons: tuple[SimilarReason, ...]) -> list[SimilarReasonKind]:
    return [r.kind for r in reasons]


def test_same_director_names_the_shared_directors_only_when_known() -> None:
    blade_runner = film(("Science Fiction",), directors=("Ridley Scott",))
    assert similar_reasons(ALIEN, Closeness(blade_runner), 0.0)[0] == SimilarReason(
        SimilarReasonKind.SAME_DIRECTOR, ("Ridley Scott",)
    )
    other = film(("Science Fiction",), directors=("James Cameron",))
    unknown = film(("Science Fiction",))  # a catalog without directors
    for candidate in (other, unknown):
        assert SimilarReasonKind.SAME_DIRECTOR not in kinds(similar_reasons(ALIEN, Closeness(candidate), 0.0))
    no_directors = FilmFacts(348, ALIEN.genres, ALIEN.keywords)
    assert SimilarReasonKind.SAME_DIRECTOR not in kinds(
        similar_reasons(no_directors, Closeness(unknown), 0.0)
    )


@pytest.mark.parametrize(
    ("weight", "strongest", "holds"),
    [
        (0.10, 0.10, True),  # the strongest neighbour itself
        (0.05, 0.10, True),  # exactly half of it
        (0.049, 0.10, False),  # under half
        (0.0124, 0.0145, True),  # a small model: weights shrink, the share decides
        (FANS_MIN_WEIGHT * 0.9, FANS_MIN_WEIGHT * 0.9, False),  # below the absolute floor
        (0.0, 0.0, False),  # not a neighbour
        (-0.02, 0.1, False),  # a negative weight
    ],
)
def test_fans_loved_needs_a_strong_enough_cf_weight(weight: float, strongest: float, holds: bool) -> None:
    assert fans_loved(weight, strongest) is holds
    reasons = similar_reasons(ALIEN, Closeness(film(), cf_weight=weight), strongest)
    assert (SimilarReasonKind.FANS_LOVED in kinds(reasons)) is holds
    if holds:
        assert weight >= FANS_MIN_WEIGHT and weight >= FANS_MIN_SHARE * strongest


def test_tmdb_similar_only_when_tmdb_lists_it() -> None:
    assert kinds(similar_reasons(ALIEN, Closeness(film(), tmdb=True), 0.0)) == [
        SimilarReasonKind.TMDB_SIMILAR
    ]
    assert similar_reasons(ALIEN, Closeness(film(), tmdb=False), 0.0) == ()


def test_shared_genres_need_half_of_the_asked_films_genres() -> None:
    assert shared_genres(ALIEN, film(("Science Fiction", "Horror", "Action"))) == (
        "Horror",
        "Science Fiction",
    )
    assert shared_genres(ALIEN, film(("Science Fiction", "Drama"))) == ("Science Fiction",)  # 1 of 2
    assert shared_genres(ALIEN, film(("Drama",))) == ()
    three = FilmFacts(1, genres=("Action", "Thriller", "Science Fiction"))
    assert shared_genres(three, film(("Science Fiction",))) == ()  # 1 of 3 is under half
    assert shared_genres(three, film(("science fiction", "thriller"))) == ("Thriller", "Science Fiction")
    assert shared_genres(FilmFacts(1), film(("Drama",))) == ()  # the asked film has no genres


def test_shared_keywords_need_two_and_name_at_most_three() -> None:
    assert shared_keywords(ALIEN, film(keywords=("space", "romance"))) == ()
    assert shared_keywords(ALIEN, film(keywords=("space", "alien"))) == ("alien", "space")
    many = film(keywords=("xenomorph", "survival", "android", "spaceship", "space"))
    assert shared_keywords(ALIEN, many) == ("space", "spaceship", "android")


def test_reasons_come_in_order_and_none_for_an_unrelated_film() -> None:
    aliens = Closeness(
        film(("Action", "Science Fiction"), ("alien", "xenomorph"), ("James Cameron",)),
        cf_weight=0.2,
        tmdb=True,
    )
    assert kinds(similar_reasons(ALIEN, aliens, 0.2)) == [
        SimilarReasonKind.FANS_LOVED,
        SimilarReasonKind.TMDB_SIMILAR,
        SimilarReasonKind.SHARED_KEYWORDS,
        SimilarReasonKind.SHARED_GENRES,
    ]
    amelie = Closeness(film(("Comedy", "Romance"), ("paris",)), cf_weight=0.001)
    assert similar_reasons(ALIEN, amelie, 0.2) == ()


def test_closeness_adds_up_its_terms() -> None:
    assert closeness(ALIEN, Closeness(film()), 0.0) == 0.0
    everything = Closeness(
        film(ALIEN.genres, ALIEN.keywords[:3], ("Ridley Scott",)), cf_weight=0.3, embedding=1.0, tmdb=True
    )
    assert closeness(ALIEN, everything, 0.3) == pytest.approx(1.0)
    half_cf = Closeness(film(), cf_weight=0.15)
    assert closeness(ALIEN, half_cf, 0.3) == pytest.approx(W_CF * 0.5)
    same_director = Closeness(film(directors=("ridley scott",)))
    assert closeness(ALIEN, same_director, 0.3) == pytest.approx(W_DIRECTOR)


weights = st.floats(-1, 1, allow_nan=False)


@given(cf=weights, top=weights, emb=st.none() | weights, tmdb=st.booleans(), n_genres=st.integers(0, 3))
def test_closeness_is_within_0_and_1_and_monotone_in_tmdb(
    cf: float, top: float, emb: float | None, tmdb: bool, n_genres: int
) -> None:
    candidate = Closeness(film(("Horror", "Science Fiction", "Drama")[:n_genres]), cf, emb, tmdb)
    value = closeness(ALIEN, candidate, top)
    assert 0.0 <= value <= 1.0 + 1e-9
    listed = Closeness(candidate.film, cf, emb, True)
    assert closeness(ALIEN, listed, top) >= value


def test_combined_mixes_closeness_and_taste() -> None:
    assert combined(1.0, 0.0) == pytest.approx(CLOSENESS_SHARE)
    assert combined(0.0, 1.0) == pytest.approx(1 - CLOSENESS_SHARE)
    assert combined(0.5, 0.9) > combined(0.5, 0.1)
    assert percentiles([3, 1, 2]) == {3: 1.0, 1: 0.5, 2: 0.0}
    assert percentiles([7]) == {7: 1.0}


def test_relative_closeness_makes_the_closest_candidate_one() -> None:
    assert relative({1: 0.25, 2: 0.075, 3: -0.1}) == {1: 1.0, 2: pytest.approx(0.3), 3: 0.0}
    assert relative({1: 0.0}) == {1: 0.0}
    assert relative({}) == {}
