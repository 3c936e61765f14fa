"""Taps on the cold-start grid (see `bot/flows/onboarding.py`): a film is liked at once, a
genre toggles, 🎬 Show picks recommends with the selected genres and leaves the flow.

Only the grid of the current onboarding counts: outside the flow the taps reach the
catch-all ("no longer valid"), and inside it a tap on another message is answered the same.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot import texts
from bot.cards import CardStyle
from bot.filters import with_message
from bot.flows.onboarding import OnboardingFlow, grid, send_explained_picks
from bot.keyboards import OnboardDone, OnboardFilm, OnboardGenre, remove_keyboard
from bot.metrics import Metrics
from db.models import User
from domain.explanations import ExplanationService
from domain.onboarding import OnboardingService
from domain.recommendations import RecommendationService

router = Router(name=__name__)


@router.callback_query(OnboardingFlow.choosing, OnboardFilm.filter(), with_message)
async def film_tapped(
    callback: CallbackQuery,
    callback_data: OnboardFilm,
    message: Message,
    user: User,
    state: FSMContext,
    onboarding: OnboardingService,
) -> None:
    data = await _grid_data(callback, message, state)
    if data is None:
        return
    tmdb_id = callback_data.tmdb_id
    if tmdb_id in data["liked"]:
        await callback.answer(texts.already_done())
        return
    offered = {film_id for film_id, _label in data["films"]}
    film = await onboarding.like(user.id, tmdb_id) if tmdb_id in offered else None
    if film is None:  # forged, or gone from the catalog
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    data["liked"] = [*data["liked"], tmdb_id]
    await state.update_data(liked=data["liked"])
    await callback.answer(texts.onboarding_liked(film))
    await message.edit_reply_markup(reply_markup=grid(data))


@router.callback_query(OnboardingFlow.choosing, OnboardGenre.filter(), with_message)
async def genre_tapped(
    callback: CallbackQuery, callback_data: OnboardGenre, message: Message, state: FSMContext
) -> None:
    data = await _grid_data(callback, message, state)
    if data is None:
        return
    if not 0 <= callback_data.index < len(data["genres"]):
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    genre: str = data["genres"][callback_data.index]
    selected: list[str] = data["selected"]
    data["selected"] = [g for g in selected if g != genre] if genre in selected else [*selected, genre]
    await state.update_data(selected=data["selected"])
    await callback.answer()
    await message.edit_reply_markup(reply_markup=grid(data))


@router.callback_query(OnboardingFlow.choosing, OnboardDone.filter(), with_message)
async def show_picks(
    callback: CallbackQuery,
    message: Message,
    user: User,
    state: FSMContext,
    recommendations: RecommendationService,
    explanations: ExplanationService,
    cards: CardStyle,
    i18n: I18n,
    metrics: Metrics,
) -> None:
    data = await _grid_data(callback, message, state)
    if data is None:
        return
    # recommend first: if TMDB fails, the grid and the flow stay for another tap
    result = await recommendations.recommend(user.id, genres=data["selected"])
    await state.clear()
    await callback.answer()
    await remove_keyboard(message)
    await send_explained_picks(message, result, user.id, explanations, i18n.current_locale, cards=cards)
    metrics.served(result.picks)


@router.message(OnboardingFlow.choosing, F.text)
async def text_in_onboarding(message: Message) -> None:
    """Text while the grid is shown (commands leave the flow first; a document, e.g. a
    Letterboxd export, is left to whichever handler takes it)."""
    await message.answer(texts.onboarding_use_buttons())


async def _grid_data(callback: CallbackQuery, message: Message, state: FSMContext) -> dict[str, Any] | None:
    """The flow's data if the tap came from the current grid; else answer "no longer valid"."""
    data = await state.get_data()
    if data.get("message_id") != message.message_id:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return None
    return data
