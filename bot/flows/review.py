"""The /review flow: title → (pick a candidate) → rating → review text → (more parts) → done.

Every word typed is kept in a `domain.reviews.ReviewDraft` in the conversation state
(PostgreSQL, see bot/fsm.py), so a restart or another process continues where the user was:

- a rating typed before the text ("4.5 great tension") or after it ("great tension", then
  "4.5" or a star tap) keeps the text;
- text that starts with a rating while candidates are shown ("4,5 the lobby scene") is kept
  for the film the user then picks;
- Telegram splits texts over 4,096 characters into several messages: the review is saved as
  soon as its first part arrives, and every further text message while the flow is in `more`
  is added, in `message_id` order whatever order they arrive in, until the user taps
  ✅ Done or sends a command;
- a rating given without its text yet is saved when the user moves on with another command
  (`keep_rating_on_leave`): only /cancel drops it;
- a message delivered twice is taken once.
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

from bot import keyboards, texts, watchlist_ui
from bot.filters import with_message
from bot.keyboards import FilmChoice, FlowAction, FlowCallback, RatingChoice, remove_keyboard
from bot.watchlist_ui import SaveOrigin
from db.models import User
from domain.catalog import CatalogService
from domain.entities import FilmInfo
from domain.errors import ReviewTooLongError
from domain.parsing import RatingError, looks_like_rating, parse_title_query
from domain.reviews import ReviewDraft, ReviewService

router = Router(name=__name__)

#: FSM data key of the draft (`ReviewDraft.to_json`); "options" holds the offered candidates.
DRAFT = "draft"
OPTIONS = "options"


class ReviewFlow(StatesGroup):
    title = State()  # waiting for a title
    choosing = State()  # candidates shown as buttons
    rating = State()  # film known, waiting for a rating (buttons or typed before the text)
    text = State()  # rating known, waiting for the review text
    more = State()  # review saved; further parts are added


async def _draft(state: FSMContext) -> ReviewDraft:
    return ReviewDraft.from_json((await state.get_data()).get(DRAFT) or {})


async def _keep(state: FSMContext, draft: ReviewDraft) -> None:
    await state.update_data({DRAFT: draft.to_json()})


async def start_for_film(
    message: Message,
    state: FSMContext,
    film: FilmInfo,
    reviews: ReviewService,
    catalog: CatalogService,
    user: User,
    *,
    item_id: int | None = None,
    offer_save: bool = False,
) -> None:
    """Go on with the film chosen (a search, a candidate tap, or ✅ Watched on a pick): with
    whatever the draft already holds, save, or ask for what is missing. `offer_save` (a film
    found by a search): the rating question also offers 🔖 Save, to keep it for later instead."""
    draft = await _draft(state)
    draft.tmdb_id, draft.item_id = film.tmdb_id, item_id if item_id is not None else draft.item_id
    await state.set_state(ReviewFlow.rating)
    await state.set_data({DRAFT: draft.to_json()})
    if draft.rating is not None and draft.text:
        await _save(message, state, user, reviews, catalog, draft)
    elif draft.rating is not None:
        await _ask_text(message, state, draft)
    elif draft.text:
        await message.answer(texts.ask_rating_for_draft(film), reply_markup=keyboards.rating_keyboard())
    else:
        markup = keyboards.rating_keyboard()
        if offer_save:
            markup = watchlist_ui.with_save_button(markup, film.tmdb_id, SaveOrigin.REVIEW, before_last=True)
        await message.answer(texts.ask_rating(film), reply_markup=markup)


@router.message(Command("review"))
async def review_command(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    catalog: CatalogService,
    reviews: ReviewService,
    user: User,
) -> None:
    await state.set_state(ReviewFlow.title)
    await state.set_data({})
    if command.args:
        await _search(message, command.args, state, catalog, reviews, user)
    else:
        await message.answer(texts.ask_title())


@router.message(ReviewFlow.choosing, F.text.func(looks_like_rating))
async def review_before_film(message: Message, state: FSMContext) -> None:
    """A rating and review typed while the candidates are shown: kept for the film picked next."""
    assert message.text is not None
    draft = await _draft(state)
    draft.rating = None  # the newest rating typed wins
    try:
        draft.take(message.message_id, message.text)
    except RatingError as exc:
        await _keep(state, draft)
        await message.answer(texts.bad_rating(exc.value))
        return
    await _keep(state, draft)
    await message.answer(texts.pick_film_first())


@router.message(ReviewFlow.title, F.text)
@router.message(ReviewFlow.choosing, F.text)
async def title_sent(
    message: Message, state: FSMContext, catalog: CatalogService, reviews: ReviewService, user: User
) -> None:
    assert message.text is not None
    await _search(message, message.text, state, catalog, reviews, user)


async def _search(
    message: Message,
    text: str,
    state: FSMContext,
    catalog: CatalogService,
    reviews: ReviewService,
    user: User,
) -> None:
    query = parse_title_query(text[:200], current_year=dt.date.today().year)
    if query is None:
        await message.answer(texts.ask_title())
        return
    outcome = await catalog.search(query)
    if outcome.chosen is not None:
        film_id = outcome.chosen.tmdb_id  # search results lack runtime: fetch the full record now
        film = (await catalog.get([film_id])).get(film_id, outcome.chosen)
        await start_for_film(message, state, film, reviews, catalog, user, offer_save=True)
    elif outcome.options:
        await state.set_state(ReviewFlow.choosing)
        await state.update_data({OPTIONS: [f.tmdb_id for f in outcome.options]})
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
    reviews: ReviewService,
    user: User,
) -> None:
    offered = (await state.get_data()).get(OPTIONS, ())
    film = (await catalog.get([callback_data.tmdb_id])).get(callback_data.tmdb_id)
    if callback_data.tmdb_id not in offered or film is None:  # forged, or from an older search
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await _take_buttons(callback, message)
    await start_for_film(message, state, film, reviews, catalog, user, offer_save=True)


@router.message(ReviewFlow.rating, F.text)
@router.message(ReviewFlow.text, F.text)
@router.message(ReviewFlow.more, F.text)
async def text_sent(
    message: Message, state: FSMContext, user: User, reviews: ReviewService, catalog: CatalogService
) -> None:
    """A rating, a review, both, or one more part of a saved review."""
    assert message.text is not None
    before = await _draft(state)
    draft = ReviewDraft.from_json(before.to_json())
    try:
        taken = draft.take(message.message_id, message.text)
    except RatingError as exc:
        await _keep(state, draft)
        await message.answer(texts.bad_rating(exc.value), reply_markup=keyboards.rating_keyboard())
        return
    if not taken and draft.review_id is not None:  # a double delivery of a saved part
        await message.answer(texts.review_appended(len(draft.text)), reply_markup=keyboards.done_keyboard())
    elif draft.rating is None:  # a review without a rating: keep it, ask for the rating alone
        await _keep(state, draft)
        await message.answer(texts.ask_rating_alone(), reply_markup=keyboards.rating_keyboard())
    elif not draft.text:
        await _ask_text(message, state, draft)
    else:
        await _save(message, state, user, reviews, catalog, draft, undo=before)


@router.callback_query(ReviewFlow.rating, RatingChoice.filter(), with_message)
@router.callback_query(ReviewFlow.text, RatingChoice.filter(), with_message)
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
    draft = await _draft(state)
    draft.rating = Decimal(callback_data.halves) / 2
    if draft.text:
        await _save(message, state, user, reviews, catalog, draft)
    else:
        await _ask_text(message, state, draft)


async def _ask_text(message: Message, state: FSMContext, draft: ReviewDraft) -> None:
    assert draft.rating is not None
    await state.set_state(ReviewFlow.text)
    await _keep(state, draft)
    await message.answer(
        texts.ask_review_text(keyboards.stars(int(draft.rating * 2))),
        reply_markup=keyboards.review_text_keyboard(),
    )


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
    await _save(message, state, user, reviews, catalog, await _draft(state))


async def _save(
    message: Message,
    state: FSMContext,
    user: User,
    reviews: ReviewService,
    catalog: CatalogService,
    draft: ReviewDraft,
    *,
    undo: ReviewDraft | None = None,
) -> None:
    """Save the draft (re-saving replaces the text: parts are always joined in order). When
    the text would be too long, the user is told and the draft goes back to `undo` (what it
    was before the message that made it too long)."""
    assert draft.tmdb_id is not None and draft.rating is not None
    try:
        saved = await reviews.save(
            user.id, draft.tmdb_id, draft.rating, draft.text, recommendation_item_id=draft.item_id
        )
    except ReviewTooLongError as exc:
        if undo is not None:
            await _keep(state, undo)
        await message.answer(texts.review_too_long(exc.max_chars))
        return
    film = (await catalog.known([draft.tmdb_id]))[draft.tmdb_id]  # stored: no TMDB call after saving
    stars = keyboards.stars(int(draft.rating * 2))
    if not draft.text:
        await state.clear()
        await message.answer(texts.rating_saved(film, stars))
        return
    first = draft.review_id is None
    draft.review_id = saved.review_id
    await state.set_state(ReviewFlow.more)
    await state.set_data({DRAFT: draft.to_json()})
    if first:
        await message.answer(
            texts.review_saved(film, stars, saved.created), reply_markup=keyboards.done_keyboard()
        )
    else:
        await message.answer(texts.review_appended(saved.length), reply_markup=keyboards.done_keyboard())


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
    await remove_keyboard(message)


async def keep_rating_on_leave(
    message: Message,
    draft_json: dict[str, Any] | None,
    user: User,
    reviews: ReviewService,
    catalog: CatalogService,
) -> None:
    """A command other than /cancel arrived while the flow waited for the review text: the
    rating the user gave is saved (without a review) and they are told, before the command
    is answered. Called by `bot.middlewares.CommandLeavesFlowMiddleware` for ReviewFlow.text."""
    if not draft_json:
        return
    draft = ReviewDraft.from_json(draft_json)
    if draft.tmdb_id is None or draft.rating is None or draft.text:
        return
    await reviews.save(user.id, draft.tmdb_id, draft.rating, draft.text, recommendation_item_id=draft.item_id)
    film = (await catalog.known([draft.tmdb_id]))[draft.tmdb_id]
    await message.answer(texts.rating_saved(film, keyboards.stars(int(draft.rating * 2))))
