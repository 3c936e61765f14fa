"""Hybrid candidate scoring and the reasons: examples and hypothesis properties (the taste
profile it scores against: test_taste.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender import (
    Candidate,
    CandidateSource,
    HistoryEntry,
    Reason,
    ReasonKind,
    RecentPicks,
    ScoredCandidate,
    TasteProfile,
    build_taste,
    explain,
    is_cold_start,
    pick_three,
    score_candidates,
)
from recommender.recent import REPEAT_FAIR_SHARE, W_NOVELTY, W_REPEAT
from recommender.scoring import (
    AVOID_MIN_SIMILARITY,
    BAYES_PRIOR_MEAN,
    POPULARITY_EXPONENT,
    W_AVOID,
    W_CF,
    W_COLD_POPULARITY,
    W_COLD_QUALITY,
    W_CONTENT,
    W_PREFERRED,
    W_QUALITY,
    W_TMDB,
    avoid_term,
    bayesian_rating,
    merge_candidates,
    popularity_term,
)
from recommender.taste import COLD_START_MIN_FILMS
from tests.recommender.helpers import (
    GENRES,
    candidate_lists,
    exclusions,
    film,
    histories,
    plain_candidates,
    recents,
    scifi_lover,
)

PERSONAL_COMPONENTS = {
    "cf",
    "recent_cf",
    "seq",
    "content",
    "quality",
    "votes",
    "tmdb",
    "preferred",
    "avoid",
    "novelty",
    "repeat",
}
COLD_COMPONENTS = {"quality", "popularity", "preferred", "avoid", "novelty", "repeat"}


def by_id(ranked: list[ScoredCandidate]) -> dict[int, ScoredCandidate]:
    return {s.film.tmdb_id: s for s in ranked}


def ids(ranked: list[ScoredCandidate]) -> list[int]:
    return [s.film.tmdb_id for s in ranked]


def unique_by_id(cands: list[Candidate]) -> list[Candidate]:
    return list({c.film.tmdb_id: c for c in cands}.values())


# --- build_taste -----------------------------------------------------------------------------


def test_bayesian_prior_prefers_many_votes_over_few_perfect_ones() -> None:
    assert bayesian_rating(8.5, 10_000) > bayesian_rating(9.5, 3)
    assert bayesian_rating(0.0, 0) == BAYES_PRIOR_MEAN
    assert bayesian_rating(9.5, 3) == pytest.approx((3 * 9.5 + 200 * 6.5) / 203)
    assert bayesian_rating(42.0, 10**9) == pytest.approx(10.0, abs=1e-5)  # clamped
    assert bayesian_rating(5.0, -10) == BAYES_PRIOR_MEAN
    trusted = Candidate(film(1, vote_average=8.5, vote_count=10_000))
    hyped = Candidate(film(2, vote_average=9.5, vote_count=3))
    ranked = score_candidates([hyped, trusted], build_taste([]), exclude=())
    assert ids(ranked) == [1, 2]


@given(st.floats(-100, 100, allow_nan=False), st.integers(-10, 10**7))
def test_bayesian_rating_is_within_0_and_10(average: float, count: int) -> None:
    assert 0.0 <= bayesian_rating(average, count) <= 10.0


def test_popularity_term_is_log_scaled_and_capped() -> None:
    assert popularity_term(0.0) == 0.0
    assert popularity_term(-5.0) == 0.0
    assert popularity_term(1000.0) == pytest.approx(1.0)
    assert popularity_term(50_000.0) == 1.0
    assert 0.5 < popularity_term(40.0) < 0.6


def test_avoid_term() -> None:
    def term(avoid: float, keyword: bool = False) -> float:
        return avoid_term(Candidate(film(1), avoid=avoid, avoid_keyword=keyword))

    assert term(0.0) == 0.0
    assert term(AVOID_MIN_SIMILARITY) == 0.0
    assert term((1 + AVOID_MIN_SIMILARITY) / 2) == pytest.approx(0.5)
    assert term(1.0) == pytest.approx(1.0)
    assert term(0.0, keyword=True) == 1.0
    assert term(1.0, keyword=True) == pytest.approx(2.0)


def test_cold_start_ranks_by_quality_and_popularity() -> None:
    # Alien at 5★ against a mean of 4: loved, so a reason may name it
    history = [HistoryEntry(film(348, "Alien", keywords=("space",)), 5.0), HistoryEntry(film(349), 3.0)]
    taste = build_taste(history)
    assert is_cold_start(taste)
    weak = Candidate(film(1, keywords=("space",), vote_average=6.0), similar_seeds=(348,))
    great = Candidate(film(2, vote_average=8.5, vote_count=20_000, popularity=80))
    obscure = Candidate(film(3, vote_average=8.5, vote_count=20_000, popularity=1))
    ranked = score_candidates([weak, obscure, great], taste, exclude=())
    assert ids(ranked) == [2, 3, 1]
    for s in ranked:
        assert set(s.components) == COLD_COMPONENTS
        quality = (bayesian_rating(s.film.vote_average, s.film.vote_count) - BAYES_PRIOR_MEAN) / 2
        assert s.components["quality"] == pytest.approx(W_COLD_QUALITY * quality)
        assert s.components["popularity"] == pytest.approx(
            W_COLD_POPULARITY * popularity_term(s.film.popularity)
        )
    assert by_id(ranked)[1].reasons[0] == Reason(ReasonKind.SIMILAR_TO, ("Alien",))


def test_any_cf_or_content_signal_makes_a_cold_user_personalised() -> None:
    taste = build_taste([])
    assert is_cold_start(taste)
    plain = Candidate(film(1))
    for signal in (
        Candidate(film(2), sources=frozenset({CandidateSource.CF}), cf=0.4),
        Candidate(film(2), sources=frozenset({CandidateSource.TASTE}), content=0.0),
    ):
        ranked = score_candidates([plain, signal], taste, exclude=())
        assert all(set(s.components) == PERSONAL_COMPONENTS for s in ranked)
    # but a CF signal on an excluded film does not count
    cf_excluded = Candidate(film(2), cf=0.4)
    ranked = score_candidates([plain, cf_excluded], taste, exclude={2})
    assert ids(ranked) == [1]
    assert set(ranked[0].components) == COLD_COMPONENTS


def test_personalised_uses_cf_and_content() -> None:
    taste = scifi_lover()
    assert not is_cold_start(taste)
    # raw cf 0.8 with support 9 → 0.8 / 10^0.35; the largest adjusted |cf| scales to ±1
    fans = Candidate(film(1), sources=frozenset({CandidateSource.CF}), cf=0.8, cf_support=9)
    close = Candidate(film(2), sources=frozenset({CandidateSource.TASTE}), content=0.9)
    blockbuster = Candidate(film(3), sources=frozenset({CandidateSource.CF}), cf=0.8, cf_support=99_999)
    disliked = Candidate(film(4), sources=frozenset({CandidateSource.CF}), cf=-2.0, cf_support=9)
    ranked = score_candidates([disliked, blockbuster, close, fans], taste, exclude=())
    assert all(set(s.components) == PERSONAL_COMPONENTS for s in ranked)
    s = by_id(ranked)
    scale = 2.0 / 10**POPULARITY_EXPONENT
    assert s[4].components["cf"] == pytest.approx(-W_CF)
    assert s[1].components["cf"] == pytest.approx(W_CF * 0.8 / 10**POPULARITY_EXPONENT / scale)
    assert 0 < s[3].components["cf"] < s[1].components["cf"]  # popularity damping
    assert s[2].components["cf"] == 0.0
    assert s[2].components["content"] == pytest.approx(W_CONTENT * 0.9)
    assert s[1].components["content"] == 0.0
    assert s[1].components["quality"] == pytest.approx(
        W_QUALITY * (bayesian_rating(7.0, 1000) - BAYES_PRIOR_MEAN) / 2
    )
    assert ids(ranked)[-1] == 4
    # content 0.75·0.9 beats fans' cf of 0.4 (0.8 / 2 after the same damping); the blockbuster's is ~0.016
    assert ids(ranked) == [2, 1, 3, 4]


def test_tmdb_component_counts_related_lists_only_for_tmdb_candidates() -> None:
    taste = scifi_lover()
    tmdb = frozenset({CandidateSource.TMDB})
    three = Candidate(film(1), sources=tmdb, similar_seeds=(348, 78, 603))
    one = Candidate(film(2), sources=tmdb, similar_seeds=(348,))
    ann = Candidate(film(3), sources=frozenset({CandidateSource.TASTE}), similar_seeds=(348, 78, 603))
    ranked = score_candidates([ann, one, three], taste, exclude=())
    assert ids(ranked) == [1, 2, 3]
    s = by_id(ranked)
    assert s[1].components["tmdb"] == pytest.approx(W_TMDB * math.log1p(3))
    assert s[2].components["tmdb"] == pytest.approx(W_TMDB * math.log1p(1))
    assert s[3].components["tmdb"] == 0.0


def test_preferred_genres_raise_a_film() -> None:
    taste = scifi_lover()
    comedy = Candidate(film(1, genres=("Drama", "Comedy"), vote_average=6.0))
    better = Candidate(film(2, genres=("Drama",), vote_average=8.0))
    assert ids(score_candidates([comedy, better], taste, exclude=())) == [2, 1]
    ranked = score_candidates([comedy, better], taste, exclude=(), preferred_genres={"Comedy"})
    assert ids(ranked) == [1, 2]
    assert by_id(ranked)[1].components["preferred"] == W_PREFERRED
    assert by_id(ranked)[2].components["preferred"] == 0.0


@pytest.mark.parametrize(
    ("avoid", "keyword"),
    [(0.9, False), (AVOID_MIN_SIMILARITY + 0.05, False), (0.0, True), (0.1, True)],
)
def test_an_avoid_topic_lowers_a_film_but_never_removes_it(avoid: float, keyword: bool) -> None:
    taste = scifi_lover()
    topic = Candidate(film(1, vote_average=9.0), avoid=avoid, avoid_keyword=keyword)
    other = Candidate(film(2, vote_average=6.5))
    plain = score_candidates(
        [dataclasses.replace(topic, avoid=0.0, avoid_keyword=False), other], taste, exclude=()
    )
    ranked = score_candidates([topic, other], taste, exclude=())
    assert set(ids(ranked)) == {1, 2}
    assert by_id(ranked)[1].score < by_id(plain)[1].score
    assert by_id(ranked)[1].components["avoid"] == pytest.approx(-W_AVOID * avoid_term(topic))


def test_avoid_below_the_threshold_changes_nothing() -> None:
    taste = scifi_lover()
    (s,) = score_candidates([Candidate(film(1), avoid=AVOID_MIN_SIMILARITY - 0.01)], taste, exclude=())
    assert s.components["avoid"] == 0.0


def test_recently_shown_lookalikes_are_pushed_down() -> None:
    taste = scifi_lover()
    lookalike = Candidate(film(1, genres=("Drama", "Romance"), keywords=("wedding",), year=2003))
    different = Candidate(film(2, genres=("Action",), keywords=("heist",), year=1987))
    recent = RecentPicks(
        (
            film(90, genres=("Drama", "Romance"), keywords=("wedding",), year=2001),
            film(91, genres=("Drama",), year=2007),
        )
    )
    before = by_id(score_candidates([lookalike, different], taste, exclude=()))
    after = by_id(score_candidates([lookalike, different], taste, exclude=(), recent=recent))
    assert after[1].components["novelty"] == pytest.approx(-W_NOVELTY)
    assert after[1].components["repeat"] == pytest.approx(-W_REPEAT * 2 * (1 - REPEAT_FAIR_SHARE))
    assert after[1].score < before[1].score
    assert after[2].score == before[2].score


def test_duplicates_merge_and_history_and_exclusions_are_dropped() -> None:
    taste = scifi_lover()
    ranked = score_candidates(
        [
            Candidate(film(1), sources=frozenset({CandidateSource.TMDB}), similar_seeds=(348,)),
            Candidate(
                film(1), sources=frozenset({CandidateSource.CF}), cf=0.5, cf_support=3, cf_seeds=(78, 348)
            ),
            Candidate(film(2)),
            Candidate(film(348, "Alien")),  # already in the history
        ],
        taste,
        exclude={2},
    )
    assert ids(ranked) == [1]
    merged = ranked[0].candidate
    assert merged.sources == {CandidateSource.TMDB, CandidateSource.CF}
    assert merged.cf == 0.5 and merged.cf_support == 3
    assert merged.cf_seeds == (78, 348) and merged.similar_seeds == (348,)


# --- merge_candidates ------------------------------------------------------------------------


def test_merge_candidates_unions_sources_and_seeds() -> None:
    first = Candidate(
        film(1, "First"),
        sources=frozenset({CandidateSource.TMDB}),
        content=0.2,
        avoid=0.4,
        similar_seeds=(5, 6),
    )
    second = Candidate(
        film(1, "Second"),
        sources=frozenset({CandidateSource.CF, CandidateSource.TMDB}),
        cf=0.7,
        cf_support=12,
        content=None,
        avoid=0.1,
        avoid_keyword=True,
        cf_seeds=(6, 7),
        similar_seeds=(7, 5),
    )
    third = Candidate(film(1), sources=frozenset({CandidateSource.TASTE}), content=0.5, cf_seeds=(8, 6))
    other = Candidate(film(2))
    merged = merge_candidates([first, other, second, third])
    assert [c.film.tmdb_id for c in merged] == [1, 2]
    m = merged[0]
    assert m.film.title == "First"
    assert m.sources == {CandidateSource.TMDB, CandidateSource.CF, CandidateSource.TASTE}
    assert m.cf == 0.7 and m.cf_support == 12
    assert m.content == 0.5
    assert m.avoid == 0.4 and m.avoid_keyword
    assert m.cf_seeds == (6, 7, 8)
    assert m.similar_seeds == (5, 6, 7)
    assert merged[1] == other


def test_merge_candidates_keeps_the_strongest_cf() -> None:
    # "the strongest of each signal (cf, content, avoid)"
    a = Candidate(film(1), cf=0.1, cf_support=1)
    b = Candidate(film(1), cf=0.5, cf_support=50)
    assert merge_candidates([a, b])[0].cf == 0.5


@given(candidate_lists)
def test_merge_candidates_properties(cands: list[Candidate]) -> None:
    merged = merge_candidates(cands)
    assert [c.film.tmdb_id for c in merged] == list(dict.fromkeys(c.film.tmdb_id for c in cands))
    for m in merged:
        same = [c for c in cands if c.film.tmdb_id == m.film.tmdb_id]
        assert m.film == same[0].film
        assert m.sources == frozenset().union(*(c.sources for c in same))
        assert set(m.cf_seeds) == {s for c in same for s in c.cf_seeds}
        assert set(m.similar_seeds) == {s for c in same for s in c.similar_seeds}
        if len(same) == 1:
            assert m == same[0]
            continue
        assert m.cf_seeds == tuple(dict.fromkeys(s for c in same for s in c.cf_seeds))
        assert m.similar_seeds == tuple(dict.fromkeys(s for c in same for s in c.similar_seeds))
        assert m.avoid == max(c.avoid for c in same)
        assert m.avoid_keyword == any(c.avoid_keyword for c in same)
        contents = [c.content for c in same if c.content is not None]
        assert m.content == (max(contents) if contents else None)
        assert m.cf_support == max(c.cf_support for c in same)
        assert m.cf in {c.cf for c in same}
        assert (m.cf != 0) == any(c.cf != 0 for c in same)


# --- explain ---------------------------------------------------------------------------------


def test_reasons_name_cf_seeds_then_similar_films() -> None:
    taste = scifi_lover()
    candidate = Candidate(
        film(1, genres=("Science Fiction", "Comedy"), vote_average=8.4, vote_count=5000),
        cf_seeds=(603, 999, 78, 348),  # 999 is not in the history
        similar_seeds=(78, 348, 11),
    )
    # CF seeds are not repeated, and Drama A (3.5★, below the user's mean) was not loved
    assert explain(candidate, taste) == (
        Reason(ReasonKind.FANS_ALSO_LOVED, ("The Matrix", "Blade Runner")),
        Reason(ReasonKind.SHARED_GENRES, ("Science Fiction",)),
        Reason(ReasonKind.HIGHLY_RATED, ("8.4",)),
    )


def test_fallback_reasons_popular_or_highly_rated() -> None:
    taste = build_taste([])
    plain = Candidate(film(1, vote_average=6.0, genres=()), sources=frozenset({CandidateSource.POPULAR}))
    good = Candidate(film(2, vote_average=8.0, vote_count=3000))
    okay = Candidate(film(3, vote_average=7.0, vote_count=100))
    s = by_id(score_candidates([plain, good, okay], taste, exclude=()))
    assert s[1].reasons == (Reason(ReasonKind.POPULAR),)
    assert s[2].reasons == (Reason(ReasonKind.HIGHLY_RATED, ("8.0",)),)
    assert s[3].reasons == (Reason(ReasonKind.HIGHLY_RATED, ("7.0",)),)


# --- score_candidates: properties ------------------------------------------------------------


@given(candidate_lists, histories, exclusions, recents, st.frozensets(st.sampled_from(GENRES)))
def test_score_candidates_properties(
    cands: list[Candidate],
    history: list[HistoryEntry],
    exclude: frozenset[int],
    recent: RecentPicks,
    preferred: frozenset[str],
) -> None:
    taste = build_taste(history)
    ranked = score_candidates(cands, taste, exclude=exclude, recent=recent, preferred_genres=preferred)
    got = ids(ranked)
    hidden = exclude | set(taste.seed_titles)
    # excluded and already-seen films never appear; everything else appears once
    assert not set(got) & hidden
    assert set(got) == {c.film.tmdb_id for c in cands} - hidden
    assert len(got) == len(set(got))
    # score desc, then tmdb_id asc
    keys = [(-s.score, s.film.tmdb_id) for s in ranked]
    assert keys == sorted(keys)
    cold = is_cold_start(taste) and not any(
        (c.cf != 0 or c.content is not None) for c in cands if c.film.tmdb_id not in hidden
    )
    for s in ranked:
        assert math.isfinite(s.score)
        assert s.score == pytest.approx(sum(s.components.values()), abs=1e-12)
        assert set(s.components) == (COLD_COMPONENTS if cold else PERSONAL_COMPONENTS)
        assert s.reasons
        assert s.components["avoid"] <= 0 and s.components["novelty"] <= 0 and s.components["repeat"] <= 0
        if not cold:
            assert -W_CF <= s.components["cf"] <= W_CF
    if not cold and any(s.candidate.cf != 0 for s in ranked):
        assert max(abs(s.components["cf"]) for s in ranked) == pytest.approx(W_CF)


@given(candidate_lists, histories, recents)
def test_avoid_lowers_a_film_and_never_removes_it(
    cands: list[Candidate], history: list[HistoryEntry], recent: RecentPicks
) -> None:
    taste = build_taste(history)
    cands = unique_by_id(cands)
    calm = [dataclasses.replace(c, avoid=0.0, avoid_keyword=False) for c in cands]
    before = by_id(score_candidates(calm, taste, exclude=(), recent=recent))
    after = by_id(score_candidates(cands, taste, exclude=(), recent=recent))
    assert set(after) == set(before)
    for c in cands:
        if c.film.tmdb_id not in after:
            continue
        delta = after[c.film.tmdb_id].score - before[c.film.tmdb_id].score
        if avoid_term(c) > 1e-9:  # (a term of 1e-17 may vanish in the sum)
            assert delta < 0
        else:
            assert delta <= 0


@given(candidate_lists, histories, recents)
def test_recent_picks_only_lower_scores(
    cands: list[Candidate], history: list[HistoryEntry], recent: RecentPicks
) -> None:
    taste = build_taste(history)
    before = by_id(score_candidates(cands, taste, exclude=()))
    after = by_id(score_candidates(cands, taste, exclude=(), recent=recent))
    assert set(after) == set(before)
    for tmdb_id, s in after.items():
        assert s.score <= before[tmdb_id].score + 1e-12
        tags = set(s.film.genres) | set(s.film.keywords)
        lookalike = any(tags & (set(f.genres) | set(f.keywords)) for f in recent.films)
        if lookalike or (tags and any(f.tmdb_id == tmdb_id for f in recent.films)):
            assert s.score < before[tmdb_id].score


@given(candidate_lists, histories, st.frozensets(st.sampled_from(GENRES), min_size=1))
def test_preferred_genres_only_raise_scores(
    cands: list[Candidate], history: list[HistoryEntry], preferred: frozenset[str]
) -> None:
    taste = build_taste(history)
    before = by_id(score_candidates(cands, taste, exclude=()))
    after = by_id(score_candidates(cands, taste, exclude=(), preferred_genres=preferred))
    for tmdb_id, s in after.items():
        if preferred & set(s.film.genres):
            assert s.score == pytest.approx(before[tmdb_id].score + W_PREFERRED)
        else:
            assert s.score == before[tmdb_id].score


@given(st.lists(plain_candidates, max_size=20), st.integers(0, COLD_START_MIN_FILMS - 1))
def test_cold_start_never_has_a_cf_component(cands: list[Candidate], n_rated: int) -> None:
    taste = build_taste([HistoryEntry(film(900 + i), 4.0) for i in range(n_rated)])
    assert is_cold_start(taste)
    for s in score_candidates(cands, taste, exclude=()):
        assert set(s.components) == COLD_COMPONENTS


def test_taste_profile_without_history_is_usable() -> None:
    taste = TasteProfile({}, {}, {}, (), (), 0, None, {})
    (s,) = score_candidates([Candidate(film(1))], taste, exclude=())
    assert s.reasons


# --- every reason holds against the user's data --------------------------------------------------


def loved(entry: HistoryEntry, mean: float | None) -> bool:
    rating = entry.rating
    return entry.liked or (
        rating is not None and mean is not None and rating >= 4 and (rating > mean or rating == 5)
    )


@given(candidate_lists, histories)
def test_every_reason_shown_holds_against_the_history(
    cands: list[Candidate], history: list[HistoryEntry]
) -> None:
    """The written rules (issue "Picks a film lover trusts"), checked on the raw history, not
    on the taste profile: a film called loved was liked, rated 5, or rated ≥ 4 and above the
    user's mean; a genre rated highly is the film's own and the user's mean for it is above their
    overall mean; a "new" genre is one that fewer than 10 % of the user's rated films have."""
    taste = build_taste(history)
    latest = {e.film.tmdb_id: e for e in history}
    rated = [e for e in latest.values() if e.rating is not None]
    mean = sum(e.rating for e in rated if e.rating is not None) / len(rated) if rated else None
    by_title: dict[str, list[HistoryEntry]] = {}
    for entry in latest.values():
        by_title.setdefault(entry.film.title, []).append(entry)
    for pick in pick_three(score_candidates(cands, taste, exclude=()), taste):
        for reason in pick.reasons:
            if reason.kind in (ReasonKind.FANS_ALSO_LOVED, ReasonKind.SIMILAR_TO):
                for title in reason.values:
                    assert any(
                        e.liked
                        or e.rating == 5  # the top of the scale is always love, whatever the mean
                        or (e.rating is not None and mean is not None and e.rating >= 4 and e.rating > mean)
                        for e in by_title[title]
                    ), (title, by_title[title], mean)
            elif reason.kind is ReasonKind.SHARED_GENRES:
                for genre in reason.values:
                    assert genre in pick.film.genres
                    with_genre = [e for e in latest.values() if genre in e.film.genres]
                    centred = [
                        (e.rating - mean) if e.rating is not None and mean is not None else 0.5
                        for e in with_genre
                        if e.rating is not None or e.liked
                    ]
                    assert centred and sum(centred) > 0, (genre, centred)
            elif reason.kind is ReasonKind.NEW_GENRE:
                [genre] = reason.values
                share = sum(1 for e in rated if genre in e.film.genres) / len(rated)
                assert share < 0.10, (genre, share)
