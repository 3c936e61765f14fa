"""A fake TMDB v3 API on loopback (aiohttp), serving a CSV in the Kaggle "TMDB 5000" layout.

It answers with the JSON shapes of the real API (https://developer.themoviedb.org/reference),
under the same `/3` prefix, so pointing `TMDB_BASE_URL` at :attr:`FakeTMDBServer.base_url`
is the only difference for the bot. Endpoints:

- `GET /3/search/movie` (`query`, `year`, `page`): every query word must start a word of the
  title or original title (case, accents and punctuation ignored); exact titles first, then
  by popularity; 20 results a page.
- `GET /3/movie/{id}` (`append_to_response` adds any of `keywords`, `credits`, `external_ids`
  and `videos`, comma-separated, as TMDB does), and each of them alone:
  `GET /3/movie/{id}/keywords`, `/credits`, `/external_ids`, `/videos`.
- Posters: most films have a `poster_path`, "/poster-<id>.png" (:func:`fake_poster_path`),
  in list results and details; films in :attr:`FakeTMDBServer.posterless` (by default those
  whose id is a multiple of 7, e.g. 238 The Godfather) have none. `GET /t/p/<size>/poster-<id>.png`
  (no key needed, as on image.tmdb.org) answers a small generated PNG: point
  `TMDB_IMAGE_BASE_URL` at :attr:`FakeTMDBServer.image_base_url`.
- Credits, videos: the CSV has no people, so each film gets made-up, deterministic ones
  (:func:`fake_credits`: one director, four actors in billing order, some crew); videos
  (:func:`fake_videos`) are a teaser, a non-official trailer and the official trailer
  "trailer-<id>" (films whose id is a multiple of 5 have no videos at all).
- `GET /3/movie/{id}/similar` (most shared keywords and genres, by Jaccard index) and
  `GET /3/movie/{id}/recommendations` (shared genres weighted by popularity and rating);
  deterministic, never the film itself.
- `GET /3/genre/movie/list`: every genre in the CSV.
- `GET /3/discover/movie` (`with_genres`: ',' = AND, '|' = OR; `sort_by`, default
  `popularity.desc`; `page`).
- `GET /3/movie/{id}/watch/providers`: deterministic offers per film (:func:`fake_watch_providers`:
  streaming, rent and buy in US, GB and DE); films in :attr:`FakeTMDBServer.providerless`
  (by default ids that are multiples of 11) stream nowhere (`results` empty).
- `GET /3/watch/providers/movie?watch_region=XX`: the streaming services of that country
  (:data:`REGION_SERVICES`; every service without `watch_region`), with `display_priorities`.
- `GET /3/find/{external_id}?external_source=imdb_id`: `{"movie_results": [the film], …}`, or
  empty lists for an id no film has. The CSV has no IMDb ids, so every film gets a made-up,
  deterministic one, :func:`fake_imdb_id` ("tt9" + its TMDB id in 7 digits: 348 →
  "tt90000348"), and tests may link more ids (real ones, "tt0078748" → 348) with the
  `imdb_ids` argument or :attr:`FakeTMDBServer.imdb_ids`. `/movie/{id}` gives the film's first
  id as `imdb_id`.

Errors use TMDB's body and status codes (https://developer.themoviedb.org/docs/errors):
unknown id or path → 404 code 34; no `api_key` and no `Authorization: Bearer …` → 401 code 7
(any non-empty key is accepted); page outside 1–500 → 400 code 22; a malformed parameter →
422 code 5.

Tests steer failures at run time through :attr:`FakeTMDBServer.knobs` (see :class:`Knobs`)
and inspect :attr:`FakeTMDBServer.requests`. By hand::

    python -m tests.fakes.tmdb_server --csv /work/shared/datasets/tmdb_5000/tmdb_5000_movies.csv --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import math
import random
import re
import struct
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

PAGE_SIZE = 20
MAX_PAGE = 500
DEMO_CSV = Path(__file__).resolve().parents[2] / "bot" / "data" / "demo_films.csv"

Json = dict[str, Any]


class ApiError(Exception):
    """An error answer in TMDB's shape: HTTP `status` with body `{success, status_code, status_message}`."""

    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> web.Response:
        body = {"success": False, "status_code": self.code, "status_message": self.message}
        return web.json_response(body, status=self.status, headers=self.headers)


