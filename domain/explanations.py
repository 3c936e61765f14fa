"""Explanations of /recommend's picks worded by a chat model, with honest fallbacks.

The recommender chose the films and knows why (each pick's :class:`recommender.Reason` list:
the liked films behind its CF score, the liked films closest to it, shared genres and themes,
its slot). :class:`ExplanationService` asks the language model, in **one** structured-output
call for all picks, to word those reasons (and the user's taste summary) as one or two
sentences per film in the user's language. The model never chooses films.

Fallbacks: without a model, when the call fails or takes longer than the budget, the service
returns None and the bot shows its template explanations (`bot/texts.py`, built from the same
reasons). Each answer is also checked (:func:`problem`): a text for a film that is not a pick,
an empty or overlong text, a technical word or a mention of one of the user's /avoid topics
drops that film's text, and the template is shown for it. A failure is logged once (event
``explanations_failed``; the error message never holds the API key), rejected texts once per
answer (``explanations_rejected``); users never see either.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Sequence

import structlog
from pydantic import BaseModel, Field

from domain.avoid import AvoidService
from domain.entities import Slot
from domain.picks import ShownPick
from domain.ports import LanguageModel, LanguageModelError
from domain.taste import TasteSummaryService
from recommender import Reason, ReasonKind

log = structlog.get_logger(__name__)

#: Longest explanation kept, in characters (two sentences are ~250; longer is not "short").
MAX_EXPLANATION_CHARS = 400
#: Words that give the machinery away; a text containing one (as a word start, any case) is
#: dropped. English and the bot's other languages (es, pt, ru).
TECHNICAL_WORDS = (
    "cosine",
    "coseno",
    "cosseno",
    "косинус",
    "score",
    "penalt",
    "penaliz",
    "штраф",
    "vector",
    "vetor",
    "вектор",
    "embedding",
    "эмбеддинг",
    "algorithm",
    "algoritm",
    "алгоритм",
    "collaborative filtering",
    "tmdb_id",
    "mmr",
)
_TECHNICAL = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in TECHNICAL_WORDS) + r")", re.IGNORECASE)
#: Language names for the bot's locales; others are named by their code.
LANGUAGES = {"en": "English", "es": "Spanish", "pt": "Portuguese", "ru": "Russian"}

SLOT_ROLES = {
    Slot.SAFE: "the safest match for their taste",
    Slot.ADJACENT: "a good match a little outside their usual films",
    Slot.WILDCARD: "a wildcard: a less expected choice",
}

SYSTEM_PROMPT = """\
You write the short notes a film-recommendation bot shows under each film it picked for one \
user. The films are already chosen; you only explain them.

For every film in the input, write one or two sentences (at most 40 words) in {language}, \
speaking to the user as "you". Base each note only on that film's reasons and on the user's \
taste summary (the films, genres and themes named there); do not invent facts about the user \
or the film. Keep film titles as given. Plain text only: no markdown, HTML, emoji or lists.

Never use technical words such as score, cosine, vector, embedding, algorithm, penalty, \
similarity, model or ranking.{avoid}

Answer with exactly one entry per film, its tmdb_id copied from the input."""

AVOID_CLAUSE = """ The user asked to see less of these topics: never mention them, not even to \
say a film avoids them: {topics}."""


class FilmExplanation(BaseModel):
    """One film's explanation, as the model answers it."""

    tmdb_id: int = Field(description="the film's tmdb_id, copied from the input")
    text: str = Field(description="one or two sentences in the user's language")


class ExplanationsAnswer(BaseModel):
    """The structured answer: one explanation per film."""

    explanations: list[FilmExplanation]


def reason_phrase(reason: Reason) -> str:
    """One reason as plain English for the prompt (not shown to users)."""
    names = ", ".join(reason.values)
    match reason.kind:
        case ReasonKind.SIMILAR_TO:
            return f"close to films the user loved: {names}"
        case ReasonKind.FANS_ALSO_LOVED:
            return f"people who loved {names} loved it too"
        case ReasonKind.SHARED_GENRES:
            return f"the user rates these genres highly: {names}"
        case ReasonKind.SHARED_KEYWORDS:
            return f"themes the user likes: {names}"
        case ReasonKind.HIGHLY_RATED:
            return f"highly rated on TMDB ({names}/10)" if names else "highly rated on TMDB"
        case ReasonKind.POPULAR:
            return "popular and well liked right now"
        case ReasonKind.NEW_GENRE:
            return f"a step outside the user's usual genres: {names}"
        case ReasonKind.NEW_DECADE:
            return f"from a decade the user rarely watches: the {names}"
        case ReasonKind.HIDDEN_GEM:
            return "a lesser-known film"
    return names  # pragma: no cover - every kind is handled above


def language_name(code: str) -> str:
    """ "ru" → "Russian"; "pt_BR" → "Portuguese"; unknown codes are named as such."""
    base = code.replace("-", "_").split("_")[0].lower()
    return LANGUAGES.get(base, f"the language with code {code!r}")


