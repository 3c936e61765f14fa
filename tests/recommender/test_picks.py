"""MMR and pick_three: slot definitions (examples) and invariants (hypothesis)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from statistics import median

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender import (
    Candidate,
    CatalogStats,
    FilmFeatures,
    HistoryEntry,
    Pick,
    Reason,
    ReasonKind,
    ScoredCandidate,
    Slot,
    TasteProfile,
    build_taste,
    mmr_select,
    pick_three,
    score_candidates,
)
from recommender.picks import (
    ADJACENT_MIN_FIT,
    MMR_LAMBDA,
    POOL_SIZE,
    WILDCARD_NOVELTY,
    adjacency_reasons,
    film_similarity,
    novelty,
    rank,
)
from recommender.scoring import bayesian_rating
from recommender.taste import decade_of
from tests.recommender.helpers import (
    GOOD,
    candidate_lists,
    exclusions,
    film,
    films,
    histories,
    scifi_lover,
    scored,
    scored_lists,
)

SLOTS = [Slot.SAFE, Slot.ADJACENT, Slot.WILDCARD]
SLOT_KINDS = {ReasonKind.NEW_GENRE, ReasonKind.NEW_DECADE, ReasonKind.HIDDEN_GEM}
ADJACENT_KINDS = {ReasonKind.NEW_GENRE, ReasonKind.NEW_DECADE}
EPS = 1e-9


def ids(picks: list[Pick]) -> list[int]:
    return [pick.film.tmdb_id for pick in picks]


# --- independent restatements of the documented definitions ---------------------------------


def reference_pool(items: list[ScoredCandidate]) -> list[ScoredCandidate]:
    """Best entry per tmdb_id, score desc then tmdb_id asc, the first POOL_SIZE."""
    best: dict[int, ScoredCandidate] = {}
    for s in items:
        kept = best.get(s.film.tmdb_id)
        if kept is None or s.score > kept.score:
            best[s.film.tmdb_id] = s
    return sorted(best.values(), key=lambda s: (-s.score, s.film.tmdb_id))[:POOL_SIZE]


def reference_relevance(pool: list[ScoredCandidate]) -> Callable[[ScoredCandidate], float]:
    high, low = max(s.score for s in pool), min(s.score for s in pool)
    return lambda s: 1.0 if high == low else (s.score - low) / (high - low)


def is_adjacent(features: FilmFeatures, taste: TasteProfile) -> bool:
    if taste.n_rated < 5:  # fewer than 5 rated or liked films: nothing is "usual" yet
        return False
    shares = taste.genre_shares  # NEW_GENRE: fewer than 10 % of the user's rated films have it
    new_genre = bool(features.genres and shares) and shares.get(features.genres[0], 0.0) < 0.10
    decade = decade_of(features.year)
    new_decade = decade is not None and bool(taste.usual_decades) and decade not in taste.usual_decades
    return new_genre or new_decade


def reference_novelty(popularity: float, pool: list[ScoredCandidate]) -> float:
    """1 − mid-rank percentile: (films less popular + half the other films as popular) / (n − 1)."""
    values = [s.film.popularity for s in pool]
    if len(values) < 2:
        return 0.5
    below = sum(1 for v in values if v < popularity)
    ties = sum(1 for v in values if v == popularity) - 1
    return 1.0 - (below + 0.5 * ties) / (len(values) - 1)


def mmr_value(
    s: ScoredCandidate, chosen: list[ScoredCandidate], relevance: Callable[[ScoredCandidate], float]
) -> float:
    return MMR_LAMBDA * relevance(s) - (1 - MMR_LAMBDA) * max(film_similarity(s.film, c.film) for c in chosen)


def check_picks(picks: list[Pick], items: list[ScoredCandidate], taste: TasteProfile) -> None:
    """Every documented property of pick_three's result over `items`."""
    pool = reference_pool(items)
    by_id = {s.film.tmdb_id: s for s in pool}
    distinct = {s.film.tmdb_id for s in items}
    assert len(picks) == min(3, len(distinct))
    assert len(set(ids(picks))) == len(picks)
    assert [p.slot for p in picks] == SLOTS[: len(picks)]
    assert set(ids(picks)) <= set(by_id)
    for pick in picks:
        assert pick.reasons
        assert math.isfinite(pick.score)
        assert pick.score == by_id[pick.film.tmdb_id].score
    if not picks:
        return

    # SAFE: the highest score
    safe = picks[0]
    assert safe.film.tmdb_id == pool[0].film.tmdb_id
    assert safe.score == max(s.score for s in items)
    assert not {r.kind for r in safe.reasons} & SLOT_KINDS
    if len(picks) < 2:
        return

    # ADJACENT: the best MMR against SAFE among adjacent good fits, when there are any
    relevance = reference_relevance(pool)
    rest = pool[1:]
    adjacent = picks[1]
    adjacent_scored = by_id[adjacent.film.tmdb_id]
    good = [s for s in rest if relevance(s) >= ADJACENT_MIN_FIT]
    adjacent_good = [s for s in good if is_adjacent(s.film, taste)]
    candidates = adjacent_good or good or rest
    assert adjacent_scored in candidates
    best = max(mmr_value(s, [pool[0]], relevance) for s in candidates)
    assert mmr_value(adjacent_scored, [pool[0]], relevance) >= best - EPS
    slot_reasons = adjacency_reasons(adjacent.film, taste)
    assert adjacent.reasons[: len(slot_reasons)] == slot_reasons
    if adjacent_good:
        assert is_adjacent(adjacent.film, taste)
        assert slot_reasons
        assert adjacent.reasons[0].kind in ADJACENT_KINDS
        assert relevance(adjacent_scored) >= ADJACENT_MIN_FIT
        for reason in slot_reasons:
            if reason.kind is ReasonKind.NEW_GENRE:
                assert reason.values == (adjacent.film.genres[0],)
                assert taste.genre_shares.get(adjacent.film.genres[0], 0.0) < 0.10
            else:
                decade = decade_of(adjacent.film.year)
                assert decade is not None and decade not in taste.usual_decades
                assert reason.values == (f"{decade}s",)
    assert not {r.kind for r in adjacent.reasons[len(slot_reasons) :]} & SLOT_KINDS
    if len(picks) < 3:
        return

    # WILDCARD: maximises WILDCARD_NOVELTY·novelty + (1 − WILDCARD_NOVELTY)·MMR vs SAFE and ADJACENT
    wildcard = picks[2]
    chosen = [pool[0], adjacent_scored]
    remaining = [s for s in rest if s is not adjacent_scored]

    def objective(s: ScoredCandidate) -> float:
        return WILDCARD_NOVELTY * reference_novelty(s.film.popularity, pool) + (
            1 - WILDCARD_NOVELTY
        ) * mmr_value(s, chosen, relevance)

    assert by_id[wildcard.film.tmdb_id] in remaining
    assert objective(by_id[wildcard.film.tmdb_id]) >= max(objective(s) for s in remaining) - EPS
    gem = wildcard.film.popularity < median(s.film.popularity for s in pool)
    assert (Reason(ReasonKind.HIDDEN_GEM) in wildcard.reasons) == gem
    if gem:
        assert wildcard.reasons[0] == Reason(ReasonKind.HIDDEN_GEM)
    assert not {r.kind for r in wildcard.reasons[1 if gem else 0 :]} & SLOT_KINDS