def not_found() -> ApiError:
    return ApiError(404, 34, "The resource you requested could not be found.")


def invalid_key() -> ApiError:
    return ApiError(401, 7, "Invalid API key: You must be granted a valid key.")


def invalid_page() -> ApiError:
    return ApiError(
        400, 22, "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."
    )


def invalid_parameters() -> ApiError:
    return ApiError(422, 5, "Invalid parameters: Your request parameters are incorrect.")


@dataclass
class Knobs:
    """Failure injection, read on every request, so tests may change it between calls.

    Precedence: `fail_all`, then `burst_429`, then `error_rate`; `latency_s` applies first to all.
    """

    latency_s: float = 0.0  # sleep before answering each request
    error_rate: float = 0.0  # fraction of requests answered 500 (seeded random)
    burst_429: int = 0  # the next N requests get 429 with Retry-After: retry_after_s
    retry_after_s: int = 1
    fail_all: bool = False  # every request gets 503


# --- catalog


def fold(text: str) -> str:
    """Search form of a text: accents stripped, case folded, apostrophes dropped, other
    punctuation turned into spaces ("Pan's Labyrinth" → "pans labyrinth", "Amélie" → "amelie")."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    bare = re.sub(r"['’]", "", bare.casefold())
    spaced = "".join(ch if ch.isalnum() else " " for ch in bare)
    return " ".join(unicodedata.normalize("NFC", spaced).split())


@dataclass(frozen=True, slots=True, eq=False)  # eq=False: hashed by identity, as Counter keys
class CatalogFilm:
    """One CSV row, parsed, plus what search and similarity need."""

    id: int
    title: str
    original_title: str
    original_language: str
    overview: str
    release_date: str  # "" when unknown, as TMDB gives it
    year: int | None
    runtime: int | None
    popularity: float
    vote_average: float
    vote_count: int
    budget: int
    revenue: int
    homepage: str
    status: str
    tagline: str
    genres: tuple[Json, ...]  # {"id", "name"}
    keywords: tuple[Json, ...]  # {"id", "name"}
    production_countries: tuple[Json, ...]  # {"iso_3166_1", "name"}
    production_companies_json: str  # parsed only when a details page is served
    spoken_languages_json: str
    folded_titles: frozenset[str]  # folded title and original title, for exact matches
    title_text: str  # " " + both folded titles: " <word>" in it ⇔ a title word starts with <word>
    genre_ids: frozenset[int]
    features: frozenset[str]  # "g<id>" and "k<id>", for the Jaccard index of /similar

    def list_item(self) -> Json:
        """The film as it appears in TMDB list results (search, discover, similar, …)."""
        return {
            "adult": False,
            "backdrop_path": None,
            "genre_ids": [genre["id"] for genre in self.genres],
            "id": self.id,
            "original_language": self.original_language,
            "original_title": self.original_title,
            "overview": self.overview,
            "popularity": self.popularity,
            "poster_path": fake_poster_path(self.id),
            "release_date": self.release_date,
            "title": self.title,
            "video": False,
            "vote_average": self.vote_average,
            "vote_count": self.vote_count,
        }

    def details(self) -> Json:
        """The film as `/movie/{id}` returns it."""
        return {
            "adult": False,
            "backdrop_path": None,
            "belongs_to_collection": None,
            "budget": self.budget,
            "genres": list(self.genres),
            "homepage": self.homepage,
            "id": self.id,
            "imdb_id": None,
            "original_language": self.original_language,
            "original_title": self.original_title,
            "overview": self.overview,
            "popularity": self.popularity,
            "poster_path": fake_poster_path(self.id),
            "production_companies": json.loads(self.production_companies_json or "[]"),
            "production_countries": list(self.production_countries),
            "release_date": self.release_date,
            "revenue": self.revenue,
            "runtime": self.runtime,
            "spoken_languages": json.loads(self.spoken_languages_json or "[]"),
            "status": self.status,
            "tagline": self.tagline,
            "title": self.title,
            "video": False,
            "vote_average": self.vote_average,
            "vote_count": self.vote_count,
        }


def fake_imdb_id(tmdb_id: int) -> str:
    """The made-up IMDb id the fake gives a film: "tt9" + the TMDB id in 7 digits (348 →
    "tt90000348"); one per film, never a real id's shape of 7 digits."""
    return f"tt9{tmdb_id:07d}"


