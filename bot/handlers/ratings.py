"""Your ratings: /ratings (the rated films, 10 a page, newest or best first, each with ✏️ to
change the rating and 🗑 to delete it after Yes / Keep; the list message is edited in place)
and ↩️ Undo under a pick card answered ✅ / ⏭ / 🚫 (bot/handlers/callbacks.py puts it there).

Every handler acts on the tapping user's own films and picks (`user`, from UserMiddleware),
never on an owner taken from button data: an id of a film they have not rated, or of someone
else's pick, changes nothing and gets "This button is no longer valid.". Buttons are honoured
only in the tapper's own private chat with the bot (where Telegram shows them to no one else).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot import cards, keyboards, ratings_ui, texts
from bot.filters import with_message
from bot.flows.review import DRAFT, ReviewFlow
from bot.ratings_ui import (
    DeleteAnswer,
    RatingsDelete,
    RatingsDeleteConfirm,
    RatingsEdit,
    RatingsSet,
    RatingsView,
    UndoFeedback,
)
from db.models import User
from domain.catalog import CatalogService
from domain.entities import ItemStatus
from domain.feedback import FeedbackService, UndoOutcome
from domain.ratings import RatingsPage, RatingsService
from domain.reviews import ReviewDraft

router = Router(name=__name__)


def in_own_chat(callback: CallbackQuery) -> bool:
    """A button under a message of the tapper's own private chat (its chat id is their id)."""
    return callback.message is not None and callback.message.chat.id == callback.from_user.id


router.callback_query.filter(in_own_chat)


async def _show(message: Message, view: RatingsPage) -> None:
    await ratings_ui.edit(message, ratings_ui.page_text(view), ratings_ui.page_keyboard(view))


@router.message(Command("ratings"))
async def ratings_command(message: Message, user: User, ratings: RatingsService) -> None:
    view = await ratings.page(user.id)
    await message.answer(ratings_ui.page_text(view), reply_markup=ratings_ui.page_keyboard(view))


@router.callback_query(RatingsView.filter(), with_message)
async def ratings_page(
    callback: CallbackQuery, callback_data: RatingsView, message: Message, user: User, ratings: RatingsService
) -> None:
    view = await ratings.page(user.id, callback_data.page, callback_data.order)
    await callback.answer()
    await _show(message, view)


@router.callback_query(RatingsEdit.filter(), with_message)
async def ask_new_rating(
    callback: CallbackQuery, callback_data: RatingsEdit, message: Message, user: User, ratings: RatingsService
) -> None:
    film = await ratings.film(user.id, callback_data.tmdb_id)
    if film is None:  # deleted since, or not theirs
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer()
    await ratings_ui.edit(
        message,
        ratings_ui.change_prompt(film),
        ratings_ui.change_keyboard(film, callback_data.page, callback_data.order),
    )


@router.callback_query(RatingsSet.filter(), with_message)
async def new_rating(
    callback: CallbackQuery, callback_data: RatingsSet, message: Message, user: User, ratings: RatingsService
) -> None:
    film = await ratings.change(user.id, callback_data.tmdb_id, Decimal(callback_data.halves) / 2)
    if film is None:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer(ratings_ui.rating_changed(film))
    await _show(message, await ratings.page(user.id, callback_data.page, callback_data.order))


@router.callback_query(RatingsDelete.filter(), with_message)
async def ask_delete(
    callback: CallbackQuery,
    callback_data: RatingsDelete,
    message: Message,
    user: User,
    ratings: RatingsService,
) -> None:
    film = await ratings.film(user.id, callback_data.tmdb_id)
    if film is None:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer()
    await ratings_ui.edit(
        message,
        ratings_ui.delete_confirm(film),
        ratings_ui.delete_keyboard(film, callback_data.page, callback_data.order),
    )


@router.callback_query(RatingsDeleteConfirm.filter(), with_message)
async def delete_answered(
    callback: CallbackQuery,
    callback_data: RatingsDeleteConfirm,
    message: Message,
    user: User,
    ratings: RatingsService,
) -> None:
    if callback_data.answer is DeleteAnswer.YES:
        if not await ratings.delete(user.id, callback_data.tmdb_id):  # deleted before, or not theirs
            await callback.answer(texts.button_invalid(), show_alert=True)
            return
        await callback.answer(ratings_ui.deleted())
    else:
        await callback.answer(ratings_ui.kept())
    await _show(message, await ratings.page(user.id, callback_data.page, callback_data.order))


# --- ↩️ Undo ------------------------------------------------------------------------------------
@router.callback_query(UndoFeedback.filter(), with_message)
async def undo(
    callback: CallbackQuery,
    callback_data: UndoFeedback,
    message: Message,
    user: User,
    state: FSMContext,
    feedback: FeedbackService,
    catalog: CatalogService,
) -> None:
    """Take back a ✅ / ⏭ / 🚫 (domain.feedback): the pick's buttons come back with the card's
    links (bot/cards.py), on a text or photo card; too late, only the links stay. Undoing ✅ also
    leaves the review it started, if that review flow is still open."""
    result = await feedback.undo(user.id, callback_data.item_id, dt.datetime.now(dt.UTC))
    if result.outcome is UndoOutcome.NOT_FOUND:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    if result.outcome is UndoOutcome.TOO_LATE:
        await callback.answer(ratings_ui.undo_too_late(), show_alert=True)
        await ratings_ui.set_buttons(message, await _links(catalog, result.tmdb_id))
        return
    answer = ratings_ui.undone()
    if result.status is ItemStatus.WATCHED:
        answer = await _leave_review(state, callback_data.item_id) or answer
    await callback.answer(answer)
    links = await _links(catalog, result.tmdb_id)
    restored = keyboards.pick_keyboard(callback_data.item_id, result.tmdb_id, online=catalog.online)
    await ratings_ui.set_buttons(message, cards.keep_links(restored, links))


async def _links(catalog: CatalogService, tmdb_id: int | None) -> InlineKeyboardMarkup | None:
    """The link row of a card's film (bot/cards.py), from the catalog; None without the film."""
    film = (await catalog.known([tmdb_id])).get(tmdb_id) if tmdb_id is not None else None
    return InlineKeyboardMarkup(inline_keyboard=[cards.link_row(film)]) if film is not None else None


async def _leave_review(state: FSMContext, item_id: int) -> str | None:
    """Leave the review flow ✅ started for this pick, if it is still open; what to tell the
    user (None: no such flow). A rating already saved from it stays."""
    if await state.get_state() not in ReviewFlow.__all_states_names__:
        return None
    draft = ReviewDraft.from_json((await state.get_data()).get(DRAFT) or {})
    if draft.item_id != item_id:
        return None
    await state.clear()
    return ratings_ui.undone_rating_kept() if draft.review_id is not None else ratings_ui.undone_review_left()