# --- mmr_select ------------------------------------------------------------------------------


def test_mmr_trades_relevance_for_difference() -> None:
    relevance = {"a": 1.0, "a2": 0.95, "b": 0.8, "c": 0.1}
    group = {"a": 0, "a2": 0, "b": 1, "c": 2}

    def similarity(x: str, y: str) -> float:
        return 1.0 if group[x] == group[y] else 0.0

    items = list(relevance)
    assert mmr_select(items, 3, relevance.__getitem__, similarity, lam=1.0) == ["a", "a2", "b"]
    assert mmr_select(items, 3, relevance.__getitem__, similarity, lam=0.5) == ["a", "b", "c"]
    assert mmr_select(items, 2, relevance.__getitem__, similarity, lam=0.5, chosen=["b"]) == ["a", "c"]
    assert mmr_select(items, 0, relevance.__getitem__, similarity) == []
    assert mmr_select([], 3, relevance.__getitem__, similarity) == []


def test_mmr_ties_go_to_the_earlier_item() -> None:
    assert mmr_select([3, 1, 2], 3, lambda _: 1.0, lambda a, b: 0.0) == [3, 1, 2]


@given(
    st.lists(st.integers(0, 50), unique=True, max_size=15),
    st.integers(0, 20),
    st.lists(st.integers(0, 50), max_size=5),
    st.floats(0.05, 1.0),
    st.dictionaries(st.integers(0, 50), st.integers(-5, 5).map(float)),
)
def test_mmr_never_returns_duplicates_or_chosen_items(
    items: list[int], k: int, chosen: list[int], lam: float, scores: dict[int, float]
) -> None:
    def relevance(x: int) -> float:
        return scores.get(x, 0.0)

    def similarity(x: int, y: int) -> float:
        return 1.0 / (1 + abs(x - y))

    result = mmr_select(items, k, relevance, similarity, lam=lam, chosen=chosen)
    assert len(result) == len(set(result))
    assert len(result) == min(k, len(set(items) - set(chosen)))
    assert set(result) <= set(items)
    assert not set(result) & set(chosen)
    if result and not chosen:
        top = max(relevance(x) for x in items)
        assert relevance(result[0]) == top
        assert result[0] == next(x for x in items if relevance(x) == top)  # earliest on ties


