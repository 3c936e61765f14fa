"""The taste profile (recommender.taste): examples and hypothesis properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given

from recommender import HistoryEntry, build_taste, is_cold_start
from recommender.taste import COLD_START_MIN_FILMS, POSITIVE_AFFINITY_MIN, decade_label, decade_of
from tests.recommender.helpers import film, histories, scifi_lover


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
    assert taste.seed_signals[348] == pytest.approx(5.0 - 23.0 / 6)
    assert taste.seed_signals[509] < 0


def test_build_taste_decades_and_usual_decades() -> None:
    taste = scifi_lover()
    assert decade_of(1979) == 1970 and decade_of(2000) == 2000 and decade_of(None) is None
    assert decade_label(1970) == "1970s"
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
    assert taste.seed_signals == {1: 0.5, 2: 0.0}


def test_a_repeated_film_keeps_its_last_entry() -> None:
    taste = build_taste([HistoryEntry(film(1, "Old"), 1.0), HistoryEntry(film(1, "New"), 5.0)])
    assert taste.seed_titles == {1: "New"}
    assert taste.mean_rating == 5.0
    assert taste.n_rated == 1


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
    assert set(taste.seed_signals) == set(taste.seed_titles)
    assert len(taste.top_genres) <= 3
    assert all(taste.genre_affinity[g] >= POSITIVE_AFFINITY_MIN for g in taste.top_genres)
    assert [taste.genre_affinity[g] for g in taste.top_genres] == sorted(
        (taste.genre_affinity[g] for g in taste.top_genres), reverse=True
    )
    assert all(math.isfinite(v) and abs(v) <= 4.5 for v in taste.genre_affinity.values())
    assert all(math.isfinite(v) and abs(v) <= 4.5 for v in taste.keyword_affinity.values())
    assert set(taste.usual_decades) <= set(taste.decade_counts)
    assert bool(taste.usual_decades) == bool(taste.decade_counts)
    assert taste.n_rated <= len(taste.seed_titles)


# --- film-level terms ------------------------------------------------------------------------
