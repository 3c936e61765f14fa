"""Where to watch: a film's streaming, rent and buy providers in the user's country (TMDB's
`/movie/{id}/watch/providers`, JustWatch data), the user's /country and the services they pay
for (/services), and the "📺 On Netflix for you" note on pick cards.

Caching: a film's offers (all countries at once) and a country's service list are kept in
PostgreSQL for a day (`ttl`); a stale entry is refetched, and kept if TMDB cannot be asked.

Time: every TMDB call runs within the update's :class:`~domain.catalog.SourceBudget` (the
user waits). The card note (:meth:`WhereToWatchService.for_you`) asks TMDB only for films
not cached, only for a user with services, and within what is left of that budget; a film
it could not get in time simply gets no note, so /recommend is never slower than its budget.

Country: the /country choice, else derived from the Telegram language (:func:`default_country`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from babel import Locale
from babel.core import get_global
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User
from db.repositories.providers import ProvidersRepository
from domain.catalog import SourceBudget
from domain.ports import MovieSource, MovieSourceError, Provider

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: How long cached providers are trusted.
CACHE_TTL = dt.timedelta(days=1)
#: The country when nothing else says (no language, or one CLDR has no territory for).
FALLBACK_COUNTRY = "US"
#: Offered as buttons by /country (any other ISO code can be typed).
COMMON_COUNTRIES = (
    "US", "GB", "DE", "FR", "ES", "IT", "BR", "PT", "RU", "IN",
    "CA", "AU", "MX", "AR", "JP", "KR", "NL", "PL", "SE", "TR",
)  # fmt: skip
#: /services without TMDB's list (offline, or TMDB failing): well-known services, TMDB ids.
WELL_KNOWN_SERVICES: tuple[Provider, ...] = (
    (8, "Netflix"),
    (9, "Amazon Prime Video"),
    (337, "Disney Plus"),
    (350, "Apple TV Plus"),
    (1899, "Max"),
    (15, "Hulu"),
    (531, "Paramount Plus"),
    (11, "MUBI"),
)
#: Services offered by /services at most (TMDB lists 100+ in big countries).
MAX_SERVICES = 24
_TERRITORIES = frozenset(
    str(code)
    for code in Locale("en").territories
    if len(str(code)) == 2 and str(code).isalpha() and code != "ZZ"
)


def valid_country(code: str) -> str | None:
    """`code` as an ISO 3166-1 alpha-2 country CLDR knows ("de" → "DE"); None otherwise."""
    code = code.strip().upper()
    return code if code in _TERRITORIES else None


def default_country(language_code: str | None) -> str:
    """The country a Telegram language suggests: its region when it has one ("pt-br" → BR,
    "en-gb" → GB), else CLDR's likely territory for the language ("en" → US, "de" → DE,
    "ru" → RU, "es" → ES, "pt" → BR, "uk" → UA); US when nothing fits."""
    if not language_code:
        return FALLBACK_COUNTRY
    parts = language_code.replace("_", "-").split("-")
    for part in parts[1:]:
        if (found := valid_country(part)) is not None:
            return found
    likely = get_global("likely_subtags").get(parts[0].lower())
    if likely:
        found = valid_country(str(likely).split("_")[-1])
        if found is not None:
            return found
    return FALLBACK_COUNTRY


@dataclass(frozen=True, slots=True)
class CountryChoice:
    """The user's country and whether it was derived from the Telegram language."""

    code: str
    derived: bool


@dataclass(frozen=True, slots=True)
class Offers:
    """How one film is offered in one country (names in TMDB's display order); `link` is
    TMDB's watch page (JustWatch's links are behind it)."""

    country: str
    link: str | None
    flatrate: tuple[str, ...] = ()
    rent: tuple[str, ...] = ()
    buy: tuple[str, ...] = ()
    free: tuple[str, ...] = ()
    ads: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.flatrate or self.rent or self.buy or self.free or self.ads)


def _names(entry: dict[str, Any], kind: str) -> tuple[str, ...]:
    return tuple(str(p[1]) for p in entry.get(kind) or () if isinstance(p, list | tuple) and len(p) == 2)


def _ids(entry: dict[str, Any], kind: str) -> list[int]:
    return [int(p[0]) for p in entry.get(kind) or () if isinstance(p, list | tuple) and len(p) == 2]


