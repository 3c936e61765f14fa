"""The Letterboxd parser on the four real exports in $WTW_DATASETS/letterboxd/ (see its README, section 3).

Counts below were measured with `read_export` and cross-checked with a plain `csv` count. How they
relate to the README's per-file row counts:

- `rows_read` equals the README's "rows" column for every file (a CSV parser's count; quoted
  reviews span several lines, so `wc -l` gives more).
- films are distinct (name, year) pairs over all files, so they exceed any one file's rows.
- watchlist films can be fewer than watchlist rows: two *different* films with the same title and
  year merge under the name+year key (agosvenezia: "Lost Country" 2023 twice; ujjwalyadav: "Maya"
  2018, "Erased" 2016 and "The Message" 1976 twice). Same in patrickmjones/watched.csv ("The
  Haunted Castle" 1897, "Rain" 2019): 2,604 rows, 2,602 distinct keys.
- reviews are per film: patrickmjones has 162 review rows but 158 films (4 films reviewed on two
  viewings: "The Shining", "Parasite", "WHAT DID JACK DO?", "The Green Knight"; the latest review
  is kept). ujjwalyadav's 10 and viniciusaraujogr's 60 rows are 10 and 60 films; 4 of
  ujjwalyadav's and 1 of patrickmjones's reviews have an empty Watched Date (not an error).
- rated films can exceed ratings.csv rows: viniciusaraujogr has 721 ratings.csv rows but 727 rated
  films: 6 films (Spider-Man 2002, Prometheus …) are rated only in diary.csv, which the merge uses
  as the fallback.
- watched films can exceed watched.csv: patrickmjones has 2,602 distinct watched.csv keys but 2,612
  watched films: 10 films are logged in diary.csv/reviews.csv without being in watched.csv (e.g.
  "Her Story" 2015 and "Telling Lies" 2019, which are video games, and "Never Hike in the Snow" with
  no year).
- liked films are all watched; some watchlist films are also watched (patrickmjones 28,
  viniciusaraujogr 12, ujjwalyadav 2, agosvenezia 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from domain.letterboxd import LetterboxdExport, read_export

pytestmark = pytest.mark.datasets


@dataclass(frozen=True)
class Expected:
    films: int
    rated: int
    reviewed: int
    liked: int
    watchlist: int
    watched: int
    watched_on: int
    no_year: int
    rows_read: dict[str, int]


EXPECTED = {
    "agosvenezia": Expected(
        films=3452,
        rated=913,
        reviewed=913,
        liked=830,
        watchlist=2539,
        watched=913,
        watched_on=913,
        no_year=9,
        rows_read={
            "ratings.csv": 913,
            "watched.csv": 913,
            "diary.csv": 913,
            "reviews.csv": 913,
            "likes/films.csv": 830,
            "watchlist.csv": 2540,
        },
    ),
    "ujjwalyadav": Expected(
        films=5093,
        rated=1249,
        reviewed=10,
        liked=32,
        watchlist=3535,
        watched=1560,
        watched_on=1284,
        no_year=55,
        rows_read={
            "ratings.csv": 1249,
            "watched.csv": 1560,
            "diary.csv": 1297,
            "reviews.csv": 10,
            "likes/films.csv": 32,
            "watchlist.csv": 3538,
        },
    ),
    "viniciusaraujogr": Expected(
        films=1822,
        rated=727,
        reviewed=60,
        liked=381,
        watchlist=231,
        watched=1603,
        watched_on=886,
        no_year=2,
        rows_read={
            "ratings.csv": 721,
            "watched.csv": 1603,
            "diary.csv": 908,
            "reviews.csv": 60,
            "likes/films.csv": 381,
            "watchlist.csv": 231,
        },
    ),
    "patrickmjones": Expected(
        films=3389,
        rated=5,
        reviewed=158,
        liked=0,  # no likes/films.csv in this export
        watchlist=805,
        watched=2612,
        watched_on=2085,
        no_year=5,
        rows_read={
            "ratings.csv": 5,
            "watched.csv": 2604,
            "diary.csv": 2132,
            "reviews.csv": 162,
            "watchlist.csv": 805,
        },
    ),
}

_HTML_TAG = re.compile(r"</?\s*(?:i|b|em|strong|a|p|br|blockquote|div|span)\b[^>]*>", re.IGNORECASE)
_HTML_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|nbsp|#\d+);")
_HALF_STEPS = {Decimal(n) / 2 for n in range(1, 11)}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def user(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def export(datasets_dir: Path, user: str) -> LetterboxdExport:
    return read_export(datasets_dir / "letterboxd" / user)


def test_counts(export: LetterboxdExport, user: str) -> None:
    expected = EXPECTED[user]
    films = export.films
    assert dict(export.rows_read) == expected.rows_read
    assert export.files_read == tuple(expected.rows_read)
    assert export.skipped_rows == 0, export.problems
    assert export.problems == ()
    assert len(films) == expected.films
    assert sum(f.rating is not None for f in films) == expected.rated
    assert sum(f.review is not None for f in films) == expected.reviewed
    assert sum(f.liked for f in films) == expected.liked
    assert sum(f.on_watchlist for f in films) == expected.watchlist
    assert sum(f.watched for f in films) == expected.watched
    assert sum(f.watched_on is not None for f in films) == expected.watched_on
    assert sum(f.year is None for f in films) == expected.no_year


def test_invariants(export: LetterboxdExport) -> None:
    films = export.films
    assert len({f.key for f in films}) == len(films)
    for film in films:
        assert film.name and film.name == film.name.strip()
        assert film.rating is None or film.rating in _HALF_STEPS
        assert film.liked <= film.watched  # every liked film in these exports was also watched
        if film.rating is not None or film.review is not None or film.watched_on is not None:
            assert film.watched
        assert (film.review is None) == (film.reviewed_on is None)
        # every rating row of a real export is dated: each imported rating carries its time
        assert (film.rating is None) == (film.rated_on is None), film


def test_reviews_are_plain_text(export: LetterboxdExport) -> None:
    for film in export.films:
        if film.review is None:
            continue
        assert film.review == film.review.strip()
        assert not _HTML_TAG.search(film.review), (film.name, film.review[:200])
        assert not _HTML_ENTITY.search(film.review), (film.name, film.review[:200])
        assert "\n\n\n" not in film.review
