"""/profile (taste in words and a picture), /export (a CSV of all the user's data; `/export
letterboxd`: a CSV for Letterboxd's importer), /forget
(delete it all, after Yes / Keep) and /language (English, Русский, Español, Português).

Every handler acts on the user of the update (`user`, from UserMiddleware), never on an id
from button data. /forget's buttons carry a random nonce kept in that user's FSM data, so a
forged tap, an old question's tap or another user's tap matches nothing and deletes nothing.
"""

from __future__ import annotations

import secrets

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot import charts, keyboards, texts
from bot.filters import with_message
from bot.keyboards import ForgetAnswer, ForgetConfirm, LanguageChoice
from db.models import User
from domain.letterboxd_export import LetterboxdExportService
from domain.profile import ProfileService

router = Router(name=__name__)

#: FSM data key of the pending /forget question's nonce.
FORGET_NONCE = "forget_nonce"


class ForgetFlow(StatesGroup):
    confirming = State()  # the Yes / Keep question is shown; any command leaves it


@router.message(Command("profile"))
async def profile_command(message: Message, user: User, profile: ProfileService, i18n: I18n) -> None:
    view = await profile.profile(user.id, language=i18n.current_locale)
    if not view.stats.rated:
        await message.answer(texts.profile_empty(view))
        return
    await message.answer(texts.profile_text(view))
    jpeg = await charts.profile_chart_jpeg(texts.profile_chart(view))
    await message.answer_photo(BufferedInputFile(jpeg, "profile.jpg"), caption=texts.profile_photo_caption())


@router.message(Command("export", magic=F.args.casefold() == "letterboxd"))
async def export_letterboxd_command(
    message: Message, user: User, letterboxd_export: LetterboxdExportService
) -> None:
    """`/export letterboxd`: the rated and watched films and the bot's reviews as a CSV in
    Letterboxd's import format (before plain /export, which takes any other argument)."""
    export = await letterboxd_export.export(user.id, user.telegram_id)
    if not export.films:
        await message.answer(texts.export_letterboxd_empty())
        return
    await message.answer_document(
        BufferedInputFile(export.data, export.file_name),
        caption=texts.export_letterboxd_caption(export.films, export.reviews),
    )


@router.message(Command("export"))
async def export_command(message: Message, user: User, profile: ProfileService) -> None:
    export = await profile.export(user.id, user.telegram_id)
    if not export.rows:
        await message.answer(texts.export_empty())
        return
    await message.answer_document(
        BufferedInputFile(export.data, export.file_name), caption=texts.export_caption(export.rows)
    )


@router.message(Command("forget"))
async def forget_command(message: Message, state: FSMContext) -> None:
    nonce = secrets.token_hex(8)
    await state.set_state(ForgetFlow.confirming)
    await state.update_data({FORGET_NONCE: nonce})
    await message.answer(texts.forget_confirm(), reply_markup=keyboards.forget_keyboard(nonce))


@router.callback_query(ForgetFlow.confirming, ForgetConfirm.filter(), with_message)
async def forget_answered(
    callback: CallbackQuery,
    callback_data: ForgetConfirm,
    message: Message,
    state: FSMContext,
    user: User,
    profile: ProfileService,
) -> None:
    expected = str((await state.get_data()).get(FORGET_NONCE, ""))
    # bytes: compare_digest refuses str with non-ASCII characters (a forged button can have them)
    if not secrets.compare_digest(expected.encode(), callback_data.nonce.encode()):  # forged, or older
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    await state.clear()
    if callback_data.answer is ForgetAnswer.YES:
        await profile.forget(user.id)
    await callback.answer()
    await message.edit_text(
        texts.forgotten() if callback_data.answer is ForgetAnswer.YES else texts.forget_kept()
    )


@router.message(Command("language"))
async def language_command(message: Message, i18n: I18n) -> None:
    await message.answer(
        texts.language_prompt(), reply_markup=keyboards.language_keyboard(i18n.current_locale)
    )


@router.callback_query(LanguageChoice.filter(), with_message)
async def language_chosen(
    callback: CallbackQuery,
    callback_data: LanguageChoice,
    message: Message,
    user: User,
    profile: ProfileService,
    i18n: I18n,
) -> None:
    if not await profile.set_language(user.id, callback_data.code):  # a forged code
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    i18n.current_locale = callback_data.code  # the rest of this update speaks the new language
    await callback.answer()
    if message.text != (text := texts.language_changed()):  # not when tapped twice
        await message.edit_text(text, reply_markup=keyboards.language_keyboard(callback_data.code))
