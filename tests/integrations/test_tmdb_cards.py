"""The TMDB client's card data: credits, external ids and videos appended to the details, and
the poster path; against the fake TMDB (real HTTP) and on hand-made `videos` lists."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.films import FilmRepository, to_info
from domain.entities import FilmInfo
from integrations.tmdb import TMDBClient
from integrations.tmdb_parse import trailer_key
from tests.fakes.tmdb_server import DEMO_CSV, FakeTMDBServer, fake_person


@pytest.fixture
async def server() -> AsyncIterator[FakeTMDBServer]:
    async with FakeTMDBServer(DEMO_CSV) as fake:
        yield fake


@pytest.fixture
async def client(server: FakeTMDBServer) -> AsyncIterator[TMDBClient]:
    async with TMDBClient(base_url=server.base_url, api_key="k", max_attempts=1) as tmdb:
        yield tmdb


async def test_details_carry_poster_director_cast_imdb_id_and_trailer_in_one_request(
    client: TMDBClient, server: FakeTMDBServer
) -> None:
    [alien] = await client.details([348])

    assert server.count("/3/movie/") == 1  # appended, not four requests
    assert alien.poster_path == "/poster-348.png"
    assert alien.directors == (fake_person(348, 0),)
    # the fake lists actors out of billing order: the client keeps TMDB's `order`, first three
    assert alien.cast_names == (fake_person(348, 1), fake_person(348, 2), fake_person(348, 3))
    assert alien.imdb_id == "tt90000348"
    assert alien.trailer_key == "trailer-348"  # the official trailer, not the teaser or the fan cut


async def test_missing_poster_videos_and_imdb_id_leave_the_fields_empty(
    client: TMDBClient, server: FakeTMDBServer
) -> None:
    server.imdb_ids = {}  # no IMDb id known for any film
    [godfather, pulp] = await client.details([238, 680])  # 238: no poster; 680: no videos
    assert godfather.poster_path is None and godfather.trailer_key == "trailer-238"
    assert pulp.poster_path == "/poster-680.png" and pulp.trailer_key is None
    assert godfather.imdb_id is None and pulp.imdb_id is None


async def test_list_records_carry_the_poster_only(client: TMDBClient) -> None:
    page = await client.search("Alien", year=1979)
    alien = page.results[0]
    assert alien.poster_path == "/poster-348.png"
    assert (alien.directors, alien.cast_names, alien.imdb_id, alien.trailer_key) == ((), (), None, None)


async def test_the_catalog_stores_and_reads_the_card_fields(
    client: TMDBClient, session: AsyncSession
) -> None:
    films = FilmRepository(session)
    [alien] = await client.details([348])
    await films.upsert([alien])
    # a list record (search result) without a poster erases neither the poster nor the credits
    await films.upsert([FilmInfo(tmdb_id=348, title="Alien", year=1979)])
    stored = to_info((await films.get_many([348]))[348])
    assert stored.poster_path == "/poster-348.png"
    assert stored.directors == alien.directors and stored.cast_names == alien.cast_names
    assert (stored.imdb_id, stored.trailer_key) == ("tt90000348", "trailer-348")


def video(
    key: str, *, kind: str = "Trailer", site: str = "YouTube", official: bool = True, at: str = ""
) -> dict[str, object]:
    return {"key": key, "type": kind, "site": site, "official": official, "published_at": at}


def test_trailer_rule_official_youtube_trailers_first_then_the_earliest() -> None:
    assert trailer_key([]) is None
    assert trailer_key([video("t", kind="Teaser"), video("c", kind="Clip")]) is None
    assert trailer_key([video("v", site="Vimeo")]) is None
    # an unofficial trailer only when there is no official one
    assert trailer_key([video("fan", official=False), video("teaser", kind="Teaser")]) == "fan"
    assert trailer_key([video("fan", official=False, at="2000"), video("real", at="2020")]) == "real"
    # among official trailers, the earliest published (TMDB lists the newest first)
    newest_first = [video("re-release", at="2019-05-01"), video("original", at="1979-05-01")]
    assert trailer_key(newest_first) == "original"
    # a key that is no YouTube id is skipped
    assert trailer_key([video("bad key!"), video("ok")]) == "ok"