class WhereToWatchService:
    """`source` is None offline (no TMDB: no 📺 at all); `budget` bounds TMDB while the user
    waits (the update's shared SourceBudget), None to ask TMDB without a bound."""

    def __init__(
        self,
        session: AsyncSession,
        source: MovieSource | None,
        *,
        budget: SourceBudget | None = None,
        ttl: dt.timedelta = CACHE_TTL,
    ) -> None:
        self.session = session
        self.repo = ProvidersRepository(session)
        self.source = source
        self.budget = budget
        self.ttl = ttl

    @property
    def online(self) -> bool:
        return self.source is not None

    # --- country

    @staticmethod
    def country_of(user: User) -> CountryChoice:
        """The user's /country, else the one their Telegram language suggests."""
        if user.country:
            return CountryChoice(user.country, derived=False)
        return CountryChoice(default_country(user.language_code), derived=True)

    async def set_country(self, user: User, code: str) -> str | None:
        """Store the user's country; the normalised code, or None (nothing changed) for a code
        that is not an ISO 3166-1 alpha-2 country."""
        country = valid_country(code)
        if country is not None:
            await self.repo.set_country(user.id, country)
            user.country = country
        return country

    # --- providers

    async def offers(self, tmdb_id: int, country: str) -> Offers | None:
        """The film's offers in `country` (empty `Offers` when it is offered nowhere there);
        None when TMDB could not be asked in time (or is not configured) and nothing is cached."""
        data = await self._film_offers([tmdb_id], fetch=True)
        if tmdb_id not in data:
            return None
        entry = data[tmdb_id].get(country) or {}
        return Offers(
            country=country,
            link=entry.get("link") if isinstance(entry.get("link"), str) else None,
            flatrate=_names(entry, "flatrate"),
            rent=_names(entry, "rent"),
            buy=_names(entry, "buy"),
            free=_names(entry, "free"),
            ads=_names(entry, "ads"),
        )

    async def for_you(self, user_id: int, tmdb_ids: list[int]) -> dict[int, list[str]]:
        """For pick cards: {tmdb_id: names of the user's services that stream it in their
        country}; films on none of them, or whose offers are not cached and could not be
        fetched within the budget, are absent. Nothing is asked for a user without services."""
        if self.source is None or not tmdb_ids:
            return {}
        mine = await self.repo.services(user_id)
        user = await self.session.get(User, user_id) if mine else None
        if user is None:
            return {}
        country = self.country_of(user).code
        data = await self._film_offers(tmdb_ids, fetch=True)
        found: dict[int, list[str]] = {}
        for tmdb_id in tmdb_ids:
            entry = (data.get(tmdb_id) or {}).get(country) or {}
            names = [mine[pid] for pid in _ids(entry, "flatrate") if pid in mine]
            if names:
                found[tmdb_id] = names
        return found

    async def _film_offers(self, tmdb_ids: list[int], *, fetch: bool) -> dict[int, dict[str, Any]]:
        """Offers by film from the cache while fresh; the rest fetched (concurrently, one
        budget call) and cached. A stale entry stands when TMDB cannot be asked."""
        cached = await self.repo.films(tmdb_ids)
        now = dt.datetime.now(dt.UTC)
        found = {tmdb_id: data for tmdb_id, (_, data) in cached.items()}
        stale = [i for i in dict.fromkeys(tmdb_ids) if i not in cached or now - cached[i][0] > self.ttl]
        if not stale or not fetch or self.source is None:
            return found
        source = self.source

        async def get() -> list[dict[str, Any]]:
            return list(await asyncio.gather(*(source.watch_providers(i) for i in stale)))

        fetched = await self._ask("watch_providers", get)
        if fetched is None:
            return found
        for tmdb_id, data in zip(stale, fetched, strict=True):
            await self.repo.put_film(tmdb_id, data, now)
            found[tmdb_id] = data
        return found

    # --- services

    async def services(self, user: User) -> tuple[list[Provider], dict[int, str]]:
        """What /services offers (TMDB's streaming services in the user's country, cached for
        a day; the well-known list offline or when TMDB fails) with the user's own services
        first, and the user's services {provider_id: name}."""
        mine = await self.repo.services(user.id)
        offered = await self._region(self.country_of(user).code)
        ids = {pid for pid, _ in offered}
        return [*((pid, name) for pid, name in mine.items() if pid not in ids), *offered], mine

    async def toggle(self, user: User, provider_id: int) -> bool | None:
        """Tick or untick one service: True ticked, False unticked, None when the id is neither
        one of theirs nor offered (a forged or stale button: nothing changes)."""
        offered, mine = await self.services(user)
        names = dict(offered) | mine
        if provider_id not in names:
            return None
        return await self.repo.toggle_service(user.id, provider_id, names[provider_id])

    async def _region(self, country: str) -> list[Provider]:
        cached = await self.repo.region(country)
        now = dt.datetime.now(dt.UTC)
        if cached is not None and now - cached[0] <= self.ttl:
            return [(int(p[0]), str(p[1])) for p in cached[1]][:MAX_SERVICES]
        source = self.source
        fetched = (
            None
            if source is None
            else await self._ask("region_providers", lambda: source.region_providers(country))
        )
        if fetched:
            await self.repo.put_region(country, [list(p) for p in fetched], now)
            return list(fetched)[:MAX_SERVICES]
        if cached is not None and cached[1]:
            return [(int(p[0]), str(p[1])) for p in cached[1]][:MAX_SERVICES]
        return list(WELL_KNOWN_SERVICES)

    async def _ask(self, what: str, fetch: Callable[[], Awaitable[T]]) -> T | None:
        """A TMDB call within the budget (None: given up); without a budget, errors are
        logged and give None too."""
        if self.budget is not None:
            return await self.budget.call(what, fetch)
        try:
            return await fetch()
        except MovieSourceError as exc:
            log.warning("tmdb_providers_failed", call=what, error=type(exc).__name__)
            return None
