"""The recommender: pure functions from a user's history and candidate films to three picks.

Typical use (the domain service does the I/O around it)::

    taste = build_taste(history)
    cf_scores = cf_model.scores(history_weights(signals))   # candidates from CF
    scored = score_candidates(candidates, taste, exclude=seen_ids, recent=recent)
    picks = pick_three(scored, taste)                        # MMR: safe, adjacent, wildcard
"""

from domain.entities import Slot
from recommender.cf import CFModel, Signal, history_weights
from recommender.picks import mmr_select, pick_three
from recommender.recent import RecentPicks
from recommender.scoring import explain, score_candidates
from recommender.taste import build_taste, is_cold_start
from recommender.types import (
    Candidate,
    CandidateSource,
    CatalogStats,
    FilmFeatures,
    HistoryEntry,
    Pick,
    Reason,
    ReasonKind,
    ScoredCandidate,
    TasteProfile,
)

__all__ = [
    "CFModel",
    "Candidate",
    "CandidateSource",
    "CatalogStats",
    "FilmFeatures",
    "HistoryEntry",
    "Pick",
    "Reason",
    "ReasonKind",
    "RecentPicks",
    "ScoredCandidate",
    "Signal",
    "Slot",
    "TasteProfile",
    "build_taste",
    "explain",
    "history_weights",
    "is_cold_start",
    "mmr_select",
    "pick_three",
    "score_candidates",
]
