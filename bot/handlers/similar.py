"""More like this: `/similar <title>` (the film found as /review finds it; candidates as buttons
when the title is ambiguous) and 🔁 on a pick card answer with three picks like that film,
each card with its reasons about the film (domain/similar.py, bot/similar_ui.py).

Every answer with picks takes the user's /recommend turn: the command through the
`rate_limit` flag (ThrottleMiddleware; given back when it ends without picks), the buttons
through `SimilarService.acquire` (the middleware only sees messages), answering "wait N
seconds" in the callback answer.
"""

from __future__ import annotations

import math

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import similar_ui, texts
from bot.cards import CardStyle
from bot.filters import with_message
from bot.flows.onboarding import send_picks
from bot.keyboards import remove_keyboard
from bot.metrics import Metrics
from bot.similar_ui import SimilarChoice, SimilarTo
from db.models import User
from domain.entities import FilmInfo
from domain.similar import SimilarService

router = Router(name=__name__)


@router.message(Command("similar"), flags={"rate_limit": "recommend", "chat_action": "typing"})
async def similar_command(
    message: Message,
    command: CommandObject,
    user: User,
    similar: SimilarService,
    metrics: Metrics,
    cards: CardStyle,
) -> None:
    outcome = await similar.find(command.args) if command.args else None
    if outcome is None or outcome.chosen is None:
        await similar.release(user.id)  # no picks this time: the turn is given back
        if outcome is None:
            await message.answer(similar_ui.usage())
        elif outcome.options:
            await message.answer(
                similar_ui.choose(), reply_markup=similar_ui.choices_keyboard(outcome.options)
            )
        else:
            await message.answer(similar_ui.not_found(command.args or ""))
        return
    await _answer(message, user, await similar.full(outcome.chosen), similar, metrics, cards)


@router.callback_query(SimilarTo.filter(), with_message)
async def more_like_this(
    callback: CallbackQuery,
    callback_data: SimilarTo,
    message: Message,
    user: User,
    similar: SimilarService,
    metrics: Metrics,
    cards: CardStyle,
) -> None:
    """🔁 on a pick card: the card stays as it is."""
    film = await similar.known(callback_data.tmdb_id)
    if film is None:  # not a catalog film: forged
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    if not await _turn(callback, user, similar):
        return
    await _answer(message, user, film, similar, metrics, cards)


@router.callback_query(SimilarChoice.filter(), with_message)
async def candidate_chosen(
    callback: CallbackQuery,
    callback_data: SimilarChoice,
    message: Message,
    user: User,
    similar: SimilarService,
    metrics: Metrics,
    cards: CardStyle,
) -> None:
    """A candidate of an ambiguous /similar: only a button still on that message counts (a
    forged or second tap changes nothing); the candidates' buttons go once one is taken."""
    markup = message.reply_markup
    offered = [] if markup is None else [b.callback_data for row in markup.inline_keyboard for b in row]
    film = await similar.known(callback_data.tmdb_id)
    if callback.data not in offered or film is None:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    if not await _turn(callback, user, similar):
        return
    await remove_keyboard(message)
    await _answer(message, user, await similar.full(film), similar, metrics, cards)


async def _turn(callback: CallbackQuery, user: User, similar: SimilarService) -> bool:
    """Take the user's /recommend turn and acknowledge the tap; False (told to wait) if too soon."""
    wait = await similar.acquire(user.id)
    if wait > 0:
        await callback.answer(texts.wait_seconds(math.ceil(wait)), show_alert=True)
        return False
    await callback.answer()
    return True


async def _answer(
    message: Message, user: User, film: FilmInfo, similar: SimilarService, metrics: Metrics, cards: CardStyle
) -> None:
    found = await similar.more_like(user.id, film)
    result = found.result
    if not result.picks and result.loosen is None:
        await message.answer(similar_ui.nothing(film))
        return
    if result.picks:
        await message.answer(similar_ui.heading(film, len(result.picks)))
    await send_picks(
        message, result, similar_ui.explanations(film, found.reasons), cards=cards, user_id=user.id
    )
    metrics.served(result.picks)
