"""/recommend with words after it ("/recommend a short 90s comedy", "/recommend korean
thriller", "/recommend something like Alien but funnier"): the words become a filter for that
answer only (`domain.wish_picks`, rules in `domain.wishes`).

The answer says what was understood above the usual cards ("Looking for: Comedy · 1990s ·
under 100 min"); a text with nothing understood, or a wish no unseen film matches, gets that
said instead of picks. Registered after `watchlist.router` (`/recommend watchlist` is its) and
before `commands.router` (the plain /recommend, without words).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot import wishes_ui
from bot.cards import CardStyle
from bot.flows.onboarding import send_explained_picks
from bot.handlers.commands import RATE_LIMIT
from bot.metrics import Metrics
from bot.middlewares import NOT_AN_ANSWER
from db.models import User
from domain.explanations import ExplanationService
from domain.wish_picks import WishService

router = Router(name=__name__)


def is_wish(args: str | None) -> bool:
    """Words after /recommend, other than the single word "watchlist" (bot/handlers/watchlist.py)."""
    return args is not None and bool(args.strip()) and args.strip().casefold() != "watchlist"


@router.message(
    Command("recommend", magic=F.args.func(is_wish)),
    flags={"rate_limit": RATE_LIMIT, "chat_action": "typing"},
)
async def recommend_wish(
    message: Message,
    command: CommandObject,
    user: User,
    i18n: I18n,
    wishes: WishService,
    explanations: ExplanationService,
    cards: CardStyle,
    metrics: Metrics,
) -> object:
    """What was understood, then up to three cards that fit it; or why there are none."""
    outcome = await wishes.recommend(user.id, command.args or "")
    if outcome.result is None:  # nothing recommended: a typo does not cost the user their turn
        await message.answer(wishes_ui.not_understood(outcome))
        return NOT_AN_ANSWER
    await message.answer(wishes_ui.understood(outcome))
    if outcome.result.picks:
        await send_explained_picks(
            message, outcome.result, user.id, explanations, i18n.current_locale, cards=cards
        )
        metrics.served(outcome.result.picks)
    return None
