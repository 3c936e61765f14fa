"""The /review flow: title → (pick a candidate) → rating → review text → (more parts) → done.

Long reviews: Telegram splits texts over 4096 characters into several messages. The review
is saved as soon as its first part arrives; every further text message while the flow is
in `more` is appended to the same review, until the user taps ✅ Done or sends a command.
Nothing is ever held only in memory.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.filters import with_message
from bot.keyboards import FilmChoice, FlowAction, FlowCallback, RatingChoice
from db.models import User
from domain.catalog import CatalogService
from domain.entities import FilmInfo
from domain.errors import ReviewTooLongError
from domain.parsing import RatingError, parse_title_query, split_rating
from domain.reviews import ReviewService

router = Router(name=__name__)


class ReviewFlow(StatesGroup):
    title = State()  # waiting for a title
    choosing = State()  # candidates shown as buttons
    rating = State()  # film known, waiting for a rating (buttons or typed before the text)
    text = State()  # rating known, waiting for the review text
    more = State()  # review saved; further parts are appended


async def start_for_film(
    message: Message, state: FSMContext, film: FilmInfo, *, item_id: int | None = None
) -> None:
    """Enter the flow with the film already chosen (used by ✅ Watched on a pick)."""
    await state.set_state(ReviewFlow.rating)
    await state.set_data({"tmdb_id": film.tmdb_id, "item_id": item_id})
    await message.answer(texts.ask_rating(film), reply_markup=keyboards.rating_keyboard())


@router.message(Command("review"))
async def review_command(
    message: Message, command: CommandObject, state: FSMContext, catalog: CatalogService
) -> None:
    await state.set_state(ReviewFlow.title)
    if command.args:
        await _search(message, command.args, state, catalog)
    else:
        await message.answer(texts.ask_title())


@router.message(ReviewFlow.title, F.text)
@router.message(ReviewFlow.choosing, F.text)
async def title_sent(message: Message, state: FSMContext, catalog: CatalogService) -> None:
    assert message.text is not None
    await _search(message, message.text, state, catalog)


async def _search(message: Message, text: str, state: FSMContext, catalog: CatalogService) -> None:
    query = parse_title_query(text[:200], current_year=dt.date.today().year)
    if query is None:
        await message.answer(texts.ask_title())
        return
    outcome = await catalog.search(query)
    if outcome.chosen is not None:
        film_id = outcome.chosen.tmdb_id  # search results lack runtime: fetch the full record now
        await start_for_film(message, state, (await catalog.get([film_id])).get(film_id, outcome.chosen))
    elif outcome.options:
        await state.set_state(ReviewFlow.choosing)
        await state.set_data({"options": [f.tmdb_id for f in outcome.options]})
        await message.answer(
            texts.choose_film(), reply_markup=keyboards.film_choices_keyboard(outcome.options)
        )
    else:
        await state.set_state(ReviewFlow.title)
        await message.answer(texts.not_found(query.raw))


@router.callback_query(ReviewFlow.choosing, FilmChoice.filter(), with_message)
async def film_chosen(
    callback: CallbackQuery,
    callback_data: FilmChoice,
    message: Message,
    state: FSMContext,
    catalog: CatalogService,
) -> None:
    offered = (await state.get_data()).get("options", ())
    film = (await catalog.get([callback_data.tmdb_id])).get(callback_data.tmdb_id)
    if callback_data.tmdb_id not in offered or film is None:  # forged, or from an older search
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await _take_buttons(callback, message)
    await start_for_film(message, state, film)


@router.message(ReviewFlow.rating, F.text)
async def rating_or_review_sent(
    message: Message, state: FSMContext, user: User, reviews: ReviewService, catalog: CatalogService
) -> None:
    assert message.text is not None
    data = await state.get_data()
    try:
        rated = split_rating(message.text)
    except RatingError as exc:
        await message.answer(texts.bad_rating(exc.value), reply_markup=keyboards.rating_keyboard())
        return
    if rated.rating is None:  # a review without a rating: keep it, ask for the rating alone
        await state.update_data(draft=_join(data.get("draft"), rated.text))
        await message.answer(texts.ask_rating_alone(), reply_markup=keyboards.rating_keyboard())
    elif rated.text:
        await _save(
            message, state, user, reviews, catalog, rated.rating, _join(data.get("draft"), rated.text)
        )
    else:
        await _rating_known(message, state, rated.rating)


@router.callback_query(ReviewFlow.rating, RatingChoice.filter(F.halves.in_(range(1, 11))), with_message)
@router.callback_query(ReviewFlow.text, RatingChoice.filter(F.halves.in_(range(1, 11))), with_message)
async def rating_tapped(
    callback: CallbackQuery,
    callback_data: RatingChoice,
    message: Message,
    state: FSMContext,
    user: User,
    reviews: ReviewService,
    catalog: CatalogService,
) -> None:
    await _take_buttons(callback, message)
    rating = Decimal(callback_data.halves) / 2
    draft = (await state.get_data()).get("draft")
    if draft:
        await _save(message, state, user, reviews, catalog, rating, draft)
    else:
        await _rating_known(message, state, rating)


async def _rating_known(message: Message, state: FSMContext, rating: Decimal) -> None:
    await state.set_state(ReviewFlow.text)
    await state.update_data(rating=str(rating))
    await message.answer(
        texts.ask_review_text(keyboards.stars(int(rating * 2))), reply_markup=keyboards.review_text_keyboard()
    )


@router.message(ReviewFlow.text, F.text)
async def review_text_sent(
    message: Message, state: FSMContext, user: User, reviews: ReviewService, catalog: CatalogService
) -> None:
    assert message.text is not None
    data = await state.get_data()
    await _save(message, state, user, reviews, catalog, Decimal(data["rating"]), message.text)


@router.callback_query(ReviewFlow.text, FlowCallback.filter(F.action == FlowAction.NO_TEXT), with_message)
async def save_without_text(
    callback: CallbackQuery,
    message: Message,
    state: FSMContext,
    user: User,
    reviews: ReviewService,
    catalog: CatalogService,
) -> None:
    await _take_buttons(callback, message)
    await _save(message, state, user, reviews, catalog, Decimal((await state.get_data())["rating"]), "")


async def _save(
    message: Message,
    state: FSMContext,
    user: User,
    reviews: ReviewService,
    catalog: CatalogService,
    rating: Decimal,
    text: str,
) -> None:
    data = await state.get_data()
    tmdb_id: int = data["tmdb_id"]
    try:
        saved = await reviews.save(user.id, tmdb_id, rating, text, recommendation_item_id=data.get("item_id"))
    except ReviewTooLongError as exc:
        await message.answer(texts.review_too_long(exc.max_chars))
        return
    film = (await catalog.known([tmdb_id]))[tmdb_id]  # already stored: no TMDB call after saving
    stars = keyboards.stars(int(rating * 2))
    if not text.strip():
        await state.clear()
        await message.answer(texts.rating_saved(film, stars))
        return
    await state.set_state(ReviewFlow.more)
    await state.set_data({"review_id": saved.review_id})
    await message.answer(
        texts.review_saved(film, stars, saved.created), reply_markup=keyboards.done_keyboard()
    )


@router.message(ReviewFlow.more, F.text)
async def more_text_sent(message: Message, state: FSMContext, user: User, reviews: ReviewService) -> None:
    assert message.text is not None
    review_id: int = (await state.get_data())["review_id"]
    try:
        length = await reviews.append(user.id, review_id, message.text)
    except ReviewTooLongError as exc:
        await message.answer(texts.review_too_long(exc.max_chars), reply_markup=keyboards.done_keyboard())
        return
    await message.answer(texts.review_appended(length), reply_markup=keyboards.done_keyboard())


@router.callback_query(ReviewFlow.more, FlowCallback.filter(F.action == FlowAction.DONE), with_message)
async def done(callback: CallbackQuery, message: Message, state: FSMContext) -> None:
    await state.clear()
    await _take_buttons(callback, message)
    await message.answer(texts.review_done())


@router.callback_query(
    StateFilter(ReviewFlow.title, ReviewFlow.choosing, ReviewFlow.rating, ReviewFlow.text),
    FlowCallback.filter(F.action == FlowAction.CANCEL),
    with_message,
)
async def cancel_button(callback: CallbackQuery, message: Message, state: FSMContext) -> None:
    await state.clear()
    await _take_buttons(callback, message)
    await message.answer(texts.cancelled())


@router.message(ReviewFlow())
async def not_text_in_flow(message: Message) -> None:
    """Stickers, photos, voice notes… while the flow waits for text."""
    await message.answer(texts.send_text_please())


async def _take_buttons(callback: CallbackQuery, message: Message) -> None:
    """Acknowledge the tap and remove the keyboard it came from (no double taps)."""
    await callback.answer()
    await message.edit_reply_markup(reply_markup=None)


def _join(draft: Any, text: str) -> str:
    return f"{draft}\n{text}" if draft else text
