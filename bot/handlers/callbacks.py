"""Buttons under recommended films: ✅ Watched (→ review flow), ⏭ Skip and 🚫 Not interested."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot import ratings_ui, texts
from bot.filters import with_message
from bot.flows.review import start_for_film
from bot.keyboards import PickAction, PickCallback
from bot.metrics import Metrics
from db.models import User
from domain.catalog import CatalogService
from domain.entities import ItemStatus
from domain.feedback import FeedbackService
from domain.picks import Feedback
from domain.recommendations import RecommendationService
from domain.reviews import ReviewService

router = Router(name=__name__)


#: ⏭ and 🚫: the status they set and what the tap is answered with.
FEEDBACK = {
    PickAction.SKIP: (ItemStatus.SKIPPED, texts.skipped),
    PickAction.NOT_INTERESTED: (ItemStatus.NOT_INTERESTED, texts.not_interested),
}


@router.callback_query(PickCallback.filter(F.action.in_(FEEDBACK)), with_message)
async def skip_or_not_interested(
    callback: CallbackQuery,
    callback_data: PickCallback,
    message: Message,
    user: User,
    feedback: FeedbackService,
    metrics: Metrics,
) -> None:
    status, done_text = FEEDBACK[callback_data.action]
    outcome = await feedback.answer(user.id, callback_data.item_id, status)
    metrics.feedback(callback_data.action, outcome)
    await _answer(callback, message, outcome, done_text=done_text(), item_id=callback_data.item_id)


@router.callback_query(PickCallback.filter(F.action == PickAction.WATCHED), with_message)
async def watched(
    callback: CallbackQuery,
    callback_data: PickCallback,
    message: Message,
    user: User,
    state: FSMContext,
    recommendations: RecommendationService,
    feedback: FeedbackService,
    reviews: ReviewService,
    catalog: CatalogService,
    metrics: Metrics,
) -> None:
    film = await recommendations.pick_film(user.id, callback_data.item_id)
    outcome = await feedback.answer(user.id, callback_data.item_id, ItemStatus.WATCHED)
    metrics.feedback(callback_data.action, outcome if film else Feedback.NOT_FOUND)
    await _answer(
        callback,
        message,
        outcome if film else Feedback.NOT_FOUND,
        done_text=texts.marked_watched(),
        item_id=callback_data.item_id,
    )
    if film is not None and outcome is Feedback.UPDATED:
        await state.set_data({})  # a new review, whatever flow was open
        await start_for_film(message, state, film, reviews, catalog, user, item_id=callback_data.item_id)


async def _answer(
    callback: CallbackQuery, message: Message, outcome: Feedback, *, done_text: str, item_id: int
) -> None:
    """Invalid for someone else's or a deleted item; "already noted" for a second tap. An
    answer taken replaces the buttons with ↩️ Undo (bot/handlers/ratings.py, domain/feedback.py),
    on text and photo cards alike (undo brings back the buttons and the card's links)."""
    if outcome is Feedback.NOT_FOUND:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer(done_text if outcome is Feedback.UPDATED else texts.already_done())
    if outcome is Feedback.UPDATED:
        await ratings_ui.set_buttons(message, ratings_ui.undo_keyboard(item_id))