def test_mmr_never_returns_an_item_twice_even_if_items_repeat_it() -> None:
    # "no item is returned twice", even when `items` repeats one
    result = mmr_select([1, 1, 2], 3, lambda x: 1.0 if x == 1 else 0.0, lambda a, b: 0.0)
    assert len(result) == len(set(result))


@given(films(), films())
def test_film_similarity_is_symmetric_and_bounded(a: FilmFeatures, b: FilmFeatures) -> None:
    assert 0.0 <= film_similarity(a, b) <= 1.0
    assert film_similarity(a, b) == film_similarity(b, a)


def test_film_similarity_example() -> None:
    a = film(1, genres=("Drama", "Romance"), keywords=("wedding",), year=1994)
    b = film(2, genres=("Drama",), keywords=("wedding", "ghost"), year=1999)
    assert film_similarity(a, b) == pytest.approx(0.5 * 0.5 + 0.25 * 0.5 + 0.25)
    assert film_similarity(a, a) == 1.0
    undated = film(3, genres=(), keywords=(), year=None)
    assert film_similarity(undated, undated) == 0.0


# --- adjacency and novelty helpers -----------------------------------------------------------


def test_adjacency_reasons() -> None:
    taste = scifi_lover()  # top genres: Science Fiction, Action, Horror; usual 1970s–2000s
    assert adjacency_reasons(film(1, genres=("Science Fiction", "Thriller"), year=1995), taste) == ()
    assert adjacency_reasons(film(1, genres=("Thriller", "Science Fiction"), year=1995), taste) == (
        Reason(ReasonKind.NEW_GENRE, ("Thriller",)),
    )
    assert adjacency_reasons(film(1, genres=("Western",), year=1956), taste) == (
        Reason(ReasonKind.NEW_GENRE, ("Western",)),
        Reason(ReasonKind.NEW_DECADE, ("1950s",)),
    )
    assert adjacency_reasons(film(1, genres=(), year=None), taste) == ()
    empty = build_taste([])
    assert adjacency_reasons(film(1, genres=("Western",), year=1956), empty) == ()


def test_a_thin_history_has_no_usual_genres_or_decades() -> None:
    """One film rated ½ (the console's first /review) is no habit: 🧭 says nothing of "your
    usual genres" or "a decade you rarely watch" below 5 rated or liked films."""
    alien = HistoryEntry(film(348, "Alien", year=1979, genres=("Horror", "Science Fiction")), 0.5)
    spirited_away = film(129, genres=("Animation", "Family", "Fantasy"), year=2001)
    assert adjacency_reasons(spirited_away, build_taste([alien])) == ()
    four = [alien, *(HistoryEntry(film(i, year=1975, genres=("Horror",)), 4.0) for i in range(1, 4))]
    assert adjacency_reasons(spirited_away, build_taste(four)) == ()
    five = [*four, HistoryEntry(film(4, year=1978, genres=("Horror",)), 3.0)]
    assert adjacency_reasons(spirited_away, build_taste(five)) == (
        Reason(ReasonKind.NEW_GENRE, ("Animation",)),
        Reason(ReasonKind.NEW_DECADE, ("2000s",)),
    )


def test_novelty_is_one_minus_the_mid_rank_percentile() -> None:
    values = [1.0, 5.0, 5.0, 9.0, 20.0]
    assert novelty(1.0, values) == 1.0
    assert novelty(20.0, values) == 0.0
    assert novelty(5.0, values) == pytest.approx(1 - 1.5 / 4)
    assert novelty(9.0, values) == pytest.approx(1 - 3 / 4)
    assert novelty(3.0, [3.0]) == 0.5
    assert novelty(3.0, [3.0, 3.0, 3.0]) == 0.5


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=20))
def test_novelty_is_bounded_and_falls_with_popularity(values: list[float]) -> None:
    values.sort()
    novelties = [novelty(v, values) for v in values]
    assert all(0.0 <= n <= 1.0 for n in novelties)
    assert all(a >= b for a, b in itertools.pairwise(novelties))


def test_rank_keeps_the_best_entry_per_film() -> None:
    same = film(1)
    items = [scored(same, 1.0), scored(film(3), 2.0), scored(same, 3.0), scored(film(2), 2.0)]
    assert [(s.film.tmdb_id, s.score) for s in rank(items)] == [(1, 3.0), (2, 2.0), (3, 2.0)]


