"""Letterboxd and IMDb imports in the chat: /import explains, a sent export starts an import job.

A Letterboxd export (the .zip or one of its CSVs) and an IMDb ratings export (a CSV, recognised
by its columns: domain.imports.read_sent_file) take the same path.

The handler only checks and queues the file (a quick parse, in a thread) and answers with a
progress message; the background job (bot.jobs.run_import) matches and stores the films and
edits that message. /cancel stops a running import (bot.handlers.commands).
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot import texts
from bot.keyboards import ImportUnmatched
from db.models import User
from db.repositories.imports import ImportInProgressError
from domain.imports import ImportService
from domain.letterboxd import MAX_UPLOAD_BYTES, LetterboxdFormatError

router = Router(name=__name__)

#: What an export looks like when it arrives as a document (Letterboxd gives a .zip).
EXPORT_SUFFIXES = (".zip", ".csv")
EXPORT_MIME_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "text/csv"})


def sends_export(message: Message) -> bool:
    """A document named .zip/.csv (or with a zip/CSV MIME type): taken as an export."""
    document = message.document
    if document is None:
        return False
    name = (document.file_name or "").lower()
    return name.endswith(EXPORT_SUFFIXES) or document.mime_type in EXPORT_MIME_TYPES


@router.message(Command("import"))
async def import_command(message: Message) -> None:
    await message.answer(texts.import_how_to())


@router.message(sends_export)
async def export_received(message: Message, bot: Bot, user: User, imports: ImportService, i18n: I18n) -> None:
    """Any time, in any step: a .zip or .csv document is taken as a Letterboxd or IMDb export."""
    document = message.document
    assert document is not None
    file_name = document.file_name or "letterboxd.zip"
    too_big = LetterboxdFormatError("too big", code="too_big")
    if document.file_size is not None and document.file_size > MAX_UPLOAD_BYTES:
        await message.answer(texts.import_refused(too_big))
        return
    try:
        downloaded = await bot.download(document)
    except TelegramBadRequest as exc:
        # "file is too big" when the update did not say the size; anything else: try again
        too_large = "too big" in exc.message
        await message.answer(texts.import_refused(too_big) if too_large else texts.import_download_failed())
        return
    assert downloaded is not None
    try:
        queued = await imports.start(
            user_id=user.id,
            chat_id=message.chat.id,
            file_name=file_name,
            data=downloaded.read(),
            locale=i18n.current_locale,
        )
    except LetterboxdFormatError as exc:
        await message.answer(texts.import_refused(exc))
        return
    except ImportInProgressError:
        await message.answer(texts.import_busy())
        return
    progress = await message.answer(texts.import_queued(file_name, queued.films))
    await imports.set_progress_message(queued.import_id, progress.message_id)


@router.callback_query(ImportUnmatched.filter())
async def unmatched_tapped(
    callback: CallbackQuery, callback_data: ImportUnmatched, bot: Bot, user: User, imports: ImportService
) -> None:
    """📄 under a report: the films it could not match, as a CSV document (own imports only)."""
    found = await imports.unmatched_csv(user.id, callback_data.import_id)
    if found is None:
        await callback.answer(texts.button_invalid(), show_alert=True)
        return
    name, data = found
    await callback.answer()
    await bot.send_document(user.telegram_id, BufferedInputFile(data, filename=name))
