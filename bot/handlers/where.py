"""Where to watch: 📺 on pick cards, /country and /services (domain/where_to_watch.py).

Every button acts on the tapping user: 📺 answers in their country, a country or service
button changes their own choice; a forged or stale button changes nothing.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import texts, where_ui
from bot.filters import with_message
from bot.where_ui import CountryPick, ServiceToggle, WhereToWatch
from db.models import User
from domain.catalog import CatalogService
from domain.where_to_watch import WhereToWatchService

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")


@router.callback_query(WhereToWatch.filter(), with_message)
async def where_to_watch(
    callback: CallbackQuery,
    callback_data: WhereToWatch,
    message: Message,
    user: User,
    where: WhereToWatchService,
    catalog: CatalogService,
) -> None:
    """📺: the film's providers in the user's country, as a new message."""
    if not where.online:
        await callback.answer(where_ui.offline(), show_alert=True)
        return
    film = (await catalog.known([callback_data.tmdb_id])).get(callback_data.tmdb_id)
    if film is None:  # not a catalog film: forged
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    offers = await where.offers(film.tmdb_id, where.country_of(user).code)
    if offers is None:
        await callback.answer(where_ui.unavailable(), show_alert=True)
        return
    await callback.answer()
    await message.answer(where_ui.offers_text(film, offers), disable_web_page_preview=True)


@router.message(Command("country"))
async def country(message: Message, command: CommandObject, user: User, where: WhereToWatchService) -> None:
    """/country: the current one and buttons; `/country de` sets it at once."""
    if command.args and command.args.strip():
        code = await where.set_country(user, command.args.strip())
        if code is None:
            await message.answer(where_ui.country_unknown(command.args.strip()))
            return
        await message.answer(where_ui.country_set(code))
        return
    choice = where.country_of(user)
    await message.answer(where_ui.country_prompt(choice), reply_markup=where_ui.country_keyboard(choice.code))


@router.callback_query(CountryPick.filter(), with_message)
async def country_chosen(
    callback: CallbackQuery,
    callback_data: CountryPick,
    message: Message,
    user: User,
    where: WhereToWatchService,
) -> None:
    code = await where.set_country(user, callback_data.code)
    if code is None:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer()
    try:
        await message.edit_text(where_ui.country_set(code), reply_markup=None)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


@router.message(Command("services"), flags={"chat_action": "typing"})
async def services(message: Message, user: User, where: WhereToWatchService) -> None:
    """/services: toggle buttons of the streaming services in the user's country."""
    offered, mine = await where.services(user)
    await message.answer(
        where_ui.services_prompt(where.country_of(user).code, mine.values()),
        reply_markup=where_ui.services_keyboard(offered, mine.keys()),
    )


@router.callback_query(ServiceToggle.filter(), with_message)
async def service_toggled(
    callback: CallbackQuery,
    callback_data: ServiceToggle,
    message: Message,
    user: User,
    where: WhereToWatchService,
) -> None:
    on = await where.toggle(user, callback_data.provider_id)
    if on is None:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await callback.answer(where_ui.service_toggled(on))
    offered, mine = await where.services(user)
    try:
        await message.edit_text(
            where_ui.services_prompt(where.country_of(user).code, mine.values()),
            reply_markup=where_ui.services_keyboard(offered, mine.keys()),
        )
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise
