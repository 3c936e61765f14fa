"""pick_three: slot definitions (examples) and invariants (hypothesis)."""

from __future__ import annotations

import math
from statistics import median

from hypothesis import given
from hypothesis import strategies as st

from recommender import (
    Candidate,
    FilmFeatures,
    HistoryEntry,
    Pick,
    Reason,
    ReasonKind,
    ScoredCandidate,
    Slot,
    TasteProfile,
    build_taste,
    pick_three,
    score_candidates,
)
from recommender.picks import top_pool
from recommender.scoring import decade_of
from tests.recommender.test_scoring import candidate_lists, exclusions, film, histories, scifi_lover

SLOTS = [Slot.SAFE, Slot.ADJACENT, Slot.WILDCARD]
SLOT_KINDS = {ReasonKind.NEW_GENRE, ReasonKind.NEW_DECADE, ReasonKind.HIDDEN_GEM}
GOOD = (Reason(ReasonKind.HIGHLY_RATED, ("8.0",)),)


def scored(features: FilmFeatures, score: float, reasons: tuple[Reason, ...] = GOOD) -> ScoredCandidate:
    return ScoredCandidate(Candidate(features), score, {"quality": score}, reasons)


def ids(picks: list[Pick]) -> list[int]:
    return [pick.film.tmdb_id for pick in picks]


def qualifies_as_adjacent(features: FilmFeatures, taste: TasteProfile) -> bool:
    """The ADJACENT rule, restated independently of the implementation."""
    new_genre = bool(features.genres and taste.top_genres) and features.genres[0] not in taste.top_genres
    decade = decade_of(features.year)
    new_decade = decade is not None and bool(taste.usual_decades) and decade not in taste.usual_decades
    return new_genre or new_decade


# --- examples --------------------------------------------------------------------------------


def test_scifi_lover_gets_scifi_safe_pick() -> None:
    taste = scifi_lover()
    cands = [
        Candidate(film(1, "Arrival", year=2016, genres=("Science Fiction", "Drama"), vote_average=7.6)),
        Candidate(film(2, "Love Actually", year=2003, genres=("Romance", "Comedy"), vote_average=7.7)),
        Candidate(film(3, "Heat", year=1995, genres=("Crime", "Thriller"), vote_average=7.9)),
    ]
    picks = pick_three(score_candidates(cands, taste, exclude=()), taste)
    assert [p.slot for p in picks] == SLOTS
    assert picks[0].film.title == "Arrival"
    assert len(set(ids(picks))) == 3


def test_empty_one_and_two_candidates() -> None:
    taste = scifi_lover()
    assert pick_three([], taste) == []
    one = pick_three([scored(film(1, year=1995), 1.0)], taste)
    assert [(p.slot, p.film.tmdb_id) for p in one] == [(Slot.SAFE, 1)]
    two = pick_three([scored(film(1, year=1995), 1.0), scored(film(2, year=1995), 2.0)], taste)
    assert [(p.slot, p.film.tmdb_id) for p in two] == [(Slot.SAFE, 2), (Slot.ADJACENT, 1)]


def test_duplicates_in_scored_list_are_picked_once() -> None:
    taste = scifi_lover()
    same = film(1, year=1995)
    picks = pick_three([scored(same, 1.0), scored(same, 3.0), scored(film(2, year=1995), 2.0)], taste)
    assert ids(picks) == [1, 2]
    assert picks[0].score == 3.0


def test_adjacent_new_genre_is_the_best_non_top_primary_genre() -> None:
    taste = scifi_lover()  # top genres: Science Fiction, Action, Horror; usual decades 1970s–2000s
    picks = pick_three(
        [
            scored(film(1, genres=("Science Fiction",), year=1995), 3.0),
            scored(film(2, genres=("Action", "Thriller"), year=1997), 2.9),
            scored(film(3, genres=("Thriller", "Science Fiction"), year=1998), 2.5),
            scored(film(4, genres=("Drama",), year=1999), 2.0),
        ],
        taste,
    )
    assert picks[1].slot is Slot.ADJACENT and picks[1].film.tmdb_id == 3
    assert picks[1].reasons == (Reason(ReasonKind.NEW_GENRE, ("Thriller",)), *GOOD)


def test_adjacent_new_decade() -> None:
    taste = scifi_lover()
    picks = pick_three(
        [
            scored(film(1, genres=("Science Fiction",), year=1995), 3.0),
            scored(film(2, genres=("Science Fiction",), year=1999), 2.9),
            scored(film(3, genres=("Science Fiction",), year=1956), 2.8),
        ],
        taste,
    )
    assert picks[1].film.tmdb_id == 3
    assert picks[1].reasons[0] == Reason(ReasonKind.NEW_DECADE, ("1950s",))


def test_adjacent_falls_back_to_mmr_genre_diversity() -> None:
    taste = scifi_lover()
    picks = pick_three(
        [
            scored(film(1, genres=("Science Fiction", "Drama"), year=1995), 3.0),
            scored(film(2, genres=("Science Fiction", "Drama"), year=1995), 2.95),
            scored(film(3, genres=("Action", "Comedy"), year=1990), 2.8),
            scored(film(4, genres=("Horror",), year=1980), 1.0),
        ],
        taste,
    )
    # MMR: film 2 → 0.5·0.975 − 0.5·1 < film 3 → 0.5·0.9 − 0; film 4 → 0 − 0
    assert picks[1].film.tmdb_id == 3
    assert picks[1].reasons == GOOD


def test_wildcard_is_least_popular_of_top_pool_and_a_hidden_gem() -> None:
    taste = scifi_lover()
    pool = [
        scored(film(i, genres=("Science Fiction",), year=1995, popularity=100.0 + i), 10.0 - i)
        for i in range(1, 10)
    ]
    gem = scored(film(42, genres=("Action",), year=1990, popularity=3.0), 5.0)
    obscure_but_weak = scored(film(43, genres=("Action",), year=1990, popularity=1.0), -50.0)
    tail = [scored(film(100 + i, year=1995, popularity=500.0), -10.0 - i) for i in range(20)]
    picks = pick_three([*pool, gem, obscure_but_weak, *tail], taste)
    assert picks[2].slot is Slot.WILDCARD and picks[2].film.tmdb_id == 42
    assert picks[2].reasons == (Reason(ReasonKind.HIDDEN_GEM), *GOOD)


def test_wildcard_avoids_safe_genre_set_when_it_can() -> None:
    taste = scifi_lover()
    picks = pick_three(
        [
            scored(film(1, genres=("Science Fiction", "Action"), year=1995, popularity=50.0), 3.0),
            scored(film(2, genres=("Science Fiction",), year=1995, popularity=40.0), 2.5),
            scored(film(3, genres=("Action", "Science Fiction"), year=1995, popularity=1.0), 2.0),
            scored(film(4, genres=("Horror",), year=1995, popularity=30.0), 1.0),
        ],
        taste,
    )
    assert ids(picks) == [1, 2, 4]  # film 3 is least popular but has exactly SAFE's genres


def test_picks_are_deterministic_whatever_the_input_order() -> None:
    taste = scifi_lover()
    items = [scored(film(i, year=1950 + i, popularity=float(i % 7)), float(i % 5)) for i in range(1, 30)]
    assert pick_three(items, taste) == pick_three(items[::-1], taste)


# --- properties ------------------------------------------------------------------------------


@given(candidate_lists, histories, exclusions)
def test_pick_three_invariants(
    cands: list[Candidate], history: list[HistoryEntry], exclude: frozenset[int]
) -> None:
    taste = build_taste(history)
    ranked = score_candidates(cands, taste, exclude=exclude)
    picks = pick_three(ranked, taste)

    hidden = exclude | {entry.film.tmdb_id for entry in history}
    available = {c.film.tmdb_id for c in cands} - hidden
    assert len(picks) == min(3, len(available))
    assert not set(ids(picks)) & hidden
    assert len(set(ids(picks))) == len(picks)
    assert [p.slot for p in picks] == SLOTS[: len(picks)]
    for pick in picks:
        assert pick.reasons
        assert math.isfinite(pick.score)
    if picks:
        assert picks[0].score == max(s.score for s in ranked)
    if len(picks) >= 2:
        check_adjacent(picks, ranked, taste)
    if len(picks) == 3:
        check_wildcard(picks, ranked)


@given(candidate_lists, histories)
def test_pick_three_is_order_independent(cands: list[Candidate], history: list[HistoryEntry]) -> None:
    taste = build_taste(history)
    ranked = score_candidates(cands, taste, exclude=())
    assert pick_three(ranked[::-1], taste) == pick_three(ranked, taste)


def check_adjacent(picks: list[Pick], ranked: list[ScoredCandidate], taste: TasteProfile) -> None:
    adjacent = picks[1]
    pool = [s for s in top_pool(ranked) if s.film.tmdb_id != picks[0].film.tmdb_id]
    assert adjacent.film.tmdb_id in {s.film.tmdb_id for s in pool}
    qualifying = [s for s in pool if qualifies_as_adjacent(s.film, taste)]
    by_rule = adjacent.reasons[0].kind in {ReasonKind.NEW_GENRE, ReasonKind.NEW_DECADE}
    assert by_rule == bool(qualifying)
    if by_rule:
        assert qualifies_as_adjacent(adjacent.film, taste)
        assert adjacent.film.tmdb_id == qualifying[0].film.tmdb_id
        for reason in adjacent.reasons:
            if reason.kind is ReasonKind.NEW_GENRE:
                assert reason.values == (adjacent.film.genres[0],)
                assert adjacent.film.genres[0] not in taste.top_genres
            if reason.kind is ReasonKind.NEW_DECADE:
                assert decade_of(adjacent.film.year) not in taste.usual_decades


def check_wildcard(picks: list[Pick], ranked: list[ScoredCandidate]) -> None:
    wildcard = picks[2]
    taken = {picks[0].film.tmdb_id, picks[1].film.tmdb_id}
    pool = [s for s in top_pool(ranked) if s.film.tmdb_id not in taken]
    assert wildcard.film.tmdb_id in {s.film.tmdb_id for s in pool}
    safe_genres = set(picks[0].film.genres)
    eligible = [s for s in pool if not safe_genres or set(s.film.genres) != safe_genres] or pool
    assert wildcard.film.popularity == min(s.film.popularity for s in eligible)
    is_gem = wildcard.film.popularity < median(s.film.popularity for s in ranked)
    assert (Reason(ReasonKind.HIDDEN_GEM) in wildcard.reasons) == is_gem
    if is_gem:
        assert wildcard.reasons[0] == Reason(ReasonKind.HIDDEN_GEM)
    assert not {r.kind for r in wildcard.reasons[1:]} & SLOT_KINDS


@given(st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=8))
def test_every_pick_has_a_reason_even_without_candidate_reasons(scores: list[int]) -> None:
    taste = build_taste([])
    items = [scored(film(i, year=2000), float(s), reasons=()) for i, s in enumerate(scores)]
    picks = pick_three(items, taste)
    assert len(picks) == min(3, len(items))
    assert all(pick.reasons for pick in picks)
