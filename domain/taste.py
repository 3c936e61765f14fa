"""A user's taste in numbers and in words.

- :func:`taste_stats` (pure) turns the user's rated films into what /profile shows: the rating
  distribution in half stars, favourite and least favourite genres, decades and countries,
  and the TMDB keywords of the films they rate high (we have no director data).
- :class:`TasteSummaryService` keeps one summary per user in `taste_summaries`, refreshed by a
  background job after every saved review (`JobQueue.refresh_summary`): the template summary
  (:func:`template_summary`, English, deterministic) every time, and, when a language model is
  configured, a rewording by the model every REWRITE_EVERY ratings (and when the user's
  language changed). The model only words the computed stats; it never sees reviews or picks
  films. Its failures fall back to the template and are logged once (one warning, no trace).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.profile import ProfileRepository, RatedFilm, SummaryRow
from domain.ports import LanguageModel, LanguageModelError

log = structlog.get_logger(__name__)

#: Languages the bot speaks (gettext catalogs in bot/locales; English is the source), with the
#: name the language model is told to write in.
LANGUAGES: dict[str, str] = {"en": "English", "ru": "Russian", "es": "Spanish", "pt": "Portuguese"}
DEFAULT_LANGUAGE = "en"

#: Ratings are 0.5–5 stars in half steps: 10 bins, 0.5 first.
HALF_STARS: tuple[float, ...] = tuple(h / 2 for h in range(1, 11))
#: "Rated high": 4 stars or more (Letterboxd's own "liked" convention is about here).
HIGH_RATING = 4.0
#: A genre, decade or country needs this many rated films to count as a taste at all.
MIN_FILMS = 2
#: Group averages are shrunk toward the user's mean as if this many films at the mean were
#: added (a Bayesian average), so two 5★ films do not outrank thirty 4.5★ ones.
PRIOR_FILMS = 2.0
#: A favourite scores at least this many stars above the user's mean (least favourite: below).
MARGIN = 0.1
#: Favourites / least favourites shown per group, keywords shown, genres on the chart.
TOP = 3
TOP_KEYWORDS = 5
CHART_GENRES = 8
#: TMDB keywords about production rather than content, never shown as a taste.
NOISE_KEYWORDS = frozenset(
    {
        "aftercreditsstinger",
        "duringcreditsstinger",
        "woman director",
        "based on novel or book",
        "independent film",
        "sequel",
        "remake",
        "3d",
        "imax",
    }
)

#: The model rewords the summary when the user's number of rated films grew by this much since
#: the last rewording (the issue's "every 10 reviews": each /review rates a film; a rating
#: saved without a text counts, and so does an imported one, since the model words the stats of
#: the ratings).
REWRITE_EVERY = 10
#: Seconds the worker waits for the model before using the template.
LLM_TIMEOUT_S = 30.0
#: Longest model summary kept, in characters (the schema asks for ~3 sentences).
MAX_SUMMARY_CHARS = 700


@dataclass(frozen=True, slots=True)
class GroupScore:
    """A genre ("Drama"), decade ("1970") or country (ISO code "JP") of the user's rated films:
    their plain `average` rating (stars), how many `films`, and the shrunk `score` used to rank."""

    key: str
    average: float
    films: int
    score: float


@dataclass(frozen=True, slots=True)
class GroupTaste:
    """Up to TOP favourites (best first) and least favourites (worst first); disjoint."""

    favourite: tuple[GroupScore, ...] = ()
    least: tuple[GroupScore, ...] = ()


@dataclass(frozen=True, slots=True)
class TasteStats:
    """What a user's ratings say. `distribution[i]` counts ratings of HALF_STARS[i] stars;
    `average` is None without ratings; `main_genres` are the CHART_GENRES genres with the most
    rated films, best average first (the chart)."""

    rated: int
    reviews: int
    average: float | None
    distribution: tuple[int, ...]
    genres: GroupTaste
    decades: GroupTaste
    countries: GroupTaste
    keywords: tuple[str, ...]
    main_genres: tuple[GroupScore, ...]


def resolve_language(choice: str | None, language_code: str | None) -> str:
    """The language to speak: the /language choice, else Telegram's `language_code` ("pt-br" →
    "pt"), else English. Mirrors bot.middlewares.UserLocaleMiddleware."""
    if choice in LANGUAGES:
        return choice
    base = (language_code or "").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def taste_stats(films: Sequence[RatedFilm], *, reviews: int = 0) -> TasteStats:
    """Aggregate rated films (pure; linear in films × their genres/keywords)."""
    if not films:
        empty = GroupTaste()
        return TasteStats(0, reviews, None, (0,) * len(HALF_STARS), empty, empty, empty, (), ())
    mean = sum(f.rating for f in films) / len(films)
    distribution = [0] * len(HALF_STARS)
    for f in films:
        distribution[min(max(round(f.rating * 2) - 1, 0), len(HALF_STARS) - 1)] += 1
    genres = _scores(((g, f.rating) for f in films for g in set(f.genres)), mean)
    decades = _scores(((str(f.year // 10 * 10), f.rating) for f in films if f.year), mean)
    countries = _scores(((c, f.rating) for f in films for c in set(f.countries)), mean)
    main = sorted(genres, key=lambda g: (-g.films, g.key))[:CHART_GENRES]
    return TasteStats(
        rated=len(films),
        reviews=reviews,
        average=mean,
        distribution=tuple(distribution),
        genres=_taste(genres, mean),
        decades=_taste(decades, mean),
        countries=_taste(countries, mean),
        keywords=_keywords(films),
        main_genres=tuple(sorted(main, key=lambda g: (-g.average, -g.films, g.key))),
    )


def _scores(pairs: Iterable[tuple[str, float]], mean: float) -> list[GroupScore]:
    sums: dict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    for key, rating in pairs:
        sums[key] += rating
        counts[key] += 1
    return [
        GroupScore(key, sums[key] / n, n, (sums[key] + PRIOR_FILMS * mean) / (n + PRIOR_FILMS))
        for key, n in counts.items()
        if n >= MIN_FILMS
    ]


def _taste(scores: Sequence[GroupScore], mean: float) -> GroupTaste:
    best = sorted(scores, key=lambda g: (-g.score, -g.films, g.key))
    worst = sorted(scores, key=lambda g: (g.score, -g.films, g.key))
    return GroupTaste(
        favourite=tuple(g for g in best if g.score >= mean + MARGIN)[:TOP],
        least=tuple(g for g in worst if g.score <= mean - MARGIN)[:TOP],
    )


def _keywords(films: Sequence[RatedFilm]) -> tuple[str, ...]:
    """Keywords of at least two films rated HIGH_RATING or more, the most frequent first (ties:
    the larger share of that keyword's films rated high, then alphabetical)."""
    high: Counter[str] = Counter()
    everywhere: Counter[str] = Counter()
    for f in films:
        words = {k.strip().lower() for k in f.keywords} - NOISE_KEYWORDS - {""}
        everywhere.update(words)
        if f.rating >= HIGH_RATING:
            high.update(words)
    ranked = sorted(
        (k for k, n in high.items() if n >= 2), key=lambda k: (-high[k], -high[k] / everywhere[k], k)
    )
    return tuple(ranked[:TOP_KEYWORDS])


def _names(groups: Sequence[GroupScore], fmt: str = "{}") -> str:
    return ", ".join(fmt.format(g.key) for g in groups)


def template_summary(stats: TasteStats) -> str:
    """The taste summary without a language model: plain English lines (what `summary_text`
    gives when no model wrote one, and what other features put in their prompts). /profile
    renders the same stats in the user's language instead (bot/texts.py)."""
    if stats.average is None:
        return "No rated films yet."
    lines = [f"Rated {stats.rated} films (average {stats.average:.1f} of 5 stars), {stats.reviews} reviews."]
    for label, taste, fmt in (
        ("genres", stats.genres, "{}"),
        ("decades", stats.decades, "{}s"),
        ("countries", stats.countries, "{}"),
    ):
        if taste.favourite:
            lines.append(f"Favourite {label}: {_names(taste.favourite, fmt)}.")
        if taste.least:
            lines.append(f"Least favourite {label}: {_names(taste.least, fmt)}.")
    if stats.keywords:
        lines.append(f"Themes of films rated high: {', '.join(stats.keywords)}.")
    return "\n".join(lines)


def _facts(stats: TasteStats) -> str:
    """The computed stats as JSON for the model (all it knows about the user)."""

    def groups(items: Sequence[GroupScore]) -> list[dict[str, object]]:
        return [{"name": g.key, "average_stars": round(g.average, 2), "films": g.films} for g in items]

    return json.dumps(
        {
            "films_rated": stats.rated,
            "reviews": stats.reviews,
            "average_stars_of_5": round(stats.average or 0.0, 2),
            "favourite_genres": groups(stats.genres.favourite),
            "least_favourite_genres": groups(stats.genres.least),
            "favourite_decades": groups(stats.decades.favourite),
            "least_favourite_decades": groups(stats.decades.least),
            "favourite_countries_iso": groups(stats.countries.favourite),
            "least_favourite_countries_iso": groups(stats.countries.least),
            "themes_of_films_rated_high": list(stats.keywords),
        },
        ensure_ascii=False,
    )


SYSTEM_PROMPT = (
    "You write the taste portrait on a film fan's profile page in a Telegram bot. "
    "Use only the facts in the JSON you are given; do not invent films, people or numbers. "
    "Write two or three sentences in the second person, warm and concrete, as plain text "
    "(no lists, no markdown, no emoji, no recommendations). Country codes are ISO 3166-1: "
    "write the country names. Write in {language}."
)


class SummaryAnswer(BaseModel):
    """The model's answer (OpenAI structured output)."""

    summary: str = Field(description="Two or three sentences of plain text, under 500 characters.")


class TasteSummaryService:
    """Reads and refreshes the summary. `language_model` None: the template only."""

    def __init__(
        self,
        session: AsyncSession,
        language_model: LanguageModel | None = None,
        *,
        timeout_s: float = LLM_TIMEOUT_S,
    ) -> None:
        self.repo = ProfileRepository(session)
        self.language_model = language_model
        self.timeout_s = timeout_s

    async def stats(self, user_id: int) -> TasteStats:
        """Two queries: the rated films with their catalog columns, and the review count."""
        return taste_stats(
            await self.repo.rated_films(user_id), reviews=await self.repo.review_count(user_id)
        )

    async def stored(self, user_id: int) -> SummaryRow | None:
        return await self.repo.summary(user_id)

    async def summary_text(self, user_id: int) -> str | None:
        """The user's taste in a few sentences (model-worded, in the user's language, or the
        English template); None before the first refresh or without rated films."""
        row = await self.repo.summary(user_id)
        return row.text if row is not None else None

    async def refresh(self, user_id: int) -> SummaryRow | None:
        """Recompute and store the summary (the `refresh_summary` job). Returns what is stored;
        None when the user is gone (/forget) or has no rated films (any old summary is removed).

        With a model: it rewords the summary when none of its wording is stored yet, when the
        user's language changed, or when REWRITE_EVERY more films are rated than at its last
        rewording; otherwise its last wording is kept. Without a model, or when it fails, the
        template is stored. Never raises for a model failure (LanguageModelError, timeout).
        """
        languages = await self.repo.languages(user_id)
        if languages is None:
            return None
        stats = await self.stats(user_id)
        if stats.rated == 0:
            await self.repo.delete_summary(user_id)
            return None
        language = resolve_language(*languages)
        current = await self.stored(user_id)
        last_rewrite = current.rated_at_rewrite if current is not None else 0
        if self.language_model is not None:
            if current is not None and not self._due(current, stats, language):
                return current
            worded = await self._reword(user_id, stats, language)
            if worded is not None:
                return await self._save(user_id, SummaryRow(worded, "llm", language, stats.rated))
        return await self._save(
            user_id, SummaryRow(template_summary(stats), "template", DEFAULT_LANGUAGE, last_rewrite)
        )

    @staticmethod
    def _due(current: SummaryRow, stats: TasteStats, language: str) -> bool:
        return (
            current.source != "llm"
            or current.language != language
            or stats.rated - current.rated_at_rewrite >= REWRITE_EVERY
        )

    async def _reword(self, user_id: int, stats: TasteStats, language: str) -> str | None:
        assert self.language_model is not None
        model = self.language_model
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await model.structured(
                    system=SYSTEM_PROMPT.format(language=LANGUAGES[language]),
                    user=_facts(stats),
                    schema=SummaryAnswer,
                )
        except (LanguageModelError, TimeoutError) as exc:
            log.warning("taste_summary_llm_failed", user_id=user_id, model=model.model, error=repr(exc))
            return None
        text = " ".join(answer.summary.split())
        if not text or len(text) > MAX_SUMMARY_CHARS:
            log.warning("taste_summary_llm_unusable", user_id=user_id, model=model.model, chars=len(text))
            return None
        return text

    async def _save(self, user_id: int, summary: SummaryRow) -> SummaryRow:
        await self.repo.save_summary(user_id, summary)
        log.info("taste_summary_saved", user_id=user_id, source=summary.source, language=summary.language)
        return summary
