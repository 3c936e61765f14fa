"""The recommender: pure functions from a user's history and candidate films to three picks.

Typical use (the domain service does the I/O around it)::

    taste = build_taste(history)
    scored = score_candidates(candidates, taste, exclude=seen_ids)
    picks = pick_three(scored, taste)
"""

from domain.entities import Slot
from recommender.picks import pick_three
from recommender.scoring import build_taste, is_cold_start, score_candidates
from recommender.types import (
    Candidate,
    FilmFeatures,
    HistoryEntry,
    Pick,
    Reason,
    ReasonKind,
    ScoredCandidate,
    TasteProfile,
)

__all__ = [
    "Candidate",
    "FilmFeatures",
    "HistoryEntry",
    "Pick",
    "Reason",
    "ReasonKind",
    "ScoredCandidate",
    "Slot",
    "TasteProfile",
    "build_taste",
    "is_cold_start",
    "pick_three",
    "score_candidates",
]
