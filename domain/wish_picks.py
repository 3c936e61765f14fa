"""/recommend with a wish ("/recommend a short 90s comedy"): understand the text, find the
reference film it names, and rank with the wish as a one-off filter.

1. The rules (`domain.wishes.parse_wish`) read the text. Only when they leave words
   unexplained and a language model is configured, the model is asked too (one
   structured-output call in `domain.wishes.WishAnswer`'s schema, within `budget_seconds`);
   its answer is validated (`wish_from_model`: genres outside TMDB's list, impossible years
   or runtimes and unknown ISO codes are dropped) and fills only what the rules left empty
   (`merged`). A failing or slow model leaves the rules' wish (event ``wish_model_failed``).
2. A reference film ("like Alien") is searched like /review searches ("Alien", "Alien 1979"),
   within the TMDB budget: the clear match, else the first candidate (a title only the model
   named is dropped when it is not found; one the user typed is reported). Films near it are its
   CF neighbours (the films the CF model links it to), its nearest films by embedding (when
   vectors are on) and the NEAR_PER_SOURCE catalog films sharing a genre with it that are most
   similar by `recommender.picks.film_similarity`; they are added as candidates and
   preferred (`Preferences.near`). The reference itself is never picked.
3. The picks: `RecommendationService.rank` with the wish as strict `Preferences` (it is not
   dropped when few films pass) and, as extra candidates, the WISH_CANDIDATES most popular
   catalog films that pass it and the films near the reference; then `recommend`. Fewer than
   three picks, or none, means only that many unseen films match: the bot says so. The
   wished genres come first among each pick's genres (`domain.picks.genres_first`), so the
   card of a "comedy" pick names Comedy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.wishes import WishRepository
from domain.catalog import CatalogService
from domain.entities import FilmInfo
from domain.parsing import parse_title_query
from domain.picks import RecommendationResult, features, genres_first
from domain.ports import LanguageModel, LanguageModelError, MovieSourceError
from domain.recommendations import RecommendationService
from domain.wishes import Wish, WishAnswer, merged, parse_wish, preferences_for, wish_from_model, wish_prompt
from recommender.picks import film_similarity

log = structlog.get_logger(__name__)

#: Films near a reference film taken from each source (CF, embedding, shared genres).
NEAR_PER_SOURCE = 30
#: Catalog films passing a wish added as candidates (the most popular first).
WISH_CANDIDATES = 200
#: Catalog films sharing a genre with a reference film compared with it.
SHARED_GENRE_POOL = 300


@dataclass(frozen=True, slots=True)
class WishOutcome:
    """What /recommend <text> came to.

    - `wish`: what was understood (rules and, when asked, the model);
    - `reference`: the catalog film `wish.like` was found as (None: none named, or not found);
    - `result`: the picks; None when there was nothing to filter by (nothing understood, or
      only a reference film that was not found), and nothing was recommended;
    - `matches`: the unseen films (not shown lately) that fit the wish and were ranked: with
      fewer than three, the picks are all there is (0: nothing matches). The picks may be
      fewer than three with more matches, when the others are below the 🧭/🎲 quality floor.
    """

    wish: Wish
    reference: FilmInfo | None
    result: RecommendationResult | None
    matches: int = 0

    @property
    def reference_missing(self) -> bool:
        """A reference film was named but not found in the catalog."""
        return self.wish.like is not None and self.reference is None


class WishService:
    """Recommendations for a typed wish. `model`: the chat model asked about what the rules
    cannot read (None: rules only), within `budget_seconds`; `embedding_model`: the film
    vectors used for a reference film's neighbours (None: none); `today` dates "new" and
    two-digit decades."""

    def __init__(
        self,
        session: AsyncSession,
        recommendations: RecommendationService,
        catalog: CatalogService,
        *,
        model: LanguageModel | None,
        budget_seconds: float,
        embedding_model: str | None = None,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.session = session
        self.repository = WishRepository(session)
        self.recommendations = recommendations
        self.catalog = catalog
        self.model = model
        self.budget_seconds = budget_seconds
        self.embedding_model = embedding_model
        self.today = today

    async def understand(self, text: str) -> Wish:
        """The wish in `text`: the rules' reading, completed by the model when the rules left
        words unexplained and a model is configured. Never raises LanguageModelError."""
        return (await self._read(text))[1]

    async def _read(self, text: str) -> tuple[Wish, Wish]:
        """(the rules' wish, the wish with the model's additions) for `text`."""
        year = self.today().year
        rules = parse_wish(text, current_year=year)
        if not rules.unknown or self.model is None:
            return rules, rules
        system, user = wish_prompt(text, year)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.budget_seconds):
                answer = await self.model.structured(system=system, user=user, schema=WishAnswer)
        except (TimeoutError, LanguageModelError) as exc:
            log.warning(
                "wish_model_failed",
                model=self.model.model,
                error="over budget" if isinstance(exc, TimeoutError) else str(exc),
                budget_s=self.budget_seconds,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return rules, rules
        wish, dropped = wish_from_model(answer, current_year=year)
        if dropped:
            log.warning("wish_model_rejected", model=self.model.model, dropped=sorted(set(dropped)))
        log.info(
            "wish_model_read",
            model=self.model.model,
            unknown=len(rules.unknown),
            understood=wish.understood,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return rules, merged(rules, wish)

    async def recommend(self, user_id: int, text: str) -> WishOutcome:
        """Up to three picks for the user that fit the wish in `text` (see the module
        docstring); nothing is ranked or stored when nothing in it can filter.

        Raises:
            MovieSourceError: like `RecommendationService.recommend` (TMDB failed and, with
                a budget, the catalog alone gave no pick).
        """
        rules, wish = await self._read(text)
        reference = await self._find(wish.like) if wish.like else None
        if reference is None and wish.like is not None and wish.like != rules.like:
            wish = replace(wish, like=None)  # the model's reference film counts only when found
        if not wish.filters and reference is None:
            log.info(
                "wish_not_understood", user_id=user_id, unknown=len(wish.unknown), like=wish.like is not None
            )
            return WishOutcome(wish, reference, None)
        near = await self._near(reference.tmdb_id) if reference is not None else ()
        preferences = preferences_for(wish, like=reference.tmdb_id if reference else None, near=near)
        matching = (
            await self.repository.matching_ids(
                any_genres=preferences.genres,
                all_genres=preferences.required_genres,
                without_genres=preferences.without_genres,
                min_year=preferences.min_year,
                max_year=preferences.max_year,
                min_runtime=preferences.min_runtime,
                max_runtime=preferences.max_runtime,
                languages=preferences.languages,
                countries=preferences.countries,
                exclude=await self.recommendations.library.seen_ids(user_id),
                limit=WISH_CANDIDATES,
            )
            if wish.filters
            else []
        )
        extra = list(dict.fromkeys((*matching, *near)))
        ranking = await self.recommendations.rank(user_id, preferences=preferences, extra=extra)
        result = await self.recommendations.recommend(user_id, preferences=preferences, ranking=ranking)
        shown = tuple(replace(p, film=genres_first(p.film, wish.genres)) for p in result.picks)
        result = replace(result, picks=shown)
        log.info(
            "wish_recommended",
            user_id=user_id,
            wish=_summary(wish),
            reference=reference.tmdb_id if reference else None,
            near=len(near),
            matching=len(matching),
            matches=len(ranking.scored),
            picks=len(result.picks),
        )
        return WishOutcome(wish, reference, result, len(ranking.scored))

    async def _find(self, title: str) -> FilmInfo | None:
        """The catalog film a reference title names, as /review finds it: the clear match,
        else the first candidate; None when there is none or TMDB was given up."""
        query = parse_title_query(title, current_year=self.today().year)
        if query is None:
            return None
        try:
            outcome = await self.catalog.search(query)
        except MovieSourceError:
            return None
        return outcome.chosen or (outcome.options[0] if outcome.options else None)

    async def _near(self, tmdb_id: int) -> tuple[int, ...]:
        """Films near `tmdb_id`, closest of each source first: CF neighbours, embedding
        neighbours, then the most similar films sharing a genre (up to NEAR_PER_SOURCE each)."""
        found: list[int] = []
        cf_model = await self.recommendations.cf_cache.get(self.session)
        cf_ids, cf_scores = cf_model.scores({tmdb_id: 1.0})
        linked = sorted(
            (
                (s, t)
                for t, s in zip(cf_ids.tolist(), cf_scores.tolist(), strict=True)
                if s > 0 and t != tmdb_id
            ),
            reverse=True,
        )
        found += [t for _, t in linked[:NEAR_PER_SOURCE]]
        if self.embedding_model:
            vectors = self.recommendations.vectors
            vector = (await vectors.film_vectors(self.embedding_model, [tmdb_id])).get(tmdb_id)
            if vector is not None:
                nearest = await vectors.nearest_films(
                    self.embedding_model, vector, limit=NEAR_PER_SOURCE, exclude=[tmdb_id]
                )
                found += [t for t, _ in nearest]
        reference = (await self.recommendations.films.rows_many([tmdb_id])).get(tmdb_id)
        if reference is not None:
            pool = await self.repository.sharing_genres(tmdb_id, limit=SHARED_GENRE_POOL)
            target = features(reference)
            similar = sorted(pool, key=lambda f: (-film_similarity(target, features(f)), f.tmdb_id))
            found += [f.tmdb_id for f in similar[:NEAR_PER_SOURCE]]
        return tuple(dict.fromkeys(found))


def _summary(wish: Wish) -> dict[str, object]:
    """The wish for logs: what was understood, never the user's words."""
    return {
        "genres": list(wish.genres),
        "without": list(wish.without_genres),
        "moods": [m.value for m in wish.moods],
        "years": [wish.min_year, wish.max_year],
        "runtime": [wish.min_runtime, wish.max_runtime],
        "languages": list(wish.languages),
        "countries": list(wish.countries),
        "like": wish.like is not None,
        "unknown": len(wish.unknown),
    }
