"""Clarifying questions: when the signal behind /recommend is weak, ask one short question
first (mood, length, new or old, or a genre) and fold the answer into that answer only.

- Whether to ask, and what, is :func:`decide`: a pure function of :class:`SignalStrength`,
  which :func:`measure` reads off a ranking, with the thresholds documented below.
- The question's options are codes (:data:`MOODS`, :data:`LENGTHS`, :data:`ERAS`) or, for a
  genre question, catalog genre names; the bot words them (`bot/texts.py`, `bot/keyboards.py`).
- :func:`preferences_for` turns the chosen option into
  :class:`domain.preferences.Preferences` (mood → genres, length → runtime bounds, new or
  old → year bounds, genre → that genre), which `RecommendationService.recommend` applies.

No language model takes part: the code decides to ask and the templates word the question.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import structlog

from domain.picks import Ranking, RecommendationResult
from domain.preferences import Preferences
from domain.recommendations import RecommendationService
from recommender.scoring import W_CONTENT
from recommender.taste import COLD_START_MIN_FILMS

log = structlog.get_logger(__name__)


class QuestionKind(StrEnum):
    """What the question asks about."""

    MOOD = "mood"  # options: MOODS codes
    LENGTH = "length"  # options: LENGTHS codes
    ERA = "era"  # options: ERAS codes
    GENRE = "genre"  # options: catalog genre names


#: Mood → the TMDB genres it stands for (TMDB's genre names:
#: https://developer.themoviedb.org/reference/genre-movie-list).
MOODS: dict[str, tuple[str, ...]] = {
    "light": ("Comedy", "Animation", "Family"),
    "thrilling": ("Action", "Thriller", "Adventure"),
    "moving": ("Drama", "Romance"),
    "dark": ("Horror", "Crime", "Mystery"),
    "mind": ("Science Fiction", "Fantasy"),
}
#: Runtime bounds in minutes. In TMDB 5000 (4,764 films with a runtime) the median is 104 min,
#: 43% run ≤ 100 min and 12% ≥ 130 min: "short" and "long" are each a real share of a catalog.
SHORT_MAX_MINUTES = 100
LONG_MIN_MINUTES = 130
#: Length → (min_runtime, max_runtime) in minutes, None = unbounded.
LENGTHS: dict[str, tuple[int | None, int | None]] = {
    "short": (None, SHORT_MAX_MINUTES),
    "long": (LONG_MIN_MINUTES, None),
}
#: "new": released in the last NEW_YEARS years (this year counted); "old": before OLD_BEFORE.
#: In TMDB 5000, 11% of the films are from before 1990.
NEW_YEARS = 10
OLD_BEFORE = 1990
ERAS = ("new", "old")
#: Catalog genres offered by a genre question (the most common ones).
GENRE_OPTIONS = 6

# --- when to ask -------------------------------------------------------------------------------
#: Fewer rated-or-liked films than this is a weak signal: below it the taste profile is too thin
#: for seeds and keywords (recommender.taste.COLD_START_MIN_FILMS).
MIN_RATED = COLD_START_MIN_FILMS
#: The best candidates whose fit is measured (the three picks come from the top of the ranking).
FIT_TOP = 3
#: Mean personal fit (CF + taste-vector components of the score) of the FIT_TOP best candidates
#: below which the signal is weak. The CF component is normalised to ≤ 1 (W_CF = 1) and the
#: taste-vector one is W_CONTENT·cosine, so the threshold means: no CF signal and a cosine to
#: the taste vector under LOW_FIT_COSINE, loosely related for all-MiniLM-L6-v2 (typical range
#: 0.1–0.7).
LOW_FIT_COSINE = 0.4
LOW_FIT = LOW_FIT_COSINE * W_CONTENT
#: A question narrows the candidates; with fewer than this there is nothing to narrow.
MIN_CANDIDATES = 10
#: A user who watches at least this many "usual" decades is asked new or old rather than length.
ERA_MIN_DECADES = 2


@dataclass(frozen=True, slots=True)
class SignalStrength:
    """How much a ranking knows about the user.

    - `rated`: rated-or-liked films in the taste profile (`TasteProfile.n_rated`);
    - `fit`: mean personal fit of the FIT_TOP best candidates (see LOW_FIT), 0 when none;
    - `personal`: any candidate carries a CF or taste-vector signal (else the picks are the
      cold-start ones: popular films, and the bot already says how to make them personal);
    - `top_genres`: genres with a positive affinity; `usual_decades`: decades watched most;
    - `candidates`: films ranked.
    """

    rated: int
    fit: float
    personal: bool
    top_genres: int
    usual_decades: int
    candidates: int


def measure(ranking: Ranking) -> SignalStrength:
    """The signal strength of a ranking (see SignalStrength)."""
    best = ranking.scored[:FIT_TOP]
    fits = [s.components.get("cf", 0.0) + s.components.get("content", 0.0) for s in best]
    return SignalStrength(
        rated=ranking.taste.n_rated,
        fit=sum(fits) / len(fits) if fits else 0.0,
        personal=ranking.personal,
        top_genres=len(ranking.taste.top_genres),
        usual_decades=len(ranking.taste.usual_decades),
        candidates=len(ranking.scored),
    )


def decide(signal: SignalStrength) -> QuestionKind | None:
    """Whether to ask before recommending, and what (None: recommend at once).

    1. No question without a personal signal (cold start: the picks are popular films and the
       bot says how to make them personal) or with fewer than MIN_CANDIDATES candidates.
    2. No question when the signal is strong: at least MIN_RATED rated-or-liked films and a
       fit of at least LOW_FIT.
    3. Weak: no genre with a positive affinity → GENRE (we don't know what they like);
       fewer than MIN_RATED films → MOOD (a broad steer among what they like);
       enough films but a low fit, spread over ERA_MIN_DECADES+ usual decades → ERA;
       otherwise → LENGTH.
    """
    if not signal.personal or signal.candidates < MIN_CANDIDATES:
        return None
    if signal.rated >= MIN_RATED and signal.fit >= LOW_FIT:
        return None
    if signal.top_genres == 0:
        return QuestionKind.GENRE
    if signal.rated < MIN_RATED:
        return QuestionKind.MOOD
    if signal.usual_decades >= ERA_MIN_DECADES:
        return QuestionKind.ERA
    return QuestionKind.LENGTH


@dataclass(frozen=True, slots=True)
class Question:
    """A question to show: its kind and the options offered, in button order (codes of
    MOODS / LENGTHS / ERAS, or genre names for GENRE)."""

    kind: QuestionKind
    options: tuple[str, ...]


def make_question(kind: QuestionKind, genres: Sequence[str] = ()) -> Question:
    """The question of `kind`; a GENRE question offers the first GENRE_OPTIONS of `genres`
    (and becomes a MOOD question when there are none)."""
    match kind:
        case QuestionKind.MOOD:
            return Question(kind, tuple(MOODS))
        case QuestionKind.LENGTH:
            return Question(kind, tuple(LENGTHS))
        case QuestionKind.ERA:
            return Question(kind, ERAS)
        case QuestionKind.GENRE:
            if not genres:
                return make_question(QuestionKind.MOOD)
            return Question(kind, tuple(genres[:GENRE_OPTIONS]))


def preferences_for(question: Question, index: int, *, year: int) -> Preferences | None:
    """The preferences option `index` of `question` stands for; None when `index` is not one
    of its options (a forged or stale button). `year` is the current year (for "new")."""
    if not 0 <= index < len(question.options):
        return None
    option = question.options[index]
    match question.kind:
        case QuestionKind.MOOD:
            return Preferences(genres=MOODS[option]) if option in MOODS else None
        case QuestionKind.LENGTH:
            if option not in LENGTHS:
                return None
            low, high = LENGTHS[option]
            return Preferences(min_runtime=low, max_runtime=high)
        case QuestionKind.ERA:
            if option == "new":
                return Preferences(min_year=year - NEW_YEARS + 1)
            return Preferences(max_year=OLD_BEFORE - 1) if option == "old" else None
        case QuestionKind.GENRE:
            return Preferences(genres=(option,))


class ClarifyService:
    """/recommend with an optional clarifying question in front (`today` gives the date the
    "new" era counts back from)."""

    def __init__(
        self, recommendations: RecommendationService, *, today: Callable[[], dt.date] = dt.date.today
    ) -> None:
        self.recommendations = recommendations
        self.today = today

    async def recommend_or_ask(self, user_id: int, *, ask: bool = True) -> Question | RecommendationResult:
        """A question when `ask` and `decide` says so (nothing is stored then), else the picks,
        ranked once. TMDB's calls share the update's time budget (past it the catalog answers;
        see `domain.recommendations`). Raises MovieSourceError like
        `RecommendationService.recommend`."""
        ranking = await self.recommendations.rank(user_id)
        signal = measure(ranking)
        kind = decide(signal) if ask else None
        if kind is None:
            return await self.recommendations.recommend(user_id, ranking=ranking)
        genres: list[str] = []
        if kind is QuestionKind.GENRE:  # never offer a genre the user excluded in /settings
            excluded = (await self.recommendations.user_settings.get(user_id)).excluded_genres
            offered = await self.recommendations.catalog.top_genres(GENRE_OPTIONS + len(excluded))
            genres = [g for g in offered if g not in excluded]
        question = make_question(kind, genres)
        log.info(
            "clarify_asked",
            user_id=user_id,
            kind=question.kind.value,
            rated=signal.rated,
            fit=round(signal.fit, 3),
            candidates=signal.candidates,
        )
        return question

    async def answer(
        self, user_id: int, question: Question, index: int | None
    ) -> RecommendationResult | None:
        """The picks with option `index` of `question` folded in (None: "just recommend");
        None when `index` is not an option. Raises MovieSourceError like `recommend`."""
        preferences = None
        if index is not None:
            preferences = preferences_for(question, index, year=self.today().year)
            if preferences is None:
                return None
        log.info(
            "clarify_answered",
            user_id=user_id,
            kind=question.kind.value,
            option=None if index is None else question.options[index],
        )
        return await self.recommendations.recommend(user_id, preferences=preferences)
