"""Cold-start onboarding: a new user's /recommend first shows popular films to tap ("I liked
it") and genres to toggle, then 🎬 Show picks recommends with the chosen genres.

Each like is saved at once (by the service); the FSM data only remembers what the keyboard
shows, so it can be re-rendered with ✓ marks: the offered films `[tmdb_id, label]`, the
offered genres, the liked ids, the selected genres, and the id of the onboarding message
(taps on any other message, e.g. an older grid, are stale). The handlers are in
`bot/handlers/onboarding.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup, Message

from bot import cards as bot_cards
from bot import keyboards, texts
from bot.cards import CardStyle
from bot.user_settings_ui import loosen_hint
from domain.explanations import ExplanationService
from domain.onboarding import OnboardingService
from domain.picks import RecommendationResult

#: Popular films and genres offered on the grid.
FILMS, GENRES = 8, 9


class OnboardingFlow(StatesGroup):
    choosing = State()  # the grid is shown: films and genres toggle, 🎬 leaves


async def start_onboarding(
    message: Message, state: FSMContext, user_id: int, onboarding: OnboardingService
) -> bool:
    """Show the grid and enter the flow; False (nothing shown) when there is nothing to offer."""
    films = await onboarding.grid_films(user_id, limit=FILMS)
    genres = await onboarding.grid_genres(limit=GENRES)
    if not films and not genres:
        return False
    data: dict[str, Any] = {
        "films": [[f.tmdb_id, f.label] for f in films],
        "genres": genres,
        "liked": [],
        "selected": [],
    }
    sent = await message.answer(texts.onboarding_intro(), reply_markup=grid(data))
    await state.set_state(OnboardingFlow.choosing)
    await state.set_data({**data, "message_id": sent.message_id})
    return True


def grid(data: dict[str, Any]) -> InlineKeyboardMarkup:
    """The onboarding keyboard for the FSM data as stored."""
    return keyboards.onboarding_keyboard(
        [(tmdb_id, label) for tmdb_id, label in data["films"]],
        data["genres"],
        liked=set(data["liked"]),
        selected=set(data["selected"]),
    )


async def send_explained_picks(
    message: Message,
    result: RecommendationResult,
    user_id: int,
    explanations: ExplanationService,
    locale: str,
    *,
    cards: CardStyle | None = None,
) -> None:
    """The cards, each explained by the language model when it answered in time, else by the
    template built from the same reasons (/recommend, the clarifying answer, the end of
    onboarding). `cards`: see `send_picks`."""
    worded = await explanations.explain(user_id, result.picks, language=locale)
    await send_picks(message, result, worded, cards=cards, user_id=user_id)


async def send_picks(
    message: Message,
    result: RecommendationResult,
    explanations: Mapping[int, str] | None = None,
    *,
    cards: CardStyle | None = None,
    user_id: int | None = None,
) -> None:
    """The three cards, as /recommend and the end of onboarding show them. `explanations`
    (tmdb_id → text worded by the language model) replace the template reasons of those films.
    With `cards` (the `cards` service) films with a poster are photo cards (bot/cards.py);
    without, every card is text. Each card has the link row (Letterboxd, TMDB, …); with TMDB
    a 📺 button, and with `user_id` the "📺 On Netflix for you" note (CardStyle.notes)."""
    if result.cold_start:  # "I don't know your taste" only to someone with no history at all
        hint = texts.early_taste_hint(result.history_size) if result.history_size else texts.cold_start_hint()
        await message.answer(hint)
    if result.loosen is not None:  # the user's /settings leave too few films: say which to loosen
        await message.answer(loosen_hint(result.loosen))
    elif not result.picks:
        await message.answer(texts.no_picks())
    notes = await cards.notes(user_id, [p.film.tmdb_id for p in result.picks]) if cards is not None else {}
    for pick in result.picks:
        explanation = (explanations or {}).get(pick.film.tmdb_id)
        markup = keyboards.pick_keyboard(
            pick.item_id,
            None if result.from_watchlist else pick.film.tmdb_id,
            bot_cards.link_row(pick.film),
            online=cards is not None and cards.online,
        )
        await bot_cards.send_card(
            message,
            pick,
            markup,
            cards,
            explanation=explanation,
            text_card=texts.pick_card_explained(pick, explanation),
            note=notes.get(pick.film.tmdb_id),
        )
