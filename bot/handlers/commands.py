"""/start, /help, /myid, /cancel, /recommend."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot import keyboards, texts
from db.models import User
from domain.profile import ProfileService
from domain.recommendations import RecommendationService

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
async def cancel(message: Message, left_state: str | None) -> None:
    # CommandLeavesFlowMiddleware already left the flow; left_state says which one it was
    await message.answer(texts.cancelled() if left_state else texts.nothing_to_cancel())


@router.message(Command("recommend"), flags={"rate_limit": "recommend"})
async def recommend(message: Message, user: User, recommendations: RecommendationService) -> None:
    result = await recommendations.recommend(user.id)
    if result.cold_start:
        await message.answer(texts.cold_start_hint())
    if not result.picks:
        await message.answer(texts.no_picks())
    for pick in result.picks:
        await message.answer(texts.pick_card(pick), reply_markup=keyboards.pick_keyboard(pick.item_id))
