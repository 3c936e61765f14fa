"""The group rule (average without misery, Masthoff 2011) and the group reasons' rules."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from recommender import HistoryEntry, build_taste
from recommender.group import (
    DISLIKE_AFFINITY,
    FAN_FIT,
    MISERY_FIT,
    MISERY_PENALTY,
    GroupReasonKind,
    MemberTaste,
    dislikes,
    fit_percentiles,
    group_picks,
    group_reasons,
    group_scores,
)
from recommender.taste import POSITIVE_AFFINITY_MIN
from recommender.types import FilmFeatures, TasteProfile
from tests.recommender.helpers import film

EMPTY = TasteProfile({}, {}, {}, (), (), 0, None, {})


def taste_of(loved: tuple[str, ...], hated: tuple[str, ...] = ()) -> TasteProfile:
    """Rated 5★ films of `loved` genres, 1★ films of `hated` ones, a few 3★ dramas."""
    history = []
    tmdb = 10_000
    for genre in loved:
        for _ in range(4):
            tmdb += 1
            history.append(HistoryEntry(film(tmdb, genres=(genre,)), 5.0))
    for genre in hated:
        for _ in range(4):
            tmdb += 1
            history.append(HistoryEntry(film(tmdb, genres=(genre,)), 1.0))
    for _ in range(3):
        tmdb += 1
        history.append(HistoryEntry(film(tmdb, genres=("Documentary",)), 3.0))
    return build_taste(history)


def test_fit_percentiles_rank_best_as_one_and_share_ties() -> None:
    fits = fit_percentiles({1: 3.0, 2: 1.0, 3: 1.0, 4: 0.5}, [1, 2, 3, 4, 5])
    assert fits[1] == 1.0
    assert fits[5] == 0.0  # no score: below every scored film
    assert fits[2] == fits[3] == 0.625  # ranks 2 and 3 of 0..4, mean 2.5 / 4
    assert fits[4] == 0.25


@given(st.dictionaries(st.integers(1, 50), st.floats(-5, 5), min_size=1, max_size=30))
def test_fit_percentiles_are_in_unit_interval_and_monotone(scores: dict[int, float]) -> None:
    pool = sorted(scores)
    fits = fit_percentiles(scores, pool)
    assert all(0.0 <= f <= 1.0 for f in fits.values())
    for a in pool:
        for b in pool:
            if scores[a] > scores[b]:
                assert fits[a] > fits[b]


def test_least_misery_one_member_hating_a_genre_the_others_love() -> None:
    """Anna and Ben love horror, Chris hates it. Their own rankings put horror on top for Anna
    and Ben; the group's first pick must still be a film nobody dislikes."""
    horror = [film(i, genres=("Horror",)) for i in (1, 2, 3)]
    comedy = [film(i, genres=("Comedy",)) for i in (4, 5, 6)]
    films = horror + comedy
    anna = MemberTaste(1, {1: 9, 2: 8, 3: 7, 4: 6, 5: 5, 6: 4}, taste_of(("Horror", "Comedy")))
    ben = MemberTaste(2, {1: 9, 2: 8, 3: 7, 4: 5, 5: 6, 6: 4}, taste_of(("Horror", "Comedy")))
    chris = MemberTaste(3, {4: 9, 5: 8, 6: 7, 1: 3, 2: 2, 3: 1}, taste_of(("Comedy",), hated=("Horror",)))
    members = [anna, ben, chris]
    assert chris.taste.genre_affinity["Horror"] <= DISLIKE_AFFINITY

    scores = group_scores(films, members)
    by_id = {s.film.tmdb_id: s for s in scores}
    for h in horror:
        assert by_id[h.tmdb_id].miserable == (3,)
        assert by_id[h.tmdb_id].score == by_id[h.tmdb_id].mean_fit - MISERY_PENALTY
    # the plain average would pick horror film 1 (fits 1, 1, 0.4 → 0.8); least misery does not
    assert by_id[1].mean_fit > by_id[4].mean_fit
    assert scores[0].film.tmdb_id in {4, 5, 6}
    picks = group_picks(films, members)
    assert [p.film.tmdb_id for p in picks][:1] == [scores[0].film.tmdb_id]
    assert all(not dislikes(m, picks[0].film, picks[0].score.fits[m.key]) for m in members)


def test_member_without_history_is_never_miserable_nor_named() -> None:
    newcomer = MemberTaste(9, {1: 0.0, 2: 1.0}, EMPTY)
    f = film(1, genres=("Horror",))
    assert not dislikes(newcomer, f, 0.0)
    lover = MemberTaste(1, {1: 5.0, 2: 0.0}, taste_of(("Horror",)))
    score = group_scores([f, film(2)], [lover, newcomer])
    first = next(s for s in score if s.film.tmdb_id == 1)
    reasons = group_reasons(first, [lover, newcomer])
    assert all(9 not in r.members for r in reasons)
    assert reasons[0].kind is GroupReasonKind.FITS and reasons[0].members == (1,)


def test_low_fit_and_avoided_films_are_predicted_dislikes() -> None:
    member = MemberTaste(1, {}, taste_of(("Comedy",)), avoided=frozenset({7}))
    assert dislikes(member, film(5, genres=("Comedy",)), MISERY_FIT - 0.01)
    assert not dislikes(member, film(5, genres=("Comedy",)), MISERY_FIT)
    assert dislikes(member, film(7, genres=("Comedy",)), 0.9)


def _check_reason_rules(f: FilmFeatures, members: list[MemberTaste]) -> None:
    score = next(s for s in group_scores([f, *[film(100 + i) for i in range(5)]], members) if s.film == f)
    by_key = {m.key: m for m in members}
    for reason in group_reasons(score, members):
        if reason.kind is GroupReasonKind.FITS:
            for key in reason.members:
                m = by_key[key]
                assert m.informative and score.fits[key] >= FAN_FIT and key not in score.miserable
                if reason.genre:
                    assert reason.genre in f.genres and reason.genre in m.taste.top_genres
        elif reason.kind is GroupReasonKind.LIKES_GENRE:
            (key,) = reason.members
            m = by_key[key]
            assert reason.genre in f.genres
            assert m.taste.genre_affinity[reason.genre or ""] >= POSITIVE_AFFINITY_MIN
            assert key not in score.miserable
        elif reason.kind is GroupReasonKind.SAFE_MIDDLE:
            assert not score.miserable and all(m.informative for m in members)
            assert all(m.taste.genre_affinity.get(f.genres[0], 0) > DISLIKE_AFFINITY for m in members)


@given(
    st.lists(
        st.sampled_from(["Horror", "Comedy", "Drama", "Action", "Romance"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    st.lists(st.floats(-3, 3), min_size=18, max_size=18),
)
def test_every_group_reason_holds_its_rule(genres: list[str], raw: list[float]) -> None:
    f = film(1, genres=tuple(genres))
    tastes = [taste_of(("Horror", "Comedy")), taste_of(("Drama",), hated=("Romance",)), taste_of(("Action",))]
    members = [
        MemberTaste(k, {t: raw[(k - 1) * 6 + i] for i, t in enumerate([1, 100, 101, 102, 103, 104])}, taste)
        for k, taste in enumerate(tastes, start=1)
    ]
    _check_reason_rules(f, members)
