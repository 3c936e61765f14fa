"""Content side: the text a film is embedded from, its hash, and the taste vector."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recommender.content import REVIEW_WEIGHT, TEXT_KEYWORDS_MAX, film_text, taste_vector, text_hash
from tests.recommender.helpers import film

Vector = npt.NDArray[np.float32]


def vec(*values: float) -> Vector:
    return np.asarray(values, dtype=np.float32)


def unit(v: Vector) -> Vector:
    return (v / np.linalg.norm(v)).astype(np.float32)


# --- film_text / text_hash -------------------------------------------------------------------


def test_film_text_names_title_year_genres_keywords_language_and_overview() -> None:
    alien = film(
        348,
        "Alien",
        year=1979,
        genres=("Horror", "Science Fiction"),
        keywords=("android", "space"),
        original_language="en",
    )
    text = film_text(alien, "During its return to the earth,\n  commercial   spaceship Nostromo …")
    assert text == (
        "Alien (1979). Genres: Horror, Science Fiction. Keywords: android, space. Language: en. "
        "During its return to the earth, commercial spaceship Nostromo …"
    )


def test_film_text_caps_keywords_and_skips_missing_parts() -> None:
    keywords = tuple(f"kw{i:02d}" for i in range(30))
    text = film_text(film(1, "Untitled", year=None, genres=(), keywords=keywords), "   ")
    assert text.startswith("Untitled. Keywords: kw00, ")
    assert f"kw{TEXT_KEYWORDS_MAX - 1:02d}" in text
    assert f"kw{TEXT_KEYWORDS_MAX:02d}" not in text
    assert "Genres" not in text and "Language" not in text and "None" not in text
    assert film_text(film(2, "Bare", year=None, genres=()), None) == "Bare."


@given(
    st.text(min_size=1, max_size=20).filter(str.strip),
    st.none() | st.integers(1900, 2030),
    st.lists(st.text(min_size=1, max_size=8), max_size=3).map(tuple),
    st.lists(st.text(min_size=1, max_size=8), max_size=20).map(tuple),
    st.none() | st.text(max_size=50),
)
def test_film_text_contains_every_part(
    title: str,
    year: int | None,
    genres: tuple[str, ...],
    keywords: tuple[str, ...],
    overview: str | None,
) -> None:
    text = film_text(film(1, title, year=year, genres=genres, keywords=keywords), overview)
    assert text.startswith(title)
    if year is not None:
        assert f"({year})" in text
    assert all(g in text for g in genres)
    assert all(k in text for k in keywords[:TEXT_KEYWORDS_MAX])
    if overview and overview.strip():
        assert text.endswith(" ".join(overview.split()))
    assert film_text(film(1, title, year=year, genres=genres, keywords=keywords), overview) == text


def test_text_hash_is_a_stable_sha256() -> None:
    text = film_text(film(348, "Alien", year=1979), "In space no one can hear you scream.")
    assert text_hash(text) == text_hash(str(text))
    assert text_hash(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert len(text_hash(text)) == 64
    assert text_hash("Amélie (2001).") == hashlib.sha256("Amélie (2001).".encode()).hexdigest()
    assert text_hash(text) != text_hash(text + " ")
    # a known value, so a change of algorithm (which would re-embed every film) is noticed
    assert text_hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# --- taste_vector ----------------------------------------------------------------------------


def test_taste_vector_examples() -> None:
    vectors = {1: vec(1, 0, 0), 2: vec(0, 1, 0), 3: vec(0, 0, 1)}
    result = taste_vector({1: 1.0, 2: 1.0}, vectors)
    assert result is not None and result.dtype == np.float32
    np.testing.assert_allclose(result, unit(vec(1, 1, 0)), rtol=1e-6)
    # a disliked film pulls away
    result = taste_vector({1: 1.0, 3: -1.0}, vectors)
    assert result is not None
    np.testing.assert_allclose(result, unit(vec(1, 0, -1)), rtol=1e-6)
    # films without a vector are ignored
    result = taste_vector({1: 0.3, 99: 5.0}, vectors)
    assert result is not None
    np.testing.assert_allclose(result, vec(1, 0, 0))


def test_taste_vector_reviews_take_their_films_weight() -> None:
    vectors = {1: vec(1, 0), 2: vec(0, 1)}
    review = vec(0, 1)
    result = taste_vector({1: 1.0}, vectors, [(1, review)])
    assert result is not None
    np.testing.assert_allclose(result, unit(vec(1, REVIEW_WEIGHT)), rtol=1e-6)
    disliked = taste_vector({1: 1.0, 2: -0.5}, vectors, [(2, vec(1, 0))])
    assert disliked is not None
    np.testing.assert_allclose(disliked, unit(vec(1 - 0.5 * REVIEW_WEIGHT, -0.5)), rtol=1e-6)
    # a review of a film outside the weights counts for nothing
    alone = taste_vector({1: 1.0}, vectors, [(7, vec(0, 1))])
    assert alone is not None
    np.testing.assert_allclose(alone, vec(1, 0))
    # a review alone gives a direction even when its film has no vector
    only_review = taste_vector({5: 1.0}, vectors, [(5, vec(0, 3))])
    assert only_review is not None
    np.testing.assert_allclose(only_review, vec(0, 1))


def test_taste_vector_is_none_without_vectors_or_when_it_cancels() -> None:
    vectors = {1: vec(1, 0), 2: vec(1, 0)}
    assert taste_vector({}, vectors) is None
    assert taste_vector({3: 1.0}, vectors) is None
    assert taste_vector({1: 1.0}, {}) is None
    assert taste_vector({1: 1.0, 2: -1.0}, vectors) is None  # the same film liked and disliked
    assert taste_vector({3: 1.0}, vectors, [(4, vec(1, 0))]) is None


vectors = arrays(np.float32, 4, elements=st.floats(-1.0, 1.0, width=32, allow_subnormal=False))
weights = st.floats(-1.5, 1.5, allow_nan=False, allow_subnormal=False).filter(lambda w: abs(w) > 1e-3)


@settings(deadline=None)
@given(st.dictionaries(st.integers(1, 10), st.tuples(weights, vectors), max_size=6))
def test_taste_vector_is_unit_length_or_none(history: dict[int, tuple[float, Vector]]) -> None:
    result = taste_vector({i: w for i, (w, _) in history.items()}, {i: v for i, (_, v) in history.items()})
    total = sum((w * v.astype(np.float64) for w, v in history.values()), np.zeros(4))
    if not history or np.linalg.norm(total) < 1e-9:
        assert result is None
    else:
        assert result is not None
        assert float(np.linalg.norm(result)) == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(result, total / np.linalg.norm(total), rtol=1e-4, atol=1e-5)


@settings(deadline=None)
@given(
    st.dictionaries(st.integers(1, 10), st.tuples(weights, vectors), max_size=5),
    vectors,
    st.floats(0.05, 1.5),
)
def test_taste_vector_moves_toward_liked_and_away_from_disliked(
    history: dict[int, tuple[float, Vector]], new: Vector, weight: float
) -> None:
    base_weights = {i: w for i, (w, _) in history.items()}
    film_vectors = {i: v for i, (_, v) in history.items()}
    assume(float(np.linalg.norm(new)) > 0.1)
    before = taste_vector(base_weights, film_vectors)
    assume(before is not None)
    assert before is not None
    film_vectors[100] = new
    liked = taste_vector({**base_weights, 100: weight}, film_vectors)
    disliked = taste_vector({**base_weights, 100: -weight}, film_vectors)
    direction = unit(new)
    if liked is not None:
        assert float(liked @ direction) >= float(before @ direction) - 1e-5
    if disliked is not None:
        assert float(disliked @ direction) <= float(before @ direction) + 1e-5
