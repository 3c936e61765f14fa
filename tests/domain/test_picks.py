"""domain.picks: the order in which a pick's genres are shown (pure)."""

from __future__ import annotations

from domain.entities import FilmInfo
from domain.picks import genres_first, reason_genres
from recommender import Reason, ReasonKind

TOY_STORY = FilmInfo(862, "Toy Story", 1995, genres=("Animation", "Adventure", "Family", "Comedy"))


def test_the_named_genres_come_first_and_the_rest_keep_tmdbs_order() -> None:
    assert genres_first(TOY_STORY, ["Comedy"]).genres == ("Comedy", "Animation", "Adventure", "Family")
    assert genres_first(TOY_STORY, ["Comedy", "Family", "Comedy"]).genres == (
        "Comedy",
        "Family",
        "Animation",
        "Adventure",
    )


def test_genres_the_film_lacks_change_nothing() -> None:
    assert genres_first(TOY_STORY, ["Horror"]) is TOY_STORY
    assert genres_first(TOY_STORY, []) is TOY_STORY
    assert genres_first(TOY_STORY, ["Animation"]) is TOY_STORY  # already first
    only = genres_first(TOY_STORY, ["Horror", "Family"])
    assert only.genres == ("Family", "Animation", "Adventure", "Comedy") and only.title == "Toy Story"


def test_reason_genres_are_those_of_the_genre_reasons_in_order() -> None:
    reasons = (
        Reason(ReasonKind.SIMILAR_TO, ("Heat",)),
        Reason(ReasonKind.SHARED_GENRES, ("Comedy", "Family")),
        Reason(ReasonKind.NEW_GENRE, ("Animation",)),
        Reason(ReasonKind.SHARED_KEYWORDS, ("toy",)),
    )
    assert reason_genres(reasons) == ["Comedy", "Family", "Animation"]
