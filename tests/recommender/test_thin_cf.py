"""A thin CF signal (a fresh install): the blend toward the fresh weights, and its terms."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender import Candidate, HistoryEntry, build_taste, score_candidates
from recommender.scoring import (
    CF_FULL_HISTORY,
    DEFAULT_WEIGHTS,
    ERA_WIDTH_YEARS,
    VOTES_CAP,
    RankWeights,
    cf_strength,
    era_term,
    genres_term,
    votes_term,
)
from recommender.taste import ERA_FILMS
from tests.recommender.helpers import film, scifi_lover


def test_era_is_the_median_year_of_the_most_recent_films() -> None:
    recent = [HistoryEntry(film(i, year=2015 + i % 3), 4.0) for i in range(1, ERA_FILMS + 1)]
    old = [HistoryEntry(film(100 + i, year=1950), 4.0) for i in range(40)]
    assert build_taste(recent + old).era_year == 2016  # the old films are past ERA_FILMS
    assert build_taste(old + recent).era_year == 1950
    assert build_taste([HistoryEntry(film(1, year=None), 4.0)]).era_year is None


def test_era_term_is_a_gaussian_kernel_on_years() -> None:
    assert era_term(2000, 2000.0) == 1.0
    assert era_term(2000 + int(ERA_WIDTH_YEARS), 2000.0) == pytest.approx(math.exp(-1))
    assert era_term(1970, 2000.0) < era_term(1990, 2000.0) < era_term(1995, 2000.0)
    assert era_term(None, 2000.0) == era_term(2000, None) == 0.0


def test_votes_term_grows_with_votes_and_saturates() -> None:
    assert votes_term(0) == 0.0
    assert votes_term(100) < votes_term(1000) < votes_term(VOTES_CAP) == 1.0
    assert votes_term(VOTES_CAP * 10) == 1.0


def test_genres_term_is_the_mean_affinity_of_the_films_genres() -> None:
    taste = scifi_lover()
    sci_fi = taste.genre_affinity["Science Fiction"]
    romance = taste.genre_affinity["Romance"]
    assert sci_fi > 0 > romance
    assert genres_term(("Science Fiction", "Romance"), taste) == pytest.approx((sci_fi + romance) / 2)
    assert genres_term(("Western",), taste) == 0.0
    assert genres_term((), taste) == 0.0


@given(st.integers(0, 50), st.integers(0, 50))
def test_cf_strength_is_the_known_share_of_the_loved_films(in_model: int, loved: int) -> None:
    in_model = min(in_model, loved)
    strength = cf_strength(in_model, loved)
    assert 0.0 <= strength <= 1.0
    if loved == 0 or in_model == 0:
        assert strength == 0.0
    if in_model >= min(loved, CF_FULL_HISTORY) and loved:
        assert strength == 1.0


def _candidates() -> list[Candidate]:
    return [
        Candidate(film(1, year=1979, vote_average=8.2, vote_count=9000), content=0.2, cf=0.0),
        Candidate(film(2, year=2015, vote_average=6.0, vote_count=300), content=0.6, cf=2.0, cf_support=5),
    ]


def test_full_cf_strength_scores_as_before_and_leaves_out_the_fresh_terms() -> None:
    taste = scifi_lover()
    scored = {s.film.tmdb_id: s for s in score_candidates(_candidates(), taste, exclude=())}
    assert not {"genres", "era"} & set(scored[1].components)
    assert scored[2].components["cf"] > 0
    # votes is a term of both weight sets: at full strength it has the personalised weight
    assert scored[1].components["votes"] == pytest.approx(DEFAULT_WEIGHTS.votes * votes_term(9000))


def test_without_cf_the_fresh_weights_take_over() -> None:
    taste = scifi_lover()  # era_year: the median of 1979…2001
    weights = RankWeights(fresh_era=2.0)
    scored = {
        s.film.tmdb_id: s
        for s in score_candidates(_candidates(), taste, exclude=(), cf_strength=0.0, weights=weights)
    }
    one = scored[1].components
    assert one["cf"] == 0.0 and scored[2].components["cf"] == 0.0  # no CF at strength 0
    assert one["era"] == pytest.approx(2.0 * era_term(1979, taste.era_year))
    assert one["votes"] == pytest.approx(weights.fresh_votes * votes_term(9000))
    assert one["content"] == pytest.approx(weights.fresh_content * 0.2)
    assert scored[1].score == pytest.approx(sum(one.values()))
    # a well-known, well-rated film of the user's era beats a middling newer one
    assert scored[1].score > scored[2].score


def test_half_strength_blends_the_two_weight_sets() -> None:
    taste = scifi_lover()
    w = RankWeights()
    [half] = [
        s for s in score_candidates(_candidates(), taste, exclude=(), cf_strength=0.5) if s.film.tmdb_id == 1
    ]
    assert half.components["content"] == pytest.approx((0.5 * w.content + 0.5 * w.fresh_content) * 0.2)
    assert half.components["era"] == pytest.approx(0.5 * w.fresh_era * era_term(1979, taste.era_year))
