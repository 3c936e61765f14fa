"""IMDb ratings exports: reading the CSV (header variants, encodings, TV rows, ratings ÷ 2), the
TMDB client's /find against the fake TMDB, and ImportService storing an IMDb export on the real
database, matched exactly by IMDb id with TMDB and by title and year without it."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import DEMO_CATALOG
from bot.jobs import JobOutbox
from db.models import Film, TitleMatch, UserFilm
from db.repositories.users import UserRepository
from domain.catalog import CatalogService
from domain.entities import Source
from domain.imdb import IMDB_CACHE_YEAR, looks_like_imdb, read_imdb_bytes
from domain.imports import ImportService, read_sent_file
from domain.letterboxd import LetterboxdFormatError, unmatched_csv_bytes
from integrations.tmdb import TMDBClient
from integrations.tmdb_csv import read_tmdb_csv
from tests.conftest import FIXTURES
from tests.fakes.tmdb_server import FakeTMDBServer, fake_imdb_id

IMDB_EXPORT = FIXTURES / "imdb" / "synthetic_imdb_export.csv"  # hand-written, no real user data
#: The real IMDb ids of the fixture's films that are in the demo catalog → their TMDB ids.
IMDB_TO_TMDB = {
    "tt0078748": 348,  # Alien
    "tt0090605": 679,  # Aliens
    "tt0133093": 603,  # The Matrix
    "tt0211915": 194,  # Amélie
    "tt0457430": 1417,  # Pan's Labyrinth
    "tt0245429": 129,  # Spirited Away, titled "Chihiros Reise ins Zauberland" in the export
    "tt0068646": 238,  # The Godfather
}
#: IMDb's older export layout (list exports and pre-2024 ratings exports): lower-case type ids.
OLD_HEADER = (
    "Position,Const,Created,Modified,Description,Title,URL,Title Type,IMDb Rating,Runtime (mins),Year,"
    "Genres,Num Votes,Release Date,Directors,Your Rating,Date Rated"
)


def old_row(const: str, title: str, kind: str, year: str, rating: str, rated: str = "2020-05-01") -> str:
    created = "2020-05-01,2020-05-01,"
    return f'1,{const},{created},{title},u,{kind},8.0,100,{year},"Drama",10,{year}-01-01,X,{rating},{rated}'


# --- reading ---------------------------------------------------------------------------------


def test_the_fixture_becomes_rated_films_with_half_stars_and_tv_counted() -> None:
    export = read_imdb_bytes(IMDB_EXPORT.read_bytes(), "ratings.csv")
    assert export.source is Source.IMDB
    films = {f.imdb_id: f for f in export.films}
    assert len(films) == 8, "2 of 10 rows are a TV series and an episode"
    assert {"tt0903747", "tt0959621"}.isdisjoint(films)
    alien = films["tt0078748"]
    assert (alien.name, alien.year, alien.rating, alien.rated_on) == (
        "Alien",
        1979,
        Decimal("4.5"),
        dt.date(2023, 1, 14),
    )
    assert alien.watched and not alien.liked and alien.review is None
    assert films["tt0133093"].rating == Decimal("5")  # 10 → 5
    assert films["tt0211915"].rating == Decimal("3.5")  # 7 → 3.5
    assert films["tt0457430"].rating == Decimal("0.5")  # 1 → 0.5
    assert films["tt0211915"].name == "Amélie"
    assert films["tt0000001"].year == 1894, "a Short is a film"
    assert export.skipped_rows == 0
    [note] = export.problems
    assert (note.code, note.value, note.row) == ("not_films", "2", None)
    assert str(note) == "ratings.csv: 2 TV series, episodes or other titles that are not films left out"


def test_the_older_layout_with_its_own_type_names_and_any_case_or_spacing_of_the_header() -> None:
    header = OLD_HEADER.replace("Your Rating", " YOUR RATING ").replace("Const", "const")
    rows = [
        old_row("tt0078748", "Alien", "movie", "1979", "8"),
        old_row("tt0903747", "Breaking Bad", "tvSeries", "2008", "10"),
        old_row("tt0959621", "Pilot", "tvEpisode", "2008", "9"),
        old_row("tt0306414", "The Wire", "tvMiniSeries", "2002", "9"),
        old_row("tt0104431", "Some TV Film", "tvMovie", "1992", "6"),
        old_row("tt0234567", "A Video", "video", "2004", "3"),
        old_row("tt0345678", "A Game", "videoGame", "2010", "7"),
        old_row("tt0456789", "A Feature", "Feature Film", "1995", "4"),
    ]
    export = read_imdb_bytes(("\n".join([header, *rows]) + "\n").encode(), "list.csv")
    assert [(f.name, f.rating) for f in export.films] == [
        ("Alien", Decimal("4")),
        ("Some TV Film", Decimal("3")),
        ("A Video", Decimal("1.5")),
        ("A Feature", Decimal("2")),
    ]
    assert [(p.code, p.value) for p in export.problems] == [("not_films", "4")]
    assert looks_like_imdb(header.encode())


def test_utf8_with_a_bom_and_latin1_are_read_and_latin1_is_noted() -> None:
    text = IMDB_EXPORT.read_text(encoding="utf-8")
    with_bom = read_imdb_bytes(text.encode("utf-8-sig"), "ratings.csv")
    assert len(with_bom.films) == 8, "the BOM does not hide the Const column"
    assert [p.code for p in with_bom.problems] == ["not_films"]
    latin = read_imdb_bytes(text.encode("latin-1"), "ratings.csv")
    assert {f.name for f in latin.films} >= {"Amélie", "Pan's Labyrinth"}
    assert ("encoding", "cp1252") in [(p.code, p.value) for p in latin.problems]
    assert looks_like_imdb(text.encode("utf-8-sig")) and looks_like_imdb(text.encode("latin-1"))


def test_unusable_rows_are_skipped_with_reasons_and_a_re_rated_title_is_one_film() -> None:
    header = "Const,Your Rating,Date Rated,Title,URL,Title Type,Year"
    rows = [
        "tt0078748,6,2020-01-01,Alien,u,movie,1979",
        "tt0078748,9,2021-06-01,Alien,u,movie,1979",  # rated again later: this one counts
        "tt0090605,11,2020-01-01,Aliens,u,movie,1986",
        "tt0133093,abc,2020-01-01,The Matrix,u,movie,1999",
        "tt0068646,,2020-01-01,The Godfather,u,movie,1972",
        "nm0000001,8,2020-01-01,A Person,u,movie,1999",
        "tt0211915,7,yesterday,Amélie,u,movie,20x1",  # a bad date or year is left empty
        "tt0457430,8,2020-01-01,,u,movie,2006",
    ]
    export = read_imdb_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(), "ratings.csv")
    films = {f.imdb_id: f for f in export.films}
    assert set(films) == {"tt0078748", "tt0211915"}
    assert (films["tt0078748"].rating, films["tt0078748"].rated_on) == (Decimal("4.5"), dt.date(2021, 6, 1))
    assert (films["tt0211915"].year, films["tt0211915"].rated_on) == (None, None)
    assert export.skipped_rows == 5
    assert [(p.row, p.code) for p in export.problems] == [
        (3, "bad_imdb_rating"),
        (4, "bad_imdb_rating"),
        (5, "no_rating"),
        (6, "bad_const"),
        (8, "empty_name"),
    ]
    assert str(export.problems[0]) == "ratings.csv row 3: rating '11' is not 1–10"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"Const,Title,Title Type\ntt0078748,Alien,movie\n", "imdb_columns"),
        (b"Const,Your Rating,Date Rated,Title Type\ntt0078748,8,2020-01-01,movie\n", "imdb_columns"),
        (
            b"Const,Your Rating,Date Rated,Title,Title Type\ntt0903747,10,2020-01-01,Breaking Bad,tvSeries\n",
            "imdb_no_films",
        ),
        (b"Const,Your Rating,Date Rated,Title,Title Type\n", "imdb_no_films"),
    ],
)
def test_an_imdb_file_with_nothing_to_import_is_refused_with_the_reason(data: bytes, code: str) -> None:
    with pytest.raises(LetterboxdFormatError) as caught:
        read_sent_file(data, "ratings.csv")
    assert caught.value.code == code
    assert "IMDb" in str(caught.value)


def test_the_sent_file_is_read_as_imdb_by_its_columns_whatever_its_name() -> None:
    imdb = read_sent_file(IMDB_EXPORT.read_bytes(), "diary.csv")
    assert imdb.source is Source.IMDB and imdb.films[0].imdb_id == "tt0078748"
    letterboxd = read_sent_file(
        b"Date,Name,Year,Letterboxd URI,Rating\n2020-01-01,Alien,1979,u,4\n", "ratings.csv"
    )
    assert letterboxd.source is Source.LETTERBOXD and letterboxd.films[0].imdb_id is None
    assert not looks_like_imdb(b"Date,Name,Year,Letterboxd URI,Rating\n")
    assert not looks_like_imdb(b"Const,Name,Letterboxd URI,Your Rating\n")


def test_a_zip_of_the_imdb_csv_is_read_and_a_zip_of_other_csvs_is_not() -> None:
    def zipped(files: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        return buffer.getvalue()

    export = read_sent_file(zipped({"imdb-export/ratings.csv": IMDB_EXPORT.read_bytes()}), "export.zip")
    assert export.source is Source.IMDB and len(export.films) == 8
    with pytest.raises(LetterboxdFormatError) as caught:
        read_sent_file(zipped({"a.csv": IMDB_EXPORT.read_bytes(), "b.csv": b"x"}), "export.zip")
    assert caught.value.code == "no_files", "which of two CSVs is meant is not guessed"
    letterboxd = zipped({"ratings.csv": b"Date,Name,Year,Letterboxd URI,Rating\n2020-01-01,Alien,1979,u,4\n"})
    assert read_sent_file(letterboxd, "export.zip").source is Source.LETTERBOXD


def test_the_unmatched_csv_of_imdb_films_carries_their_ids() -> None:
    films = read_imdb_bytes(IMDB_EXPORT.read_bytes(), "ratings.csv").films
    text = unmatched_csv_bytes(films[-1:]).decode("utf-8-sig")
    assert text.splitlines() == [
        "Name,Year,Rating,Watched Date,Watched,Liked,Watchlist,Review,imdbID",
        "Carmencita,1894,2.5,,Yes,,,,tt0000001",
    ]


# --- TMDB /find ------------------------------------------------------------------------------


@pytest.fixture
async def tmdb() -> AsyncIterator[tuple[FakeTMDBServer, TMDBClient]]:
    async with FakeTMDBServer(DEMO_CATALOG, imdb_ids=IMDB_TO_TMDB) as server:
        client = TMDBClient(base_url=server.base_url, api_key="k", max_attempts=2, backoff_multiplier=0.001)
        async with client:
            yield server, client


async def test_find_by_imdb_gives_the_film_or_none(tmdb: tuple[FakeTMDBServer, TMDBClient]) -> None:
    server, client = tmdb
    alien = await client.find_by_imdb("tt0078748")
    assert alien is not None and (alien.tmdb_id, alien.title, alien.year) == (348, "Alien", 1979)
    assert alien.genres, "genre ids are mapped to names"
    derived = await client.find_by_imdb(fake_imdb_id(603))
    assert derived is not None and derived.title == "The Matrix"
    assert await client.find_by_imdb("tt0903747") is None
    path, query = server.requests[-1]
    assert (path, query["external_source"]) == ("/3/find/tt0903747", "imdb_id")
    with pytest.raises(ValueError):
        await client.find_by_imdb("tt12; DROP")


# --- storing ---------------------------------------------------------------------------------


async def _user(session: AsyncSession, telegram_id: int) -> int:
    return (await UserRepository(session).upsert(telegram_id, first_name=None, language_code=None)).id


async def _ratings(
    session: AsyncSession, user_id: int
) -> dict[int, tuple[Decimal | None, str, dt.datetime | None]]:
    rows = await session.execute(
        select(UserFilm.tmdb_id, UserFilm.rating, UserFilm.source, UserFilm.rated_at).where(
            UserFilm.user_id == user_id
        )
    )
    return {tmdb_id: (rating, source, rated_at) for tmdb_id, rating, source, rated_at in rows}


async def test_with_tmdb_films_are_matched_exactly_by_imdb_id_and_the_decision_cached(
    session: AsyncSession, tmdb: tuple[FakeTMDBServer, TMDBClient], tmp_path: Path
) -> None:
    """An empty catalog: every film comes through /find, even one whose title the export
    spells in German; the Short no TMDB film has is unmatched after a title search."""
    server, client = tmdb
    user_id = await _user(session, 3101)
    path = tmp_path / "ratings.csv"
    path.write_bytes(IMDB_EXPORT.read_bytes())
    imports = ImportService(session, client, JobOutbox())
    report, written = await imports.import_letterboxd(user_id, path)
    assert (report.films, report.matched, report.unmatched, report.ratings) == (8, 7, 1, 7)
    assert report.source == "imdb"
    assert [f.imdb_id for f in report.unmatched_films] == ["tt0000001"]
    assert written is not None and b"tt0000001" in written.read_bytes()
    stored = await _ratings(session, user_id)
    assert set(stored) == set(IMDB_TO_TMDB.values())
    assert stored[129][:2] == (Decimal("5"), "imdb"), "Chihiros Reise ins Zauberland is Spirited Away"
    assert stored[348] == (Decimal("4.5"), "imdb", dt.datetime(2023, 1, 14, tzinfo=dt.UTC))
    assert stored[1417][0] == Decimal("0.5")
    assert server.count("/3/find/") == 8
    assert server.count("/3/search/movie") >= 1, "the id TMDB has no film for is tried by title"
    assert await session.get(Film, 129) is not None, "found films are written to the catalog"
    cached = (await session.scalars(select(TitleMatch).where(TitleMatch.year == IMDB_CACHE_YEAR))).all()
    assert {(m.name_key, m.tmdb_id) for m in cached} == {*IMDB_TO_TMDB.items(), ("tt0000001", None)}

    server.reset_log()
    again, _ = await ImportService(session, client, JobOutbox()).import_letterboxd(user_id, path)
    assert (again.matched, again.unmatched) == (7, 1)
    assert server.count("/3/find/") == 0, "every IMDb id is decided from the cache"
    assert len(await _ratings(session, user_id)) == 7, "no duplicates"


async def test_without_tmdb_films_are_matched_by_title_and_year_in_the_catalog(session: AsyncSession) -> None:
    await CatalogService(session, None, ttl=dt.timedelta(days=1)).store(read_tmdb_csv(DEMO_CATALOG))
    user_id = await _user(session, 3102)
    imports = ImportService(session, None, JobOutbox())
    export = read_sent_file(IMDB_EXPORT.read_bytes(), "ratings.csv")
    report = await imports.store_export(user_id, export)
    assert (report.films, report.matched, report.unmatched) == (8, 6, 2)
    assert {f.name for f in report.unmatched_films} == {"Chihiros Reise ins Zauberland", "Carmencita"}
    stored = await _ratings(session, user_id)
    assert set(stored) == {348, 679, 603, 194, 1417, 238}
    assert stored[194][:2] == (Decimal("3.5"), "imdb")
    cached = await session.scalar(select(TitleMatch).where(TitleMatch.year == IMDB_CACHE_YEAR))
    assert cached is None, "no IMDb-id decision is made without TMDB"


async def test_an_imdb_id_decision_never_collides_with_a_letterboxd_title(
    session: AsyncSession, tmdb: tuple[FakeTMDBServer, TMDBClient]
) -> None:
    """A Letterboxd film literally named like an IMDb id is matched by its title, not by the
    IMDb-id cache entry (different `year` key)."""
    _, client = tmdb
    user_id = await _user(session, 3103)
    imports = ImportService(session, client, JobOutbox())
    await imports.store_export(user_id, read_sent_file(IMDB_EXPORT.read_bytes(), "ratings.csv"))
    letterboxd = read_sent_file(
        b"Date,Name,Year,Letterboxd URI,Rating\n2020-01-01,tt0078748,,u,4\n", "ratings.csv"
    )
    report = await imports.store_export(await _user(session, 3104), letterboxd)
    assert (report.matched, report.unmatched) == (0, 1)