def system_prompt(language: str, avoid_topics: Sequence[str]) -> str:
    """The system message: the rules, the answer language and the topics never to mention."""
    avoid = AVOID_CLAUSE.format(topics="; ".join(avoid_topics)) if avoid_topics else ""
    return SYSTEM_PROMPT.format(language=language_name(language), avoid=avoid)


def user_prompt(picks: Sequence[ShownPick], taste_summary: str | None) -> str:
    """The user message: a JSON document with the taste summary and, per film, its tmdb_id,
    title, year, genres, role (slot) and reasons in plain English."""
    films = [
        {
            "tmdb_id": pick.film.tmdb_id,
            "title": pick.film.title,
            "year": pick.film.year,
            "genres": list(pick.film.genres[:3]),
            "role": SLOT_ROLES[pick.slot],
            "reasons": [reason_phrase(r) for r in pick.reasons],
        }
        for pick in picks
    ]
    document = {"taste_summary": taste_summary or "(none yet)", "films": films}
    return "Explain these picks.\n" + json.dumps(document, ensure_ascii=False, indent=1)


def problem(text: str, avoid_topics: Sequence[str]) -> str | None:
    """Why an explanation must not be shown, or None: "empty", "too_long", "technical" (a
    TECHNICAL_WORDS word) or "avoid_topic" (every word of one of the user's topics starts a
    word of the text, any case, so "slow romance" catches "a slow, tender romance")."""
    if not text:
        return "empty"
    if len(text) > MAX_EXPLANATION_CHARS:
        return "too_long"
    if _TECHNICAL.search(text):
        return "technical"
    for topic in avoid_topics:
        words = topic.split()
        if words and all(re.search(r"\b" + re.escape(w), text, re.IGNORECASE) for w in words):
            return "avoid_topic"
    return None


class ExplanationService:
    """Explanations of picks by `model` (None: always the templates), within `budget_seconds`.

    `avoid` reads the user's /avoid topics, which the prompt forbids and the check enforces;
    `summaries` reads the user's taste summary when the caller passes none.
    """

    def __init__(
        self,
        model: LanguageModel | None,
        avoid: AvoidService,
        *,
        budget_seconds: float,
        summaries: TasteSummaryService | None = None,
    ) -> None:
        self.model = model
        self.avoid = avoid
        self.budget_seconds = budget_seconds
        self.summaries = summaries

    async def explain(
        self,
        user_id: int,
        picks: Sequence[ShownPick],
        *,
        language: str,
        taste_summary: str | None = None,
    ) -> dict[int, str] | None:
        """tmdb_id → explanation (plain text, whitespace collapsed) for the picks whose text
        passed the checks; None without a model or picks, or when the call failed or ran over
        the budget (the caller then shows every template). Never raises LanguageModelError.
        `language` is the user's locale code ("en", "ru", …); `taste_summary` None: the stored
        one (`summaries`), if any."""
        if self.model is None or not picks:
            return None
        topics = [t.topic for t in await self.avoid.list(user_id)]
        if taste_summary is None and self.summaries is not None:
            taste_summary = await self.summaries.summary_text(user_id)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.budget_seconds):
                answer = await self.model.structured(
                    system=system_prompt(language, topics),
                    user=user_prompt(picks, taste_summary),
                    schema=ExplanationsAnswer,
                )
        except (TimeoutError, LanguageModelError) as exc:
            log.warning(
                "explanations_failed",
                user_id=user_id,
                model=self.model.model,
                error="over budget" if isinstance(exc, TimeoutError) else str(exc),
                budget_s=self.budget_seconds,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return None
        texts, rejected = checked(answer, picks, topics)
        missing = {p.film.tmdb_id for p in picks} - texts.keys() - rejected.keys()
        if rejected or missing:
            log.warning(
                "explanations_rejected",
                user_id=user_id,
                model=self.model.model,
                rejected=dict(sorted(rejected.items())),
                missing=sorted(missing),
            )
        log.info(
            "explanations_worded",
            user_id=user_id,
            model=self.model.model,
            worded=sorted(texts),
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return texts


def checked(
    answer: ExplanationsAnswer, picks: Sequence[ShownPick], avoid_topics: Sequence[str]
) -> tuple[dict[int, str], dict[int, str]]:
    """Split the answer: (tmdb_id → text that may be shown, tmdb_id → why a text was not).
    Shown: for picks only, the first acceptable text per film, whitespace collapsed, without
    a `problem`; rejected reasons are "not_a_pick" or a `problem`."""
    wanted = {pick.film.tmdb_id for pick in picks}
    texts: dict[int, str] = {}
    rejected: dict[int, str] = {}
    for item in answer.explanations:
        text = " ".join(item.text.split())
        why = "not_a_pick" if item.tmdb_id not in wanted else problem(text, avoid_topics)
        if why is not None:
            rejected.setdefault(item.tmdb_id, why)
        elif item.tmdb_id not in texts:
            texts[item.tmdb_id] = text
    return texts, rejected
