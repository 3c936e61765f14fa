"""The watchlist: 🔖 Save (pick cards, a /review result), /watchlist with ✅ Watched, ❌ Remove
and ◀ ▶ (the message edited in place), and /recommend watchlist.

Registered before `commands.router`, so `/recommend watchlist` is taken here and every other
/recommend goes on to the plain one. Every button acts on the tapping user's own watchlist.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot import texts, watchlist_ui
from bot.cards import CardStyle
from bot.filters import with_message
from bot.flows.onboarding import send_explained_picks
from bot.flows.review import DRAFT, ReviewFlow, start_for_film
from bot.keyboards import remove_keyboard
from bot.metrics import Metrics
from bot.watchlist_ui import SaveOrigin, WatchlistRemove, WatchlistSave, WatchlistTurn, WatchlistWatched
from db.models import User
from domain.catalog import CatalogService
from domain.explanations import ExplanationService
from domain.reviews import ReviewDraft, ReviewService
from domain.watchlist import SaveOutcome, WatchlistPage, WatchlistService

router = Router(name=__name__)


def _is_watchlist(args: str | None) -> bool:
    """`/recommend watchlist` (any case, any spaces around the word)."""
    return args is not None and args.strip().casefold() == "watchlist"


@router.message(
    Command("recommend", magic=F.args.func(_is_watchlist)),
    flags={"rate_limit": "recommend", "chat_action": "typing"},
)
async def recommend_watchlist(
    message: Message,
    user: User,
    i18n: I18n,
    watchlist: WatchlistService,
    explanations: ExplanationService,
    cards: CardStyle,
    metrics: Metrics,
) -> None:
    """Up to three watchlist films for tonight, as the usual cards with reasons."""
    result = await watchlist.recommend(user.id)
    if not result.picks:
        await message.answer(watchlist_ui.recommend_empty())
        return
    await message.answer(watchlist_ui.recommend_heading(len(result.picks)))
    await send_explained_picks(message, result, user.id, explanations, i18n.current_locale, cards=cards)
    metrics.served(result.picks)


@router.message(Command("watchlist"))
async def show(message: Message, user: User, watchlist: WatchlistService) -> None:
    page = await watchlist.page(user.id)
    await message.answer(watchlist_ui.page_text(page), reply_markup=watchlist_ui.page_keyboard(page))


@router.callback_query(WatchlistTurn.filter(), with_message)
async def turn(
    callback: CallbackQuery,
    callback_data: WatchlistTurn,
    message: Message,
    user: User,
    watchlist: WatchlistService,
) -> None:
    await callback.answer()
    await _show_in_place(message, await watchlist.page(user.id, callback_data.page))


@router.callback_query(WatchlistRemove.filter(), with_message)
async def remove(
    callback: CallbackQuery,
    callback_data: WatchlistRemove,
    message: Message,
    user: User,
    watchlist: WatchlistService,
) -> None:
    if not await watchlist.remove(user.id, callback_data.tmdb_id):  # not on the tapper's list
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer(watchlist_ui.removed())
    await _show_in_place(message, await watchlist.page(user.id, callback_data.page))


@router.callback_query(WatchlistWatched.filter(), with_message)
async def watched(
    callback: CallbackQuery,
    callback_data: WatchlistWatched,
    message: Message,
    user: User,
    state: FSMContext,
    watchlist: WatchlistService,
    reviews: ReviewService,
    catalog: CatalogService,
) -> None:
    """✅: review the film; once rated (or saved as watched) it leaves the watchlist."""
    film = await watchlist.film(user.id, callback_data.tmdb_id)
    if film is None:  # not on the tapper's list (rated since, removed, or forged)
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer()
    await state.set_data({})  # a new review, whatever flow was open
    await start_for_film(message, state, film, reviews, catalog, user)


@router.callback_query(WatchlistSave.filter(), with_message)
async def save(
    callback: CallbackQuery,
    callback_data: WatchlistSave,
    message: Message,
    user: User,
    state: FSMContext,
    watchlist: WatchlistService,
    catalog: CatalogService,
) -> None:
    """🔖: on a pick card the button turns into "Saved"; on a /review result saving ends the
    review of that film (saved instead of reviewed)."""
    outcome = await watchlist.save(user.id, callback_data.tmdb_id)
    if outcome is SaveOutcome.NOT_FOUND:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer(watchlist_ui.save_answer(outcome))
    if outcome is SaveOutcome.ALREADY_SEEN:
        return
    if callback_data.origin is SaveOrigin.PICK:
        markup = watchlist_ui.with_saved_label(message.reply_markup, callback.data or "")
        if markup is not None and markup != message.reply_markup:
            await message.edit_reply_markup(reply_markup=markup)
        return
    if await state.get_state() == ReviewFlow.rating.state:
        draft = ReviewDraft.from_json((await state.get_data()).get(DRAFT) or {})
        if draft.tmdb_id == callback_data.tmdb_id:
            await state.clear()
    await remove_keyboard(message)
    film = (await catalog.known([callback_data.tmdb_id]))[callback_data.tmdb_id]
    await message.answer(watchlist_ui.saved_instead_of_review(film))


async def _show_in_place(message: Message, page: WatchlistPage) -> None:
    """Edit the /watchlist message to show `page` (a tap that changes nothing is no error)."""
    try:
        await message.edit_text(watchlist_ui.page_text(page), reply_markup=watchlist_ui.page_keyboard(page))
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise
