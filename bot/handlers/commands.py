"""/start, /help, /myid, /cancel (a flow, or a running import), /recommend (→ onboarding for a new user)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot import texts
from bot.cards import CardStyle
from bot.flows.onboarding import send_explained_picks, start_onboarding
from bot.handlers.clarify import ClarifyFlow, ask_question
from bot.metrics import Metrics
from bot.middlewares import NOT_AN_ANSWER
from db.models import User
from domain.clarify import ClarifyService, Question
from domain.explanations import ExplanationService
from domain.imports import ImportService
from domain.onboarding import OnboardingService
from domain.profile import ProfileService

router = Router(name=__name__)


@router.message(CommandStart())
async def start(message: Message, user: User, profile: ProfileService) -> None:
    await message.answer(texts.welcome(user.first_name, await profile.summary(user.id)))


@router.message(Command("help"))
async def help_(message: Message) -> None:
    await message.answer(texts.commands_help())


@router.message(Command("myid"))
async def my_id(message: Message, user: User) -> None:
    await message.answer(texts.my_id(user.telegram_id))


@router.message(Command("cancel"))
async def cancel(message: Message, user: User, left_state: str | None, imports: ImportService) -> None:
    # CommandLeavesFlowMiddleware already left the flow; left_state says which one it was
    if await imports.cancel(user.id):
        await message.answer(texts.import_cancelled())
        return
    await message.answer(texts.cancelled() if left_state else texts.nothing_to_cancel())


#: The /recommend cooldown's key (bot.middlewares.ThrottleMiddleware), shared with /recommend <words>.
RATE_LIMIT = "recommend"


@router.message(Command("recommend"), flags={"rate_limit": RATE_LIMIT, "chat_action": "typing"})
async def recommend(
    message: Message,
    user: User,
    state: FSMContext,
    left_state: str | None,
    i18n: I18n,
    onboarding: OnboardingService,
    clarify: ClarifyService,
    explanations: ExplanationService,
    cards: CardStyle,
    metrics: Metrics,
) -> object:
    """Three cards; a user without any rated, watched or liked film gets the onboarding grid first,
    one whose signal is weak a clarifying question (bot/handlers/clarify.py), unless that very
    question is still shown: asking again instead of answering passes on it. Neither the grid
    nor a question is an answer: they do not use up the user's turn of the cooldown
    (NOT_AN_ANSWER)."""
    if await onboarding.needed(user.id) and await start_onboarding(message, state, user.id, onboarding):
        return NOT_AN_ANSWER
    outcome = await clarify.recommend_or_ask(user.id, ask=left_state != ClarifyFlow.asked.state)
    if isinstance(outcome, Question):
        await ask_question(message, state, outcome)
        return NOT_AN_ANSWER
    await send_explained_picks(message, outcome, user.id, explanations, i18n.current_locale, cards=cards)
    metrics.served(outcome.picks)
    return None