def fake_poster_path(tmdb_id: int) -> str:
    """The poster path the fake gives a film: "/poster-<id>.png" (served under /t/p/<size>)."""
    return f"/poster-{tmdb_id}.png"


_FIRST = (
    "Ada",
    "Bruno",
    "Carla",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kaia",
    "Luca",
)
_LAST = ("Moreau", "Novak", "Okafor", "Park", "Quinn", "Rossi", "Sato", "Torres", "Ulloa", "Vance", "Weber")


def fake_person(tmdb_id: int, n: int) -> str:
    """A made-up, deterministic person name for the `n`-th credit of film `tmdb_id`."""
    seed = tmdb_id * 31 + n * 7
    return f"{_FIRST[seed % len(_FIRST)]} {_LAST[(seed // len(_FIRST) + n) % len(_LAST)]}"


def fake_credits(tmdb_id: int) -> Json:
    """`/movie/{id}/credits` for a film: four actors (listed out of billing order, as the
    `order` field is what counts), a director (person 0), a writer and a producer."""
    cast = [
        {"id": tmdb_id * 10 + n, "name": fake_person(tmdb_id, n), "character": f"Role {n}", "order": n - 1}
        for n in (2, 1, 4, 3)
    ]
    crew = [
        {
            "id": tmdb_id * 10 + 5,
            "name": fake_person(tmdb_id, 5),
            "job": "Screenplay",
            "department": "Writing",
        },
        {"id": tmdb_id * 10, "name": fake_person(tmdb_id, 0), "job": "Director", "department": "Directing"},
        {
            "id": tmdb_id * 10 + 6,
            "name": fake_person(tmdb_id, 6),
            "job": "Producer",
            "department": "Production",
        },
    ]
    return {"id": tmdb_id, "cast": cast, "crew": crew}


def fake_videos(tmdb_id: int) -> Json:
    """`/movie/{id}/videos`: a teaser, an unofficial trailer and the official trailer, whose
    key is "trailer-<id>" (none for ids that are multiples of 5)."""
    if tmdb_id % 5 == 0:
        return {"id": tmdb_id, "results": []}

    def video(key: str, kind: str, official: bool, published: str) -> Json:
        return {
            "iso_639_1": "en",
            "iso_3166_1": "US",
            "name": f"{kind} {key}",
            "key": key,
            "site": "YouTube",
            "size": 1080,
            "type": kind,
            "official": official,
            "published_at": published,
            "id": f"v{tmdb_id}{key}",
        }

    return {
        "id": tmdb_id,
        "results": [
            video(f"teaser-{tmdb_id}", "Teaser", True, "2020-01-03T10:00:00.000Z"),
            video(f"fan-{tmdb_id}", "Trailer", False, "2019-01-01T10:00:00.000Z"),
            video(f"trailer-{tmdb_id}", "Trailer", True, "2020-01-02T10:00:00.000Z"),
        ],
    }


def fake_png(tmdb_id: int, width: int = 50, height: int = 75) -> bytes:
    """A small poster-shaped PNG (a flat colour from the id), built with zlib: no imaging library."""
    colour = bytes(((tmdb_id * 67) % 256, (tmdb_id * 131) % 256, (tmdb_id * 199) % 256))
    raw = b"".join(b"\x00" + colour * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


#: TMDB provider ids and names of the services the fake knows (ids as on TMDB).
SERVICES = {
    8: "Netflix",
    9: "Amazon Prime Video",
    337: "Disney Plus",
    350: "Apple TV Plus",
    1899: "Max",
    15: "Hulu",
    531: "Paramount Plus",
    11: "MUBI",
    2: "Apple TV",
    3: "Google Play Movies",
}
#: The streaming services of each country the fake serves, in display order.
REGION_SERVICES = {
    "US": (8, 9, 337, 1899, 15, 531, 350, 11),
    "GB": (8, 9, 337, 350, 11),
    "DE": (8, 9, 337, 11),
}


def _provider(provider_id: int, priority: int) -> Json:
    return {
        "logo_path": f"/logo-{provider_id}.png",
        "provider_id": provider_id,
        "provider_name": SERVICES[provider_id],
        "display_priority": priority,
    }


def fake_watch_providers(tmdb_id: int) -> Json:
    """`/movie/{id}/watch/providers` `results` for a film: in the US it streams on Netflix
    (even ids) or Hulu (odd), plus Disney Plus for multiples of 3; in GB on Netflix for odd
    ids only; in DE on Amazon Prime Video, plus MUBI for multiples of 4. Everywhere it rents
    and sells on Apple TV and Google Play Movies."""
    us = [8 if tmdb_id % 2 == 0 else 15] + ([337] if tmdb_id % 3 == 0 else [])
    gb = [8] if tmdb_id % 2 else []
    de = [9] + ([11] if tmdb_id % 4 == 0 else [])
    store = [_provider(2, 0), _provider(3, 1)]
    results: Json = {}
    for country, streams in (("US", us), ("GB", gb), ("DE", de)):
        entry: Json = {"link": f"https://www.themoviedb.org/movie/{tmdb_id}/watch?locale={country}"}
        if streams:  # TMDB leaves out a kind nobody offers
            entry["flatrate"] = [_provider(pid, n) for n, pid in enumerate(streams)]
        entry["rent"] = store
        entry["buy"] = store
        results[country] = entry
    return results


def _int_or_none(text: str) -> int | None:
    return int(float(text)) if text.strip() else None


def _film_from_row(row: dict[str, str]) -> CatalogFilm:
    genres = tuple(json.loads(row["genres"] or "[]"))
    keywords = tuple(json.loads(row["keywords"] or "[]"))
    title, original_title = row["title"], row["original_title"] or row["title"]
    folded = frozenset({fold(title), fold(original_title)})
    release_date = row["release_date"].strip()
    return CatalogFilm(
        id=int(row["id"]),
        title=title,
        original_title=original_title,
        original_language=row["original_language"],
        overview=row["overview"],
        release_date=release_date,
        year=int(release_date[:4]) if release_date[:4].isdigit() else None,
        runtime=_int_or_none(row["runtime"]),
        popularity=float(row["popularity"] or 0),
        vote_average=float(row["vote_average"] or 0),
        vote_count=_int_or_none(row["vote_count"]) or 0,
        budget=_int_or_none(row["budget"]) or 0,
        revenue=_int_or_none(row["revenue"]) or 0,
        homepage=row["homepage"],
        status=row["status"],
        tagline=row["tagline"],
        genres=genres,
        keywords=keywords,
        production_countries=tuple(json.loads(row["production_countries"] or "[]")),
        production_companies_json=row["production_companies"],
        spoken_languages_json=row["spoken_languages"],
        folded_titles=folded,
        title_text=" " + " ".join(sorted(folded)),
        genre_ids=frozenset(int(genre["id"]) for genre in genres),
        features=frozenset([f"g{genre['id']}" for genre in genres] + [f"k{kw['id']}" for kw in keywords]),
    )


class Catalog:
    """All films of one CSV, by id, with the queries the endpoints need."""

    def __init__(self, films: Iterable[CatalogFilm]) -> None:
        self.films: dict[int, CatalogFilm] = {film.id: film for film in films}
        self._with_feature: dict[str, list[CatalogFilm]] = defaultdict(list)
        for film in self.films.values():
            for feature in film.features:
                self._with_feature[feature].append(film)
        names = {int(g["id"]): str(g["name"]) for film in self.films.values() for g in film.genres}
        self.genres: list[Json] = [
            {"id": gid, "name": name} for gid, name in sorted(names.items(), key=lambda item: item[1])
        ]

    @classmethod
    def load(cls, csv_path: str | Path) -> Catalog:
        """Parse a TMDB-5000-layout CSV (the 4,803-film file loads in about a quarter of a second)."""
        with open(csv_path, newline="", encoding="utf-8") as handle:
            return cls(_film_from_row(row) for row in csv.DictReader(handle))

    def __len__(self) -> int:
        return len(self.films)

    def search(self, query: str, year: int | None) -> list[CatalogFilm]:
        """Films whose title words start with every query word; exact titles first, then by popularity."""
        folded = fold(query)
        if not folded:
            return []
        hits = [film for film in self.films.values() if year is None or film.year == year]
        for needle in (f" {word}" for word in folded.split()):
            hits = [film for film in hits if needle in film.title_text]
        hits.sort(key=lambda film: (folded not in film.folded_titles, -film.popularity, film.id))
        return hits

    def similar(self, film: CatalogFilm) -> list[CatalogFilm]:
        """Other films sharing keywords or genres, by Jaccard index of those sets, then popularity."""
        shared = self._shared(film, film.features)
        scored = [(n / (len(film.features) + len(other.features) - n), other) for other, n in shared.items()]
        scored.sort(key=lambda pair: (-pair[0], -pair[1].popularity, pair[1].id))
        return [other for _, other in scored]

    def recommendations(self, film: CatalogFilm) -> list[CatalogFilm]:
        """Other films sharing a genre, by shared genres × log(popularity) × rating."""
        shared = self._shared(film, {f"g{genre_id}" for genre_id in film.genre_ids})
        scored = [
            (n * math.log1p(other.popularity) * other.vote_average, other) for other, n in shared.items()
        ]
        scored.sort(key=lambda pair: (-pair[0], pair[1].id))
        return [other for _, other in scored]

    def _shared(self, film: CatalogFilm, features: Iterable[str]) -> Counter[CatalogFilm]:
        """How many of `features` each other film has (films with none are left out)."""
        counts: Counter[CatalogFilm] = Counter()
        for feature in features:
            counts.update(self._with_feature[feature])
        del counts[film]
        return counts

    def discover(self, any_of: list[frozenset[int]], sort_field: str, descending: bool) -> list[CatalogFilm]:
        """Films having all genres of at least one group in `any_of` (all films when it is empty)."""
        hits = [
            film for film in self.films.values() if not any_of or any(g <= film.genre_ids for g in any_of)
        ]
        hits.sort(key=lambda film: (getattr(film, sort_field), film.id), reverse=descending)
        return hits


# --- request parsing

_SORT_FIELDS = {
    "popularity": "popularity",
    "vote_average": "vote_average",
    "vote_count": "vote_count",
    "primary_release_date": "release_date",
    "revenue": "revenue",
}


def _page(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise invalid_page()
    return int(raw)


def _optional_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise invalid_parameters()
    return int(raw)


def _genre_groups(expression: str) -> list[frozenset[int]]:
    """`with_genres`: "28,12|16" → [{28, 12}, {16}] (comma = AND inside a group, pipe = OR between)."""
    groups = []
    for part in expression.split("|"):
        ids = [token.strip() for token in part.split(",") if token.strip()]
        if not all(token.isdigit() for token in ids):
            raise invalid_parameters()
        if ids:
            groups.append(frozenset(int(token) for token in ids))
    return groups


def _paginated(films: list[CatalogFilm], page: int, posterless: set[int]) -> Json:
    start = (page - 1) * PAGE_SIZE
    return {
        "page": page,
        "results": [
            film.list_item() | ({"poster_path": None} if film.id in posterless else {})
            for film in films[start : start + PAGE_SIZE]
        ],
        "total_pages": max(1, math.ceil(len(films) / PAGE_SIZE)),
        "total_results": len(films),
    }


def _authorized(request: web.Request) -> bool:
    if request.query.get("api_key", "").strip():
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


# --- server

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeTMDBServer(LoopbackServer):
    """The fake API over one CSV. Use as ``async with FakeTMDBServer(path) as server: ...``.

    Attributes:
        catalog: the parsed CSV.
        knobs: failure injection (:class:`Knobs`), mutable at run time.
        requests: every request received, as (path, query parameters), e.g.
            ("/3/movie/348", {"append_to_response": "keywords", "api_key": "…"}).
        imdb_ids: IMDb id → TMDB id, for `/find`: every film's `fake_imdb_id`, plus the
            `imdb_ids` given (which win); mutable at run time.
        posterless: ids of films served without a poster (default: ids that are multiples
            of 7); mutable at run time.
        providerless: ids of films that stream nowhere (`/watch/providers` answers empty
            `results`; default: ids that are multiples of 11); mutable at run time.
    """

    prefix = "/3"
    label = "fake TMDB server"

    def __init__(
        self,
        csv_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        imdb_ids: dict[str, int] | None = None,
    ) -> None:
        self.catalog = Catalog.load(csv_path)
        self.imdb_ids: dict[str, int] = {fake_imdb_id(tmdb_id): tmdb_id for tmdb_id in self.catalog.films}
        self.imdb_ids.update(imdb_ids or {})
        self.posterless: set[int] = {tmdb_id for tmdb_id in self.catalog.films if tmdb_id % 7 == 0}
        self.providerless: set[int] = {tmdb_id for tmdb_id in self.catalog.films if tmdb_id % 11 == 0}
        self.knobs = Knobs()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._random = random.Random(seed)
        super().__init__(host=host, port=port)

    def count(self, path_prefix: str = "/") -> int:
        """How many requests had a path starting with `path_prefix` (e.g. "/3/movie/")."""
        return sum(1 for path, _ in self.requests if path.startswith(path_prefix))

    def reset_log(self) -> None:
        self.requests.clear()

    @property
    def image_base_url(self) -> str:
        """What `TMDB_IMAGE_BASE_URL` is for this fake: "http://127.0.0.1:<port>/t/p"."""
        return self.base_url.removesuffix(self.prefix) + "/t/p"

    def _poster(self, film: CatalogFilm, body: Json) -> Json:
        body["poster_path"] = None if film.id in self.posterless else fake_poster_path(film.id)
        return body

    def _imdb_id(self, film: CatalogFilm) -> str | None:
        return next((i for i, tmdb_id in self.imdb_ids.items() if tmdb_id == film.id), None)

    def _external_ids(self, film: CatalogFilm) -> Json:
        return {
            "id": film.id,
            "imdb_id": self._imdb_id(film),
            "wikidata_id": None,
            "facebook_id": None,
            "instagram_id": None,
            "twitter_id": None,
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/3/search/movie", self._search),
            web.get(r"/3/movie/{id:\d+}", self._details),
            web.get(r"/3/movie/{id:\d+}/keywords", self._keywords),
            web.get(r"/3/movie/{id:\d+}/credits", self._credits),
            web.get(r"/3/movie/{id:\d+}/external_ids", self._external_ids_route),
            web.get(r"/3/movie/{id:\d+}/videos", self._videos),
            web.get(r"/t/p/{size:[a-z0-9]+}/poster-{id:\d+}.png", self._image),
            web.get(r"/3/movie/{id:\d+}/similar", self._similar),
            web.get(r"/3/movie/{id:\d+}/recommendations", self._recommendations),
            web.get("/3/genre/movie/list", self._genre_list),
            web.get("/3/discover/movie", self._discover),
            web.get("/3/find/{external_id}", self._find),
            web.get(r"/3/movie/{id:\d+}/watch/providers", self._watch_providers),
            web.get("/3/watch/providers/movie", self._region_providers),
        ]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Log the request, apply the knobs, check auth, and turn errors into TMDB error bodies."""
        self.requests.append((request.path, dict(request.query)))
        knobs = self.knobs
        if knobs.latency_s > 0:
            await asyncio.sleep(knobs.latency_s)
        try:
            if knobs.fail_all:
                raise ApiError(
                    503, 9, "Service offline: This service is temporarily offline, try again later."
                )
            if knobs.burst_429 > 0:
                knobs.burst_429 -= 1
                raise ApiError(
                    429,
                    25,
                    "Your request count (#) is over the allowed limit of (40).",
                    {"Retry-After": str(knobs.retry_after_s)},
                )
            if knobs.error_rate > 0 and self._random.random() < knobs.error_rate:
                raise ApiError(500, 11, "Internal error: Something went wrong, contact TMDB.")
            if not _authorized(request) and request.path.startswith(self.prefix + "/"):
                raise invalid_key()  # images (/t/p/…) need no key, as on image.tmdb.org
            return await handler(request)
        except ApiError as error:
            return error.response()
        except web.HTTPNotFound:
            return not_found().response()

    def _film(self, request: web.Request) -> CatalogFilm:
        film = self.catalog.films.get(int(request.match_info["id"]))
        if film is None:
            raise not_found()
        return film

    async def _search(self, request: web.Request) -> web.Response:
        page = _page(request)
        hits = self.catalog.search(request.query.get("query", ""), _optional_int(request, "year"))
        return web.json_response(_paginated(hits, page, self.posterless))

    async def _details(self, request: web.Request) -> web.Response:
        film = self._film(request)
        body = self._poster(film, film.details())
        body["imdb_id"] = self._imdb_id(film)
        appended = request.query.get("append_to_response", "").split(",")
        if "keywords" in appended:
            body["keywords"] = {"keywords": list(film.keywords)}
        if "credits" in appended:
            body["credits"] = {k: v for k, v in fake_credits(film.id).items() if k != "id"}
        if "external_ids" in appended:
            body["external_ids"] = {k: v for k, v in self._external_ids(film).items() if k != "id"}
        if "videos" in appended:
            body["videos"] = {"results": fake_videos(film.id)["results"]}
        return web.json_response(body)

    async def _credits(self, request: web.Request) -> web.Response:
        return web.json_response(fake_credits(self._film(request).id))

    async def _external_ids_route(self, request: web.Request) -> web.Response:
        return web.json_response(self._external_ids(self._film(request)))

    async def _videos(self, request: web.Request) -> web.Response:
        return web.json_response(fake_videos(self._film(request).id))

    async def _image(self, request: web.Request) -> web.Response:
        """A poster image: 404 (a plain one, as a CDN answers) for a film without a poster."""
        film = self.catalog.films.get(int(request.match_info["id"]))
        if film is None or film.id in self.posterless:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=fake_png(film.id), content_type="image/png")

    async def _keywords(self, request: web.Request) -> web.Response:
        film = self._film(request)
        return web.json_response({"id": film.id, "keywords": list(film.keywords)})

    async def _similar(self, request: web.Request) -> web.Response:
        film = self._film(request)
        return web.json_response(_paginated(self.catalog.similar(film), _page(request), self.posterless))

    async def _recommendations(self, request: web.Request) -> web.Response:
        film = self._film(request)
        return web.json_response(
            _paginated(self.catalog.recommendations(film), _page(request), self.posterless)
        )

    async def _find(self, request: web.Request) -> web.Response:
        """TMDB's "find by external id" for IMDb ids (other sources are not served: 422)."""
        if request.query.get("external_source") != "imdb_id":
            raise invalid_parameters()
        tmdb_id = self.imdb_ids.get(request.match_info["external_id"])
        film = self.catalog.films.get(tmdb_id) if tmdb_id is not None else None
        return web.json_response(
            {
                "movie_results": [self._poster(film, film.list_item())] if film is not None else [],
                "person_results": [],
                "tv_results": [],
                "tv_episode_results": [],
                "tv_season_results": [],
            }
        )

    async def _watch_providers(self, request: web.Request) -> web.Response:
        film = self._film(request)
        results = {} if film.id in self.providerless else fake_watch_providers(film.id)
        return web.json_response({"id": film.id, "results": results})

    async def _region_providers(self, request: web.Request) -> web.Response:
        """The services of `watch_region` (all of them without it; none for other countries)."""
        region = request.query.get("watch_region", "").upper()
        if region:
            wanted = REGION_SERVICES.get(region, ())
        else:
            wanted = tuple(dict.fromkeys(pid for ids in REGION_SERVICES.values() for pid in ids))
        results = [
            _provider(pid, n)
            | {"display_priorities": {c: ids.index(pid) for c, ids in REGION_SERVICES.items() if pid in ids}}
            for n, pid in enumerate(wanted)
        ]
        return web.json_response({"results": results})

    async def _genre_list(self, request: web.Request) -> web.Response:
        return web.json_response({"genres": self.catalog.genres})

    async def _discover(self, request: web.Request) -> web.Response:
        page = _page(request)
        field_name, _, direction = request.query.get("sort_by", "popularity.desc").partition(".")
        if field_name not in _SORT_FIELDS or direction not in ("asc", "desc"):
            raise invalid_parameters()
        groups = _genre_groups(request.query.get("with_genres", ""))
        hits = self.catalog.discover(groups, _SORT_FIELDS[field_name], descending=direction == "desc")
        return web.json_response(_paginated(hits, page, self.posterless))


# --- by hand


async def _serve(args: argparse.Namespace) -> None:
    async with FakeTMDBServer(args.csv, host=args.host, port=args.port) as server:
        server.knobs.latency_s = args.latency
        server.knobs.error_rate = args.error_rate
        print(f"fake TMDB: {len(server.catalog)} films at {server.base_url} (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a TMDB-5000-format CSV as a fake TMDB v3 API.")
    parser.add_argument("--csv", type=Path, default=DEMO_CSV, help="catalog CSV (default: the demo catalog)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered 500")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
