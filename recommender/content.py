"""Content side of the recommender: the text a film is embedded from, and the taste vector.

Pure functions; the vectors come from any `domain.ports.Embedder` (unit length).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from recommender.types import FilmFeatures

#: Keywords named in a film's text (TMDB lists up to ~50; the first are the most specific).
TEXT_KEYWORDS_MAX = 12
#: A review's vector counts this much relative to its film's own vector (a review says what
#: the user saw in the film, in their words; the weight keeps one long review from dominating).
REVIEW_WEIGHT = 0.5


def film_text(film: FilmFeatures, overview: str | None) -> str:
    """The text a film is embedded from: title, year, genres, keywords, language, overview.

    e.g. "Alien (1979). Genres: Horror, Science Fiction. Keywords: android, space. Language:
    en. During its return to the earth, …". The model truncates it at 128 tokens, so the
    most telling parts come first.
    """
    parts = [f"{film.title} ({film.year})" if film.year else film.title]
    if film.genres:
        parts.append("Genres: " + ", ".join(film.genres))
    if film.keywords:
        parts.append("Keywords: " + ", ".join(film.keywords[:TEXT_KEYWORDS_MAX]))
    if film.original_language:
        parts.append(f"Language: {film.original_language}")
    text = ". ".join(parts) + "."
    if overview and overview.strip():
        text += " " + " ".join(overview.split())
    return text


def text_hash(text: str) -> str:
    """sha256 hex of a text: a stored vector is stale when its text's hash changed."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def taste_vector(
    weights: Mapping[int, float],
    film_vectors: Mapping[int, npt.NDArray[np.float32]],
    review_vectors: Sequence[tuple[int, npt.NDArray[np.float32]]] = (),
) -> npt.NDArray[np.float32] | None:
    """The user's taste in film space: normalise(Σ wᵢ·filmᵢ + REVIEW_WEIGHT·Σ w_f(r)·reviewᵣ).

    `weights` are `recommender.cf.history_weights` (signed: disliked films pull away);
    `review_vectors` are (tmdb id of the reviewed film, review vector); a review takes its
    film's weight. Returns a unit vector, or None when nothing weighted has a vector (or the
    sum cancels out).
    """
    total: npt.NDArray[np.float64] | None = None
    for tmdb_id, weight in weights.items():
        vector = film_vectors.get(tmdb_id)
        if vector is not None:
            total = weight * vector.astype(np.float64) + (0 if total is None else total)
    for tmdb_id, vector in review_vectors:
        weight = weights.get(tmdb_id, 0.0)
        if weight:
            total = REVIEW_WEIGHT * weight * vector.astype(np.float64) + (0 if total is None else total)
    if total is None:
        return None
    norm = float(np.linalg.norm(total))
    if norm < 1e-9:
        return None
    return (total / norm).astype(np.float32)
