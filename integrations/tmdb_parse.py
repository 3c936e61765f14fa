"""TMDB v3 JSON → the domain's types: pure functions, no I/O (the client is integrations/tmdb.py).

Movie objects (list records and details with `keywords,credits,external_ids,videos`
appended) become :class:`domain.entities.FilmInfo`: genres, keywords, countries, directors,
leading cast, IMDb id, poster and the YouTube trailer (:func:`trailer_key`). Watch-provider
answers become :data:`domain.ports.ProviderOffers` and :data:`domain.ports.Provider` lists.
Shapes are TMDB's (https://developer.themoviedb.org/reference/movie-details,
https://developer.themoviedb.org/reference/movie-watch-providers); the functions that map
films raise KeyError, TypeError, ValueError or AttributeError on an answer of another shape,
which the client turns into :class:`integrations.tmdb_http.TMDBError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from domain.entities import FilmInfo
from domain.ports import Provider, ProviderOffers

#: A JSON object as TMDB answers it (the decoded body of one response).
Json = dict[str, Any]
#: An IMDb title id as `find_by_imdb` accepts it: "tt" and 7 or more digits.
IMDB_ID = re.compile(r"tt\d{7,12}")
#: Leading actors kept per film (TMDB's billing order).
CAST_LIMIT = 3
#: An ISO 3166-1 alpha-2 country code as TMDB keys watch providers ("US").
COUNTRY = re.compile(r"[A-Z]{2}")
#: The kinds of offers `/movie/{id}/watch/providers` lists per country.
OFFER_KINDS = ("flatrate", "rent", "buy", "free", "ads")
#: A YouTube video id as TMDB gives it in `videos` (11 characters today; room to spare).
VIDEO_KEY = re.compile(r"[A-Za-z0-9_-]{1,32}")


def details_film(data: Json) -> FilmInfo:
    """A `/movie/{id}?append_to_response=keywords,credits,external_ids,videos` answer → the
    full record (`has_details=True`): genre, keyword and country names, runtime in minutes
    (None when 0 or absent) and the card's fields (directors, leading cast, IMDb id, trailer).
    See https://developer.themoviedb.org/reference/movie-details.

    Raises:
        KeyError, TypeError, ValueError, AttributeError: the answer has another shape.
    """
    return _film(
        data,
        genres=tuple(str(genre["name"]) for genre in data.get("genres") or ()),
        keywords=tuple(str(kw["name"]) for kw in (data.get("keywords") or {}).get("keywords") or ()),
        countries=tuple(str(c["iso_3166_1"]) for c in data.get("production_countries") or ()),
        runtime=int(data["runtime"]) if data.get("runtime") else None,
        has_details=True,
        **_card(data),
    )


def list_films(data: Json, genre_names: Mapping[int, str]) -> list[FilmInfo]:
    """The `results` of a paginated list answer (search, discover, recommendations, similar;
    find's `movie_results` wrapped as `results`)
    → list records (`has_details=False`), in TMDB's order; `genre_ids` become names through
    `genre_names` (id → name, `/genre/movie/list`), ids it lacks are dropped.

    Raises:
        KeyError, TypeError, ValueError, AttributeError: the answer has another shape.
    """
    return [
        _film(
            item, genres=tuple(genre_names[gid] for gid in item.get("genre_ids") or () if gid in genre_names)
        )
        for item in data["results"]
    ]


def watch_offers(results: Json) -> dict[str, ProviderOffers]:
    """The `results` object of `/movie/{id}/watch/providers` → {"US": {"link": TMDB's watch
    page or None, "flatrate": [[8, "Netflix"], …], "rent": […], "buy": […], "free": […],
    "ads": […]}}, each list in TMDB's `display_priority` order. Countries that are not two
    capital letters and malformed entries are skipped.
    See https://developer.themoviedb.org/reference/movie-watch-providers.
    """
    offers: dict[str, ProviderOffers] = {}
    for country, entry in results.items():
        if not (isinstance(country, str) and COUNTRY.fullmatch(country) and isinstance(entry, dict)):
            continue
        link = entry.get("link")
        offer: ProviderOffers = {"link": link if isinstance(link, str) and link.startswith("http") else None}
        for kind in OFFER_KINDS:
            offer[kind] = [list(p) for p in _providers(entry.get(kind))]
        offers[country] = offer
    return offers


def ranked_providers(entries: list[Any], country: str) -> list[Provider]:
    """The `results` list of `/watch/providers/movie?watch_region=XX` → [(id, name), …] by
    the services' display priority in `country` (`display_priorities[country]`, else
    `display_priority`; entries with neither go last), each id once; malformed entries skipped.
    See https://developer.themoviedb.org/reference/watch-providers-movie-list.
    """
    priority = [
        (entry.get("display_priorities") or {}).get(country, entry.get("display_priority"))
        if isinstance(entry, dict)
        else None
        for entry in entries
    ]
    ordered = [e for _, e in sorted(zip(priority, entries, strict=True), key=_by_priority)]
    return _providers(ordered, sort=False)


def _film(
    data: Json,
    *,
    genres: tuple[str, ...],
    keywords: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
    runtime: int | None = None,
    has_details: bool = False,
    **card: Any,
) -> FilmInfo:
    """A TMDB movie object (list record or details) → FilmInfo; the caller maps genres and
    anything that only details carry (`card`: the fields of :func:`_card`)."""
    release_date = data.get("release_date") or None
    year = int(release_date[:4]) if release_date and release_date[:4].isdigit() else None
    return FilmInfo(
        tmdb_id=int(data["id"]),
        title=str(data["title"]),
        year=year,
        original_title=data.get("original_title") or None,
        release_date=release_date,
        genres=genres,
        keywords=keywords,
        overview=data.get("overview") or None,
        runtime=runtime,
        original_language=data.get("original_language") or None,
        countries=countries,
        popularity=float(data.get("popularity") or 0.0),
        vote_average=float(data.get("vote_average") or 0.0),
        vote_count=int(data.get("vote_count") or 0),
        has_details=has_details,
        poster_path=_poster_path(data.get("poster_path")),
        **card,
    )


def _by_priority(pair: tuple[object, object]) -> int:
    priority = pair[0]
    return priority if isinstance(priority, int) else 10**6


def _providers(entries: object, *, sort: bool = True) -> list[Provider]:
    """`[{provider_id, provider_name, display_priority, …}, …]` → [(id, name), …], by
    `display_priority` (unless `sort` is False), each id once; malformed entries skipped."""
    if not isinstance(entries, list):
        return []
    valid = [
        e
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("provider_id"), int)
        and e["provider_id"] > 0
        and isinstance(e.get("provider_name"), str)
        and e["provider_name"].strip()
    ]
    if sort:
        valid.sort(key=lambda e: _by_priority((e.get("display_priority"), e)))
    found: dict[int, str] = {}
    for e in valid:
        found.setdefault(int(e["provider_id"]), str(e["provider_name"]).strip()[:100])
    return list(found.items())


def _poster_path(value: object) -> str | None:
    """TMDB's `poster_path` ("/abc.jpg") when it is one; None when absent or malformed."""
    if isinstance(value, str) and value.startswith("/") and " " not in value and len(value) < 200:
        return value
    return None