# --- pick_three: examples --------------------------------------------------------------------


def test_scifi_lover_gets_scifi_safe_pick() -> None:
    taste = scifi_lover()
    cands = [
        Candidate(film(1, "Arrival", year=2016, genres=("Science Fiction", "Drama")), content=0.7),
        Candidate(film(2, "Love Actually", year=2003, genres=("Romance", "Comedy")), content=0.1),
        Candidate(film(3, "Heat", year=1995, genres=("Crime", "Thriller")), content=0.4),
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


def test_adjacent_new_genre_among_good_fits() -> None:
    taste = scifi_lover()
    picks = pick_three(
        [
            scored(film(1, genres=("Science Fiction",), year=1995), 3.0),
            scored(film(2, genres=("Action", "Thriller"), year=1997), 2.9),
            scored(film(3, genres=("Thriller", "Science Fiction"), year=1998), 2.5),
            scored(film(4, genres=("Drama",), year=1999), 2.0),
            scored(film(5, genres=("Western",), year=1999), 0.0),  # adjacent but a poor fit
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
            scored(film(4, genres=("Science Fiction",), year=1990), 0.0),  # widens the score range
        ],
        taste,
    )
    # relevance 2.8 / 3: a good fit (without film 4, the last of the pool has relevance 0)
    assert picks[1].film.tmdb_id == 3
    assert picks[1].reasons[0] == Reason(ReasonKind.NEW_DECADE, ("1950s",))


def test_adjacent_falls_back_to_mmr_among_good_fits() -> None:
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
    # relevance: 2 → 0.975, 3 → 0.9, 4 → 0 (not a good fit); MMR vs film 1:
    # film 2 → 0.7·0.975 − 0.3·0.75 = 0.46; film 3 → 0.7·0.9 − 0.3·0.25 = 0.56
    assert picks[1].film.tmdb_id == 3
    assert picks[1].reasons == GOOD


def test_wildcard_prefers_a_less_popular_different_film_and_marks_a_hidden_gem() -> None:
    taste = scifi_lover()
    pool = [
        scored(film(i, genres=("Science Fiction",), year=1995, popularity=100.0 + i), 10.0 - i)
        for i in range(1, 10)
    ]
    adjacent = scored(film(50, genres=("Thriller",), year=1995, popularity=200.0), 8.5)
    gem = scored(film(42, genres=("Action",), year=1990, popularity=3.0), 5.0)
    tail = [scored(film(100 + i, year=1995, popularity=500.0), -10.0 - i) for i in range(5)]
    items = [*pool, adjacent, gem, *tail]
    picks = pick_three(items, taste)
    assert ids(picks) == [1, 50, 42]
    # gem: 0.5·novelty 1.0 + 0.5·(0.7·19/23 − 0.3·0.25) ≈ 0.75; film 2: ≈ 0.66
    assert picks[2].slot is Slot.WILDCARD
    assert picks[2].reasons == (Reason(ReasonKind.HIDDEN_GEM), *GOOD)
    check_picks(picks, items, taste)


def test_wildcard_is_no_hidden_gem_above_the_median() -> None:
    taste = build_taste([])
    picks = pick_three(
        [
            scored(film(1, genres=("Drama",), popularity=10.0), 3.0),
            scored(film(2, genres=("Drama",), popularity=10.0), 2.0),
            scored(film(3, genres=("Comedy",), popularity=50.0), 1.0),
        ],
        taste,
    )
    assert ids(picks) == [1, 2, 3]
    assert picks[2].reasons == GOOD


def test_wildcard_only_comes_from_the_pool() -> None:
    taste = build_taste([])
    top = [scored(film(i, popularity=100.0), 100.0 - i) for i in range(1, POOL_SIZE + 1)]
    outside = scored(film(999, genres=("Horror",), year=1930, popularity=0.0), -1000.0)
    picks = pick_three([*top, outside], taste)
    assert 999 not in ids(picks)


def test_every_pick_has_a_reason_even_without_candidate_reasons() -> None:
    taste = build_taste([])
    items = [scored(film(i, year=2000), float(i), reasons=()) for i in range(3)]
    picks = pick_three(items, taste)
    assert len(picks) == 3
    assert all(pick.reasons for pick in picks)


def test_picks_are_deterministic_whatever_the_input_order() -> None:
    taste = scifi_lover()
    items = [scored(film(i, year=1950 + i, popularity=float(i % 7)), float(i % 5)) for i in range(1, 30)]
    assert pick_three(items, taste) == pick_three(items[::-1], taste)


# --- pick_three: properties ------------------------------------------------------------------


@given(candidate_lists, histories, exclusions)
def test_excluded_and_seen_films_are_never_scored_or_picked(
    cands: list[Candidate], history: list[HistoryEntry], exclude: frozenset[int]
) -> None:
    taste = build_taste(history)
    ranked = score_candidates(cands, taste, exclude=exclude)
    hidden = exclude | set(taste.seed_titles)
    assert not {s.film.tmdb_id for s in ranked} & hidden
    picks = pick_three(ranked, taste)
    assert not set(ids(picks)) & hidden
    assert len(picks) == min(3, len({c.film.tmdb_id for c in cands} - hidden))
    check_picks(picks, ranked, taste)


@given(scored_lists(), histories)
def test_pick_three_labels_match_their_definitions(
    items: list[ScoredCandidate], history: list[HistoryEntry]
) -> None:
    taste = build_taste(history)
    check_picks(pick_three(items, taste), items, taste)


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scored_lists(min_size=POOL_SIZE + 1, max_size=POOL_SIZE + 20, distinct=True), histories)
def test_pick_three_labels_hold_beyond_the_pool(
    items: list[ScoredCandidate], history: list[HistoryEntry]
) -> None:
    taste = build_taste(history)
    assert len(reference_pool(items)) == POOL_SIZE
    check_picks(pick_three(items, taste), items, taste)


