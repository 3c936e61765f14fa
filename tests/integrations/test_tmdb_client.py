"""TMDBClient against the fake TMDB server (demo catalog; the full TMDB 5000 file in the datasets tier)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from domain.entities import FilmInfo
from domain.ports import MovieSource, RelatedKind
from integrations.tmdb import TMDBAuthError, TMDBClient, TMDBError, TMDBUnavailableError
from tests.fakes.tmdb_server import DEMO_CSV, FakeTMDBServer, Knobs

FAKE_KEY = "fake-key-DO-NOT-LEAK-7f3a9c"
FAKE_TOKEN = "fake-token-DO-NOT-LEAK-e1d2c3"
UNKNOWN_ID = 999_999_999


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[FakeTMDBServer]:
    async with FakeTMDBServer(DEMO_CSV) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh_server(server: FakeTMDBServer) -> None:
    server.knobs = Knobs()
    server.reset_log()


def make_client(server: FakeTMDBServer, **overrides: Any) -> TMDBClient:
    options: dict[str, Any] = {"api_key": FAKE_KEY, "backoff_multiplier": 0.001, "max_attempts": 3}
    return TMDBClient(base_url=server.base_url, **(options | overrides))


@pytest.fixture
async def client(server: FakeTMDBServer) -> AsyncIterator[TMDBClient]:
    async with make_client(server) as tmdb:
        yield tmdb


def ids(films: list[FilmInfo] | tuple[FilmInfo, ...]) -> list[int]:
    return [film.tmdb_id for film in films]


def test_client_satisfies_the_port(client: TMDBClient) -> None:
    source: MovieSource = client
    assert source is client


# --- search


async def test_search_ranks_the_exact_title_first(client: TMDBClient) -> None:
    page = await client.search("alien")

    assert ids(page.results)[:1] == [348]
    assert {679, 8077, 8078} <= set(ids(page.results))
    alien = page.results[0]
    assert alien.label == "Alien (1979)"
    assert alien.release_date == "1979-05-25"
    assert set(alien.genres) == {"Horror", "Science Fiction"}  # genre_ids mapped with the genre list
    assert alien.has_details is False
    assert alien.keywords == () and alien.runtime is None


async def test_search_filters_by_year(client: TMDBClient) -> None:
    both = await client.search("Dune")
    recent = await client.search("Dune", year=2021)

    assert set(ids(both.results)) == {841, 438631}
    assert ids(recent.results) == [438631]
    assert recent.results[0].label == "Dune (2021)"


async def test_search_reports_paging(client: TMDBClient) -> None:
    first = await client.search("the")
    beyond = await client.search("the", page=2)

    assert (first.page, first.total_pages, first.total_results) == (1, 1, len(first.results))
    assert first.total_results > 5
    assert (beyond.page, beyond.results) == (2, ())


async def test_search_finds_accented_titles(client: TMDBClient) -> None:
    page = await client.search("amelie")

    assert ids(page.results) == [194]
    assert page.results[0].original_title == "Le Fabuleux Destin d'Amélie Poulain"


# --- details


async def test_details_fetches_each_id_once_keeps_order_and_leaves_out_unknown(
    client: TMDBClient, server: FakeTMDBServer
) -> None:
    films = await client.details([603, UNKNOWN_ID, 348, 603, 129])

    assert ids(films) == [603, 348, 129]
    assert all(film.has_details for film in films)
    assert server.count("/3/movie/") == 4
    assert server.count("/3/movie/603") == 1
    assert all(
        query.get("append_to_response") == "keywords,credits,external_ids,videos"
        for _, query in server.requests
    )


async def test_details_maps_genres_keywords_and_countries(client: TMDBClient) -> None:
    alien, parasite = await client.details([348, 496243])

    assert alien.genres == ("Horror", "Science Fiction")
    assert "alien" in alien.keywords and "xenomorph" in alien.keywords
    assert alien.countries == ("US", "GB")
    assert (alien.runtime, alien.year, alien.original_language) == (117, 1979, "en")
    assert alien.overview and alien.vote_count > 0 and 0 < alien.vote_average <= 10
    assert (parasite.original_title, parasite.original_language, parasite.countries) == (
        "기생충",
        "ko",
        ("KR",),
    )
    assert isinstance(alien.genres, tuple) and isinstance(alien.keywords, tuple)


async def test_details_of_nothing_makes_no_request(client: TMDBClient, server: FakeTMDBServer) -> None:
    assert await client.details([]) == []
    assert server.count() == 0


async def test_missing_release_date_and_runtime_map_to_none(tmp_path: Path) -> None:
    header, alien_row = DEMO_CSV.read_text(encoding="utf-8").splitlines()[:2]
    undated = alien_row.replace("1979-05-25", "").replace(",117,", ",,")
    (tmp_path / "one.csv").write_text(f"{header}\n{undated}\n", encoding="utf-8")

    async with FakeTMDBServer(tmp_path / "one.csv") as fake, make_client(fake) as tmdb:
        [film] = await tmdb.details([348])
        [listed] = (await tmdb.search("alien")).results

    assert (film.year, film.release_date, film.runtime) == (None, None, None)
    assert (listed.year, listed.label) == (None, "Alien")


# --- related and popular


@pytest.mark.parametrize("kind", ["similar", "recommendations"])
async def test_related_lists_other_films(client: TMDBClient, kind: RelatedKind) -> None:
    films = await client.related(348, kind)

    assert films and 348 not in ids(films)
    assert len(films) <= 20
    assert all(not film.has_details and film.genres for film in films)
    assert await client.related(UNKNOWN_ID, kind) == []


async def test_similar_favours_shared_keywords(client: TMDBClient) -> None:
    films = await client.related(348, "similar")

    assert {679, 8077, 8078} <= set(ids(films)[:5])


async def test_popular_filters_by_any_of_the_genres(client: TMDBClient, server: FakeTMDBServer) -> None:
    docs_or_westerns = await client.popular(genres=["Documentary", "western", "No Such Genre"])

    assert docs_or_westerns
    assert all({"Documentary", "Western"} & set(film.genres) for film in docs_or_westerns)
    assert {"Documentary", "Western"} <= {genre for film in docs_or_westerns for genre in film.genres}
    popularity = [film.popularity for film in docs_or_westerns]
    assert popularity == sorted(popularity, reverse=True)
    [discover_query] = [query for path, query in server.requests if path == "/3/discover/movie"]
    assert discover_query["with_genres"] == "99|37"
    assert discover_query["sort_by"] == "popularity.desc"


async def test_popular_without_known_genres_is_unfiltered_and_paginated(client: TMDBClient) -> None:
    first, second = await client.popular(), await client.popular(page=2)
    ignored = await client.popular(genres=["No Such Genre"])

    assert len(first) == len(second) == 20
    assert not set(ids(first)) & set(ids(second))
    assert first[0].popularity >= second[0].popularity
    assert ids(ignored) == ids(first)


async def test_genre_list_is_fetched_once_even_under_concurrency(
    client: TMDBClient, server: FakeTMDBServer
) -> None:
    await asyncio.gather(
        client.search("alien"),
        client.popular(genres=["Drama"]),
        client.related(603, "similar"),
        client.popular(genres=["Comedy"]),
    )
    await client.search("matrix")

    assert server.count("/3/genre/movie/list") == 1


# --- auth


async def test_bearer_token_and_api_key_both_authenticate(server: FakeTMDBServer) -> None:
    async with make_client(server, api_key=None, bearer_token=FAKE_TOKEN) as bearer:
        assert ids(await bearer.details([603])) == [603]
    async with make_client(server) as keyed:
        assert ids(await keyed.details([603])) == [603]

    (_, bearer_query), (_, key_query) = server.requests
    assert "api_key" not in bearer_query
    assert key_query["api_key"] == FAKE_KEY


async def test_rejected_credentials_raise_auth_error_without_retrying(server: FakeTMDBServer) -> None:
    async with make_client(server, api_key=None) as anonymous:
        with pytest.raises(TMDBAuthError, match="HTTP 401"):
            await anonymous.details([348])

    assert server.count() == 1


async def test_other_client_errors_raise_tmdb_error_without_retrying(
    client: TMDBClient, server: FakeTMDBServer
) -> None:
    with pytest.raises(TMDBError, match="HTTP 400") as caught:
        await client.search("alien", page=0)

    assert type(caught.value) is TMDBError
    assert server.count() == 1


# --- retries and failures


async def test_a_burst_of_429_is_retried(client: TMDBClient, server: FakeTMDBServer) -> None:
    server.knobs.burst_429, server.knobs.retry_after_s = 2, 0

    assert ids(await client.details([348])) == [348]
    assert server.count("/3/movie/348") == 3


async def test_retry_after_is_honoured(client: TMDBClient, server: FakeTMDBServer) -> None:
    server.knobs.burst_429, server.knobs.retry_after_s = 1, 1

    started = time.perf_counter()
    with capture_logs() as events:
        assert ids(await client.details([348])) == [348]

    assert time.perf_counter() - started >= 0.9
    [retry] = [event for event in events if event["event"] == "tmdb_retry"]
    assert (retry["status"], retry["wait_s"], retry["path"]) == (429, 1.0, "/movie/348")


async def test_outage_raises_unavailable_after_max_attempts(server: FakeTMDBServer) -> None:
    server.knobs.fail_all = True

    async with make_client(server, max_attempts=4) as tmdb:
        with pytest.raises(TMDBUnavailableError, match="HTTP 503"):
            await tmdb.details([348])

    assert server.count() == 4


async def test_timeouts_raise_unavailable(server: FakeTMDBServer) -> None:
    server.knobs.latency_s = 0.5

    async with make_client(server, timeout_seconds=0.05, max_attempts=2) as tmdb:
        with pytest.raises(TMDBUnavailableError, match="ReadTimeout"):
            await tmdb.details([348])

    assert server.count() == 2


async def test_random_server_errors_are_absorbed_by_retries(server: FakeTMDBServer) -> None:
    server.knobs.error_rate = 0.3
    wanted = [348, 679, 8077, 8078, 70981, 157336, 27205, 603, 78, 335984]

    async with make_client(server, max_attempts=8) as tmdb:
        assert ids(await tmdb.details(wanted)) == wanted

    assert server.count() > len(wanted)


async def test_unreachable_server_raises_unavailable() -> None:
    async with TMDBClient(
        base_url="http://127.0.0.1:9/3", api_key=FAKE_KEY, backoff_multiplier=0.001
    ) as tmdb:
        with pytest.raises(TMDBUnavailableError, match="ConnectError"):
            await tmdb.search("alien")


async def test_concurrency_is_bounded(server: FakeTMDBServer) -> None:
    server.knobs.latency_s = 0.05

    async with make_client(server, max_concurrency=2) as tmdb:
        started = time.perf_counter()
        await tmdb.details([348, 679, 8077, 8078, 70981, 157336])

    assert time.perf_counter() - started >= 3 * 0.05  # six requests, two at a time


async def test_a_call_cut_short_by_a_deadline_frees_its_slot(server: FakeTMDBServer) -> None:
    """A user's time budget cancels calls to a hanging TMDB (domain.catalog.SourceBudget): the
    cancelled request gives its concurrency slot back, so the next call is not stuck behind it."""
    server.knobs.latency_s = 30
    async with make_client(server, max_concurrency=1) as tmdb:
        started = time.perf_counter()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await tmdb.popular()
        assert time.perf_counter() - started < 1.0  # not 10 s × attempts
        server.knobs.latency_s = 0
        async with asyncio.timeout(2):
            assert await tmdb.popular()


async def test_secrets_never_reach_messages_or_logs(server: FakeTMDBServer) -> None:
    server.knobs.fail_all = True
    with capture_logs() as events:
        async with make_client(server) as keyed:
            with pytest.raises(TMDBUnavailableError) as outage:
                await keyed.search("alien")
        server.knobs.fail_all = False
        async with make_client(server, api_key=None, bearer_token=FAKE_TOKEN) as bearer:
            with pytest.raises(TMDBError) as bad_page:
                await bearer.search("alien", page=0)

    assert {event["event"] for event in events} >= {"tmdb_request", "tmdb_retry"}
    texts = [
        str(outage.value),
        repr(outage.value),
        str(bad_page.value),
        str(outage.value.__cause__),
        repr(events),
    ]
    for text in texts:
        assert FAKE_KEY not in text and FAKE_TOKEN not in text


# --- resources


async def test_a_shared_http_client_is_left_open(server: FakeTMDBServer) -> None:
    async with httpx.AsyncClient() as http:
        async with make_client(server, http=http) as tmdb:
            assert ids(await tmdb.details([603])) == [603]
        assert not http.is_closed


# --- real data


@pytest.mark.datasets
async def test_full_tmdb_5000_catalog(datasets_dir: Path) -> None:
    async with (
        FakeTMDBServer(datasets_dir / "tmdb_5000" / "tmdb_5000_movies.csv") as fake,
        make_client(fake) as tmdb,
    ):
        assert len(fake.catalog) == 4803
        page = await tmdb.search("Avatar")
        [avatar] = await tmdb.details([19995])
        the = await tmdb.search("the", page=2)

    assert page.results[0].tmdb_id == 19995
    assert (avatar.title, avatar.year, avatar.runtime) == ("Avatar", 2009, 162)
    assert "Science Fiction" in avatar.genres and "space travel" in avatar.keywords
    assert set(avatar.countries) == {"US", "GB"}
    assert the.page == 2 and len(the.results) == 20 and the.total_pages > 2
