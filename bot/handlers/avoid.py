"""/avoid <topic> adds a soft-avoid topic; /avoid alone lists them, with ❌ to remove one.

Films close to a topic are pushed down by the recommender, never banned.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.filters import with_message
from bot.keyboards import AvoidRemove
from db.models import User
from domain.avoid import AvoidService, AvoidTopicError

router = Router(name=__name__)


@router.message(Command("avoid"))
async def avoid_command(message: Message, command: CommandObject, user: User, avoid: AvoidService) -> None:
    if not command.args:
        topics = await avoid.list(user.id)
        await message.answer(texts.avoid_list(topics), reply_markup=keyboards.avoid_keyboard(topics))
        return
    try:
        topic = await avoid.add(user.id, command.args)
    except AvoidTopicError as exc:
        await message.answer(texts.avoid_refused(exc.reason))
        return
    await message.answer(texts.avoid_added(topic.topic))


@router.callback_query(AvoidRemove.filter(), with_message)
async def remove_tapped(
    callback: CallbackQuery, callback_data: AvoidRemove, message: Message, user: User, avoid: AvoidService
) -> None:
    if not await avoid.remove(user.id, callback_data.topic_id):  # someone else's, or already gone
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    topics = await avoid.list(user.id)
    await callback.answer(texts.avoid_removed())
    await message.edit_text(texts.avoid_list(topics), reply_markup=keyboards.avoid_keyboard(topics))