@given(scored_lists(max_size=20), histories)
def test_pick_three_is_order_independent(items: list[ScoredCandidate], history: list[HistoryEntry]) -> None:
    taste = build_taste(history)
    # (entries of one film with equal scores but different data would be a genuine tie)
    items = list({(s.film.tmdb_id, s.score): s for s in items}.values())
    assert pick_three(items[::-1], taste) == pick_three(items, taste)


# --- with catalog stats: the quality floor and "lesser-known" ------------------------------------


@given(
    scored_lists(),
    histories,
    st.floats(min_value=0, max_value=5000, allow_nan=False),
    st.floats(min_value=5.0, max_value=8.0, allow_nan=False),
)
def test_adjacent_and_wildcard_are_above_the_floor_and_gems_are_really_lesser_known(
    items: list[ScoredCandidate], history: list[HistoryEntry], median_votes: float, median_weighted: float
) -> None:
    """🧭 and 🎲: at least 50 votes and a weighted rating at least the catalog's median;
    "lesser-known" only under the catalog's median vote count; 🎯 is the best film whatever."""
    catalog = CatalogStats(median_votes, median_weighted)
    picks = pick_three(items, build_taste(history), catalog)
    if items:
        assert picks and picks[0].film.tmdb_id == reference_pool(items)[0].film.tmdb_id
    for pick in picks[1:]:
        assert pick.film.vote_count >= 50
        assert bayesian_rating(pick.film.vote_average, pick.film.vote_count) >= median_weighted
    for pick in picks:
        if any(r.kind is ReasonKind.HIDDEN_GEM for r in pick.reasons):
            assert pick.film.vote_count < median_votes


def _mmr_by_definition(items, k, relevance, similarity, lam, chosen):  # type: ignore[no-untyped-def]
    """MMR straight from its definition (Carbonell & Goldstein 1998): every step compares each
    remaining item with every chosen one."""
    picked, result = list(chosen), []
    remaining = [x for i, x in enumerate(items) if x not in picked and x not in items[:i]]
    while remaining and len(result) < k:
        best = max(
            range(len(remaining)),
            key=lambda i: (
                lam * relevance(remaining[i])
                - (1 - lam) * max((similarity(remaining[i], c) for c in picked), default=0.0),
                -i,
            ),
        )
        picked.append(remaining[best])
        result.append(remaining.pop(best))
    return result


@given(
    st.lists(st.integers(0, 30), max_size=25),
    st.integers(0, 8),
    st.floats(0, 1),
    st.lists(st.integers(0, 30), max_size=3),
)
def test_mmr_select_chooses_as_the_definition_does(
    items: list[int], k: int, lam: float, chosen: list[int]
) -> None:
    """The running maximum of similarities gives the very choices of the definition, ties
    included (integers with repeats; similarity from their residues)."""

    def relevance(x: int) -> float:
        return (x % 7) / 7

    def similarity(a: int, b: int) -> float:
        return 1.0 if a % 5 == b % 5 else 0.25 * ((a + b) % 3)

    expected = _mmr_by_definition(items, k, relevance, similarity, lam, chosen)
    assert mmr_select(items, k, relevance, similarity, lam=lam, chosen=chosen) == expected
