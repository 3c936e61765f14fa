"""The fake TMDB server answers in the real API's shapes (checked over plain HTTP, not our client)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.tmdb_server import DEMO_CSV, FakeTMDBServer, Knobs, fold

LIST_ITEM_KEYS = {
    "adult",
    "genre_ids",
    "id",
    "original_language",
    "original_title",
    "overview",
    "popularity",
    "poster_path",
    "release_date",
    "title",
    "vote_average",
    "vote_count",
}
PAGE_KEYS = {"page", "results", "total_pages", "total_results"}
NOT_FOUND = {
    "success": False,
    "status_code": 34,
    "status_message": "The resource you requested could not be found.",
}
INVALID_KEY = {
    "success": False,
    "status_code": 7,
    "status_message": "Invalid API key: You must be granted a valid key.",
}


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[FakeTMDBServer]:
    async with FakeTMDBServer(DEMO_CSV) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh_server(server: FakeTMDBServer) -> None:
    server.knobs = Knobs()
    server.reset_log()


@pytest.fixture
async def http(server: FakeTMDBServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url + "/", params={"api_key": "any"}) as client:
        yield client


async def get_json(http: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def titles(http: httpx.AsyncClient, query: str, **params: Any) -> list[str]:
    page = await get_json(http, "search/movie", query=query, **params)
    return [item["title"] for item in page["results"]]


# --- shapes


async def test_search_answers_a_page_of_list_records(http: httpx.AsyncClient) -> None:
    page = await get_json(http, "search/movie", query="alien")

    assert set(page) == PAGE_KEYS
    assert (page["page"], page["total_pages"], page["total_results"]) == (1, 1, len(page["results"]))
    assert all(set(item) >= LIST_ITEM_KEYS for item in page["results"])
    alien = page["results"][0]
    assert (alien["id"], alien["genre_ids"], alien["adult"], alien["poster_path"]) == (
        348,
        [27, 878],
        False,
        "/poster-348.png",
    )


async def test_details_with_appended_keywords(http: httpx.AsyncClient) -> None:
    plain = await get_json(http, "movie/348")
    full = await get_json(http, "movie/348", append_to_response="keywords")

    assert "keywords" not in plain
    assert full["keywords"]["keywords"][0] == {"id": 9951, "name": "alien"}
    assert full["genres"] == [{"id": 27, "name": "Horror"}, {"id": 878, "name": "Science Fiction"}]
    assert [c["iso_3166_1"] for c in full["production_countries"]] == ["US", "GB"]
    assert (full["runtime"], full["release_date"], full["status"]) == (117, "1979-05-25", "Released")
    assert {"budget", "revenue", "spoken_languages", "production_companies", "tagline"} <= set(full)


async def test_keywords_endpoint(http: httpx.AsyncClient) -> None:
    body = await get_json(http, "movie/129/keywords")

    assert body["id"] == 129
    assert {"id", "name"} == set(body["keywords"][0])


async def test_genre_list_holds_every_genre_of_the_csv(http: httpx.AsyncClient) -> None:
    genres = (await get_json(http, "genre/movie/list"))["genres"]

    assert len(genres) == 18
    assert {"id": 878, "name": "Science Fiction"} in genres
    assert [g["name"] for g in genres] == sorted(g["name"] for g in genres)


@pytest.mark.parametrize("kind", ["similar", "recommendations"])
async def test_related_lists_are_deterministic_and_exclude_the_film(
    http: httpx.AsyncClient, kind: str
) -> None:
    first = await get_json(http, f"movie/348/{kind}")
    again = await get_json(http, f"movie/348/{kind}")

    assert set(first) == PAGE_KEYS
    assert first == again
    assert first["results"] and 348 not in [item["id"] for item in first["results"]]


async def test_similar_ranks_by_shared_keywords_and_genres(http: httpx.AsyncClient) -> None:
    similar = await get_json(http, "movie/348/similar")

    assert {679, 8077, 8078} <= {item["id"] for item in similar["results"][:4]}


# --- errors


@pytest.mark.parametrize(
    "path", ["movie/1", "movie/1/similar", "movie/1/keywords", "movie/abc", "no/such/path"]
)
async def test_unknown_resources_answer_tmdb_404(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {}),
        ({"api_key": ""}, {}),
        ({}, {"Authorization": "Bearer"}),
        ({}, {"Authorization": "Basic abc"}),
    ],
)
async def test_missing_credentials_answer_tmdb_401(
    server: FakeTMDBServer, params: dict[str, str], headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient() as anonymous:
        response = await anonymous.get(f"{server.base_url}/movie/348", params=params, headers=headers)

    assert response.status_code == 401
    assert response.json() == INVALID_KEY


async def test_any_bearer_token_is_accepted(server: FakeTMDBServer) -> None:
    async with httpx.AsyncClient(headers={"Authorization": "Bearer whatever"}) as bearer:
        response = await bearer.get(f"{server.base_url}/movie/348")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("search/movie", {"query": "alien", "page": "0"}, 400, 22),
        ("discover/movie", {"page": "501"}, 400, 22),
        ("search/movie", {"query": "alien", "year": "nineteen"}, 422, 5),
        ("discover/movie", {"sort_by": "mood.desc"}, 422, 5),
        ("discover/movie", {"with_genres": "Drama"}, 422, 5),
    ],
)
async def test_bad_parameters_answer_tmdb_errors(
    http: httpx.AsyncClient, path: str, params: dict[str, str], status: int, code: int
) -> None:
    response = await http.get(path, params=params)

    assert response.status_code == status
    assert response.json()["status_code"] == code


# --- search and discover semantics


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("amelie", "Amélie"),
        ("AMÉLIE", "Amélie"),
        ("le fabuleux destin", "Amélie"),  # original title
        ("pans labyrinth", "Pan's Labyrinth"),
        ("pan's", "Pan's Labyrinth"),
        ("alien resurrection", "Alien Resurrection"),
        ("mad max fury", "Mad Max: Fury Road"),
        ("千と千尋", "Spirited Away"),
        ("기생충", "Parasite"),
        ("wall e", "WALL·E"),
    ],
)
async def test_search_folds_case_accents_and_punctuation(
    http: httpx.AsyncClient, query: str, expected: str
) -> None:
    assert (await titles(http, query))[:1] == [expected]


async def test_search_needs_every_word_and_filters_by_year(http: httpx.AsyncClient) -> None:
    assert await titles(http, "alien zebra") == []
    assert await titles(http, "") == []
    assert await titles(http, "alien", year="1986") == ["Aliens"]
    assert await titles(http, "dune") == ["Dune", "Dune"]


async def test_search_puts_exact_titles_before_more_popular_ones(http: httpx.AsyncClient) -> None:
    found = await titles(http, "alien")

    assert found[0] == "Alien"
    assert set(found) == {"Alien", "Aliens", "Alien³", "Alien Resurrection"}


async def test_discover_comma_is_and_pipe_is_or(http: httpx.AsyncClient) -> None:
    animation, family = 16, 10751
    both = (await get_json(http, "discover/movie", with_genres=f"{animation},{family}"))["results"]
    either = (await get_json(http, "discover/movie", with_genres=f"{animation}|{family}"))["results"]

    assert both and all({animation, family} <= set(item["genre_ids"]) for item in both)
    assert all({animation, family} & set(item["genre_ids"]) for item in either)
    assert len(either) > len(both)
    assert any(animation not in item["genre_ids"] for item in either)  # Paddington 2: family only


async def test_discover_sorts_and_paginates(http: httpx.AsyncClient) -> None:
    first = await get_json(http, "discover/movie")
    second = await get_json(http, "discover/movie", page=2)
    oldest = await get_json(http, "discover/movie", sort_by="primary_release_date.asc")

    popularity = [item["popularity"] for item in first["results"] + second["results"]]
    assert popularity == sorted(popularity, reverse=True)
    assert len(first["results"]) == 20 and first["total_results"] == 70 and first["total_pages"] == 4
    assert oldest["results"][0]["title"] == "Metropolis"


def test_fold() -> None:
    assert fold("  Le Fabuleux Destin d'Amélie Poulain ") == "le fabuleux destin damelie poulain"
    assert fold("Mad Max: Fury Road") == "mad max fury road"


# --- knobs and log


async def test_burst_429_answers_the_next_requests_with_retry_after(
    server: FakeTMDBServer, http: httpx.AsyncClient
) -> None:
    server.knobs.burst_429, server.knobs.retry_after_s = 2, 3

    responses = [await http.get("movie/348") for _ in range(3)]

    assert [response.status_code for response in responses] == [429, 429, 200]
    assert responses[0].headers["Retry-After"] == "3"
    assert responses[0].json()["status_code"] == 25
    assert server.knobs.burst_429 == 0


async def test_fail_all_and_error_rate(server: FakeTMDBServer, http: httpx.AsyncClient) -> None:
    server.knobs.fail_all = True
    assert (await http.get("genre/movie/list")).status_code == 503

    server.knobs = Knobs(error_rate=1.0)
    assert (await http.get("genre/movie/list")).status_code == 500

    server.knobs = Knobs(error_rate=0.5)
    statuses = {(await http.get("genre/movie/list")).status_code for _ in range(20)}
    assert statuses == {200, 500}


async def test_latency(server: FakeTMDBServer, http: httpx.AsyncClient) -> None:
    server.knobs.latency_s = 0.1

    started = time.perf_counter()
    await get_json(http, "movie/348")

    assert time.perf_counter() - started >= 0.1


async def test_request_log(server: FakeTMDBServer, http: httpx.AsyncClient) -> None:
    await http.get("movie/348", params={"append_to_response": "keywords"})
    await http.get("movie/348/similar")
    await http.get("search/movie", params={"query": "alien"})

    assert server.count("/3/movie/") == 2
    assert server.count("/3/movie/348/similar") == 1
    assert server.requests[0] == ("/3/movie/348", {"api_key": "any", "append_to_response": "keywords"})
    server.reset_log()
    assert server.count() == 0


def test_base_url_needs_a_running_server() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = FakeTMDBServer(DEMO_CSV).base_url


# --- real data


@pytest.mark.datasets
async def test_serves_the_full_tmdb_5000_file_quickly(datasets_dir: Path) -> None:
    started = time.perf_counter()
    async with (
        FakeTMDBServer(datasets_dir / "tmdb_5000" / "tmdb_5000_movies.csv") as fake,
        httpx.AsyncClient(base_url=fake.base_url + "/", params={"api_key": "any"}) as http,
    ):
        loaded_s = time.perf_counter() - started
        avatar = await get_json(http, "movie/19995", append_to_response="keywords")
        found = await get_json(http, "search/movie", query="avatar")
        the = await get_json(http, "search/movie", query="the", page=3)
        genres = (await get_json(http, "genre/movie/list"))["genres"]

    assert len(fake.catalog) == 4803
    assert loaded_s < 2.0
    assert avatar["title"] == "Avatar" and avatar["runtime"] == 162
    assert {"id": 1463, "name": "culture clash"} in avatar["keywords"]["keywords"]
    assert found["results"][0]["id"] == 19995
    assert the["page"] == 3 and len(the["results"]) == 20 and the["total_results"] > 1000
    assert len(genres) == 20
