"""Matching Letterboxd names to TMDB: the rules (pure) and the matcher against the fake TMDB
on loopback (real HTTP, real client) and the real database (the shared cache)."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Film, TitleMatch
from db.repositories.films import FilmRepository
from db.repositories.matches import TitleMatchRepository
from domain.entities import FilmInfo
from domain.matching import TitleMatcher, best_match, title_key
from integrations.tmdb import TMDBClient
from tests.fakes.tmdb_server import FakeTMDBServer

# (id, title, original title, release date, popularity): real TMDB ids and titles
FILMS = [
    (1091, "The Thing", "The Thing", "1982-06-25", 40.0),
    (60935, "The Thing", "The Thing", "2011-10-12", 20.0),
    (194, "Amélie", "Le Fabuleux Destin d'Amélie Poulain", "2001-04-25", 50.0),
    (101, "Léon: The Professional", "Léon", "1994-09-14", 60.0),
    (948, "Halloween", "Halloween", "1978-10-24", 30.0),
    (2082, "Halloween", "Halloween", "2007-08-31", 15.0),
    (424694, "Halloween", "Halloween", "2018-10-18", 45.0),
    (146, "Crouching Tiger, Hidden Dragon", "臥虎藏龍", "2000-07-06", 25.0),
    (1417, "Pan's Labyrinth", "El laberinto del fauno", "2006-10-11", 35.0),
    (129, "Spirited Away", "千と千尋の神隠し", "2001-07-20", 80.0),
    (8587, "The Lion King", "The Lion King", "1994-06-23", 90.0),
    (420818, "The Lion King", "The Lion King", "2019-07-12", 70.0),
]


def write_tmdb_csv(path: Path) -> Path:
    with open(Path(__file__).parents[2] / "bot" / "data" / "demo_films.csv", encoding="utf-8") as demo:
        columns = next(csv.reader(demo))  # the TMDB 5000 layout
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, restval="")
        writer.writeheader()
        for tmdb_id, title, original, release, popularity in FILMS:
            writer.writerow(
                {
                    "id": tmdb_id,
                    "title": title,
                    "original_title": original,
                    "release_date": release,
                    "popularity": popularity,
                    "genres": json.dumps([{"id": 18, "name": "Drama"}]),
                    "keywords": "[]",
                    "production_companies": "[]",
                    "production_countries": "[]",
                    "spoken_languages": "[]",
                    "original_language": "en",
                    "budget": 0,
                    "revenue": 0,
                    "vote_average": 7,
                    "vote_count": 100,
                    "runtime": 100,
                }
            )
    return path


def info(
    tmdb_id: int, title: str, year: int | None, *, original: str | None = None, pop: float = 1.0
) -> FilmInfo:
    return FilmInfo(tmdb_id=tmdb_id, title=title, year=year, original_title=original, popularity=pop)


# --- the rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("The Lord of the Rings: The Two Towers", "lord of the rings the two towers"),
        ("Amélie", "amelie"),
        ("Pan's Labyrinth", "pans labyrinth"),
        ("Pan’s Labyrinth", "pans labyrinth"),
        ("Thing, The", "thing"),
        ("A Star Is Born", "star is born"),
        ("Fast & Furious", "fast and furious"),
        ("  WALL·E  ", "wall e"),
        ("Æon Flux", "aeon flux"),
        ("A", "a"),  # a title that is only an article keeps it
    ],
)
def test_title_key(title: str, key: str) -> None:
    assert title_key(title) == key


def test_exact_title_and_year_beat_popularity() -> None:
    results = [info(424694, "Halloween", 2018, pop=45), info(948, "Halloween", 1978, pop=30)]
    assert best_match("Halloween", 1978, results) == results[1]
    assert best_match("Halloween", 2018, results) == results[0]


def test_year_may_be_one_off_but_not_two() -> None:
    results = [info(1, "Festival Film", 2019)]
    assert best_match("Festival Film", 2020, results) == results[0]
    assert best_match("Festival Film", 2021, results) is None


def test_exact_year_wins_over_one_off() -> None:
    near, exact = info(1, "Twins", 2000, pop=99), info(2, "Twins", 2001, pop=1)
    assert best_match("Twins", 2001, [near, exact]) == exact


def test_original_title_and_variants_match() -> None:
    leon = info(101, "Léon: The Professional", 1994, original="Léon")
    assert best_match("Leon: The Professional", 1994, [leon]) == leon
    assert best_match("Léon", 1994, [leon]) == leon
    thing = info(1091, "The Thing", 1982)
    assert best_match("Thing", 1982, [thing]) == thing


def test_a_different_title_is_not_taken_even_when_it_is_the_only_result() -> None:
    assert best_match("Alien", 1979, [info(679, "Aliens", 1986), info(8077, "Alien³", 1992)]) is None
    assert best_match("The Thing", 1982, [info(9, "The Thin Man", 1982)]) is None


def test_a_sequel_number_is_a_different_film() -> None:
    assert best_match("Scary Movie", 2000, [info(4257, "Scary Movie 2", 2001)]) is None
    assert best_match("Blade Runner", 1982, [info(335984, "Blade Runner 2049", 2017)]) is None
    rocky = info(1367, "Rocky II", 1979)
    assert best_match("Rocky II", 1979, [info(1366, "Rocky", 1976), rocky]) == rocky


def test_no_year_takes_the_most_popular_exact_title() -> None:
    old, new = info(8587, "The Lion King", 1994, pop=90), info(420818, "The Lion King", 2019, pop=70)
    assert best_match("The Lion King", None, [new, old]) == old


# --- the matcher on the fake TMDB and the real database ----------------------------------------------


@pytest.fixture
async def tmdb(tmp_path: Path) -> AsyncIterator[tuple[FakeTMDBServer, TMDBClient]]:
    async with FakeTMDBServer(write_tmdb_csv(tmp_path / "films.csv")) as server:
        client = TMDBClient(base_url=server.base_url, api_key="k", max_attempts=2, backoff_multiplier=0.001)
        async with client:
            yield server, client


async def test_matcher_finds_variants_through_tmdb_and_caches_every_decision(
    session: AsyncSession, tmdb: tuple[FakeTMDBServer, TMDBClient]
) -> None:
    server, client = tmdb
    matcher = TitleMatcher(FilmRepository(session), TitleMatchRepository(session), client)
    pairs: list[tuple[str, int | None]] = [
        ("The Thing", 1982),
        ("The Thing", 2011),
        ("Amelie", 2001),
        ("Léon: The Professional", 1994),
        ("Halloween", 1978),
        ("Halloween", 2019),  # TMDB says 2018: one year off is the same film
        ("Crouching Tiger, Hidden Dragon", 2000),
        ("Pans Labyrinth", 2006),
        ("El laberinto del fauno", 2006),  # the original title
        ("The Lion King", None),
        ("A Film Nobody Made", 1999),
    ]
    decided = await matcher.match(pairs)
    assert decided == {
        ("The Thing", 1982): 1091,
        ("The Thing", 2011): 60935,
        ("Amelie", 2001): 194,
        ("Léon: The Professional", 1994): 101,
        ("Halloween", 1978): 948,
        ("Halloween", 2019): 424694,
        ("Crouching Tiger, Hidden Dragon", 2000): 146,
        ("Pans Labyrinth", 2006): 1417,
        ("El laberinto del fauno", 2006): 1417,
        ("The Lion King", None): 8587,
        ("A Film Nobody Made", 1999): None,
    }
    # found films are in the catalog (imports reference them by foreign key)
    assert await session.scalar(select(func.count()).select_from(Film)) == 9
    # every decision is cached, the miss included; asking again costs no request
    assert await session.scalar(select(func.count()).select_from(TitleMatch)) == len(pairs)
    requests = server.count("/3/search/movie")
    again = await TitleMatcher(FilmRepository(session), TitleMatchRepository(session), client).match(pairs)
    assert again == decided
    assert server.count("/3/search/movie") == requests


async def test_case_and_spacing_share_one_cache_entry(
    session: AsyncSession, tmdb: tuple[FakeTMDBServer, TMDBClient]
) -> None:
    server, client = tmdb
    matcher = TitleMatcher(FilmRepository(session), TitleMatchRepository(session), client)
    await matcher.match([("Spirited Away", 2001)])
    before = server.count("/3/search/movie")
    assert await matcher.match([("spirited  AWAY", 2001)]) == {("spirited  AWAY", 2001): 129}
    assert server.count("/3/search/movie") == before


async def test_catalog_only_matching_uses_the_catalog(session: AsyncSession, tmp_path: Path) -> None:
    from integrations.tmdb_csv import read_tmdb_csv

    films = FilmRepository(session)
    await films.upsert(read_tmdb_csv(write_tmdb_csv(tmp_path / "films.csv")))
    matcher = TitleMatcher(films, TitleMatchRepository(session), None)
    decided = await matcher.match([("Amelie", 2001), ("Thing, The", 1982), ("Nope", 2000)])
    assert decided == {("Amelie", 2001): 194, ("Thing, The", 1982): 1091, ("Nope", 2000): None}
    # a catalog "no" is not cached: TMDB may know the film once it is configured
    assert await session.scalar(select(func.count()).select_from(TitleMatch)) == 2