def _card(data: Json) -> dict[str, Any]:
    """The card's fields of a details answer with credits, external_ids and videos appended:
    `directors` (crew with job "Director", in TMDB's order, each once), `cast_names` (the
    first CAST_LIMIT by `order`), `imdb_id` (when it looks like one) and `trailer_key`
    (:func:`trailer_key`). A part that is missing leaves its fields empty."""
    credits = data.get("credits") or {}
    directors = [
        str(p["name"]) for p in credits.get("crew") or () if p.get("job") == "Director" and p.get("name")
    ]
    cast = sorted(
        (p for p in credits.get("cast") or () if p.get("name")),
        key=lambda p: int(p.get("order") if p.get("order") is not None else 10**6),
    )
    imdb_id = (data.get("external_ids") or {}).get("imdb_id") or data.get("imdb_id")
    return {
        "directors": tuple(dict.fromkeys(directors)),
        "cast_names": tuple(str(p["name"]) for p in cast[:CAST_LIMIT]),
        "imdb_id": imdb_id if isinstance(imdb_id, str) and IMDB_ID.fullmatch(imdb_id) else None,
        "trailer_key": trailer_key((data.get("videos") or {}).get("results") or ()),
    }


def trailer_key(videos: Sequence[Json]) -> str | None:
    """The YouTube key of the film's trailer among TMDB `videos` results: type "Trailer" on
    site "YouTube" only; an `official` one first, then the earliest `published_at` (TMDB
    lists newest first; the first trailer is usually the theatrical one), then list order.
    None when there is no such video."""
    trailers = [
        (index, video)
        for index, video in enumerate(videos)
        if isinstance(video, dict)
        and video.get("type") == "Trailer"
        and video.get("site") == "YouTube"
        and isinstance(video.get("key"), str)
        and VIDEO_KEY.fullmatch(video["key"])
    ]
    if not trailers:
        return None
    _, best = min(
        trailers,
        key=lambda pair: (
            not pair[1].get("official", False),
            str(pair[1].get("published_at") or "~"),
            pair[0],
        ),
    )
    return str(best["key"])
