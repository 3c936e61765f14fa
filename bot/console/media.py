"""Files in the local Bot API: the documents and photos the bot sends, and the files it fetches.

sendDocument, sendPhoto and getFile, each a function taking the
:class:`~bot.console.session.LocalSession` that answers it, and the records the session keeps of
them: :class:`SentDocument`, :class:`SentPhoto`, and :class:`StoredFile` (a file "on Telegram's
servers" that ``bot.download`` can fetch). Photos are checked as the Bot API checks them.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import GetFile, SendDocument, SendPhoto
from aiogram.types import (
    BufferedInputFile,
    Document,
    File,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    PhotoSize,
    URLInputFile,
)

from bot.console.messages import render_inline_keyboard, resolve_default
from bot.console.rules import (
    MAX_PHOTO_BYTES,
    MAX_PHOTO_RATIO,
    MAX_PHOTO_SIDES,
    check_markup,
    checked_chat_id,
    checked_text,
    image_size,
)

if TYPE_CHECKING:
    from bot.console.session import LocalSession


@dataclass(frozen=True)
class SentDocument:
    """A document the bot sent: the file name, its bytes when they were uploaded, the caption."""

    chat_id: int
    file_name: str
    data: bytes | None
    caption: str | None
    message: Message


@dataclass(frozen=True)
class SentPhoto:
    """A photo the bot sent: its bytes when uploaded, the image size in pixels, the caption."""

    chat_id: int
    file_name: str
    data: bytes | None
    width: int
    height: int
    caption: str | None
    message: Message


@dataclass(frozen=True)
class StoredFile:
    """A file "on Telegram's servers" that ``bot.download(file_id)`` can fetch (see ``add_file``)."""

    file_id: str
    file_path: str
    data: bytes


def _checked_caption(bot: Bot, method: SendDocument | SendPhoto) -> tuple[str | None, int]:
    """What Telegram checks of a file message before its file: the caption (its HTML and
    length), the reply markup and the chat. Returns the caption as plain text (None without
    one) and the chat id."""
    caption_plain = None
    if method.caption is not None:
        parse_mode = resolve_default(bot, method.parse_mode)
        caption_plain = checked_text(method, method.caption, parse_mode, caption=True)
    check_markup(method, method.reply_markup)
    return caption_plain, checked_chat_id(method, method.chat_id)


async def send_document(session: LocalSession, bot: Bot, method: SendDocument) -> Message:
    """sendDocument: recorded in ``documents`` (an upload's bytes become a file ``getFile`` serves),
    shown as ``📎 <file name>``, then the caption and buttons."""
    caption_plain, chat_id = _checked_caption(bot, method)
    file_name, data = await _upload(session, bot, method.document, "file")
    document_number = len(session.documents) + 1
    document = Document(
        file_id=f"local-document-{document_number}",
        file_unique_id=f"local-unique-{document_number}",
        file_name=file_name,
        mime_type=mimetypes.guess_type(file_name)[0],
        file_size=len(data) if data is not None else None,
    )
    inline = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
    message = session.new_message(
        bot, chat_id, document=document, caption=method.caption, reply_markup=inline
    )
    session.documents.append(SentDocument(chat_id, file_name, data, method.caption, message))
    if data is not None:
        session.add_file(document.file_id, data, file_name)
    lines = [f"📎 {file_name}"] + ([caption_plain] if caption_plain else [])
    session.emit("\n".join(lines + render_inline_keyboard(inline)), chat_id)
    return message


async def send_photo(session: LocalSession, bot: Bot, method: SendPhoto) -> Message:
    """Uploaded photos must be a PNG or JPEG within Telegram's limits (10 MB, width + height
    ≤ 10000, sides at most 20:1), as the real Bot API checks; URLs and file ids are taken
    (not fetched): a URL is printed as is ("🖼 https://…"), then the caption and buttons."""
    caption_plain, chat_id = _checked_caption(bot, method)
    file_name, data = await _upload(session, bot, method.photo, "photo")
    width = height = 0
    if data is not None:
        size = image_size(data)
        if size is None:
            raise TelegramBadRequest(method=method, message="Bad Request: IMAGE_PROCESS_FAILED")
        width, height = size
        if len(data) > MAX_PHOTO_BYTES:
            raise TelegramBadRequest(method=method, message="Bad Request: PHOTO_SAVE_FILE_INVALID")
        if width + height > MAX_PHOTO_SIDES or max(width, height) > MAX_PHOTO_RATIO * min(width, height):
            raise TelegramBadRequest(method=method, message="Bad Request: PHOTO_INVALID_DIMENSIONS")
    photo_number = len(session.photos) + 1
    photo = PhotoSize(
        file_id=f"local-photo-{photo_number}",
        file_unique_id=f"local-photo-unique-{photo_number}",
        width=width,
        height=height,
        file_size=len(data) if data is not None else None,
    )
    inline = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
    message = session.new_message(bot, chat_id, photo=[photo], caption=method.caption, reply_markup=inline)
    session.photos.append(SentPhoto(chat_id, file_name, data, width, height, method.caption, message))
    if data is not None:
        session.add_file(photo.file_id, data, file_name)
    size_note = f" ({width}×{height})" if data is not None else ""
    shown = method.photo if isinstance(method.photo, str) and "://" in method.photo else file_name
    lines = [f"🖼 {shown}{size_note}"] + ([caption_plain] if caption_plain else [])
    session.emit("\n".join(lines + render_inline_keyboard(inline)), chat_id)
    return message


def get_file(session: LocalSession, method: GetFile) -> File:
    """getFile: a file registered with ``add_file`` (or sent by the bot); any other id is a 400."""
    stored = session.files.get(method.file_id)
    if stored is None:
        raise TelegramBadRequest(
            method=method, message="Bad Request: wrong file_id or the file is temporarily unavailable"
        )
    return File(
        file_id=stored.file_id,
        file_unique_id=f"unique-{stored.file_id}",
        file_size=len(stored.data),
        file_path=stored.file_path,
    )


async def _upload(
    session: LocalSession, bot: Bot, file: InputFile | str, default_name: str
) -> tuple[str, bytes | None]:
    """(file name, bytes) of what a send method carries: an upload (bytes read), a file id
    this session knows (its bytes), or a URL / unknown id (no bytes)."""
    if isinstance(file, InputFile):
        if isinstance(file, BufferedInputFile):
            return file.filename or default_name, file.data
        if isinstance(file, URLInputFile):
            return file.filename or default_name, None
        return file.filename or default_name, b"".join([chunk async for chunk in file.read(bot)])
    if file in session.files:
        stored = session.files[file]
        return stored.file_path.rsplit("/", 1)[-1], stored.data
    return file.rsplit("/", 1)[-1] or file, None
