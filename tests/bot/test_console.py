"""The local Bot API (`bot.console`): a tiny real Dispatcher talks to `LocalSession`, no network."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.methods import EditMessageText, SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.console import (
    BANNER,
    CONSOLE_TOKEN,
    ChatUser,
    ConsoleChat,
    LocalSession,
    UpdateFactory,
    console_bot,
    html_to_text,
)

USER = ChatUser(telegram_id=42, first_name="Ann")
CHAT = USER.telegram_id


class Rate(CallbackData, prefix="rate"):
    action: str
    film_id: int


def dump(markup: InlineKeyboardMarkup | None) -> dict[str, object] | None:
    """Compare keyboards by content (a bound and an unbound copy are not ``==`` in pydantic)."""
    return markup.model_dump() if markup is not None else None


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text="✅ Watched", callback_data=Rate(action="watched", film_id=7).pack()
                ),
                InlineKeyboardButton(text="⏭ Skip", callback_data=Rate(action="skip", film_id=7).pack()),
            ],
            [InlineKeyboardButton(text="TMDB", url="https://www.themoviedb.org/movie/949")],
        ]
    )


@dataclass
class Seen:
    """What the test handlers received."""

    callbacks: list[tuple[Rate, Message]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def build_dispatcher(seen: Seen) -> Dispatcher:
    router = Router()

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        assert message.text is not None
        seen.commands.append(message.text)
        await message.answer("<b>Heat</b> (1995) — Mann &amp; co.", reply_markup=keyboard())

    @router.callback_query(Rate.filter())
    async def rate(query: CallbackQuery, callback_data: Rate) -> None:
        assert isinstance(query.message, Message)
        seen.callbacks.append((callback_data, query.message))
        await query.message.edit_text(f"Marked as <i>{callback_data.action}</i>.")
        await query.answer("Saved", show_alert=callback_data.action == "skip")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}", parse_mode=None)

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


@pytest.fixture
def output() -> list[str]:
    return []


@pytest.fixture
async def bot(output: list[str]) -> AsyncIterator[Bot]:
    bot = console_bot(on_output=output.append)
    async with bot.context():
        yield bot


@pytest.fixture
def session(bot: Bot) -> LocalSession:
    assert isinstance(bot.session, LocalSession)
    return bot.session


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def chat(bot: Bot, seen: Seen, output: list[str]) -> ConsoleChat:
    return ConsoleChat(build_dispatcher(seen), bot, USER, out=output.append)


# --- the console chat -------------------------------------------------------------------------------


async def test_start_renders_text_and_numbered_buttons(chat: ConsoleChat, output: list[str]) -> None:
    await chat.send("/start")

    assert output == ["Heat (1995) — Mann & co.\n[1] ✅ Watched  [2] ⏭ Skip\n[3] TMDB ↗"]


async def test_tapping_a_button_runs_the_callback_handler_with_its_data(
    chat: ConsoleChat, session: LocalSession, seen: Seen, output: list[str]
) -> None:
    await chat.send("/start")
    sent = session.last_message(CHAT)
    assert sent is not None
    output.clear()

    await chat.send("[2]")

    [(data, message)] = seen.callbacks
    assert data == Rate(action="skip", film_id=7)
    assert (message.chat.id, message.message_id) == (CHAT, sent.message_id)
    assert message.text == "<b>Heat</b> (1995) — Mann &amp; co."
    assert output == ["✏️ Marked as skip.", "⚠️ Saved"]
    edited = session.messages[(CHAT, sent.message_id)]
    assert edited.text == "Marked as <i>skip</i>."
    assert edited.reply_markup is None
    assert edited.edit_date is not None
    assert session.sent_texts(CHAT) == ["<b>Heat</b> (1995) — Mann &amp; co.", "Marked as <i>skip</i>."]
    assert session.sent_texts(CHAT, plain=True)[-1] == "Marked as skip."
    assert set(session.callback_answers) == {"cbq-1"}


async def test_url_button_prints_its_url_and_missing_buttons_are_reported(
    chat: ConsoleChat, output: list[str], seen: Seen
) -> None:
    await chat.send("[1]")
    await chat.send("/start")
    output.clear()

    await chat.send("[3]")
    await chat.send("[9]")

    assert output == ["🔗 https://www.themoviedb.org/movie/949", "No button [9] on the last keyboard."]
    assert seen.callbacks == []


async def test_an_edit_that_drops_the_keyboard_leaves_no_button_to_tap(
    chat: ConsoleChat, output: list[str]
) -> None:
    await chat.send("/start")
    await chat.send("[1]")
    output.clear()

    await chat.send("[1]")

    assert output == ["No button [1] on the last keyboard."]


async def test_text_messages_reach_the_text_handler(chat: ConsoleChat, output: list[str]) -> None:
    await chat.send("hello <there>")

    assert output == ["echo: hello <there>"]


async def test_command_gets_a_bot_command_entity_and_matches_with_the_bot_mention(
    chat: ConsoleChat, seen: Seen, output: list[str]
) -> None:
    update = UpdateFactory().message(USER, "/start@WhatToWatchBot now")
    assert update.message is not None
    [entity] = update.message.entities or []
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, len("/start@WhatToWatchBot"))

    await chat.send("/start@WhatToWatchBot")
    await chat.send("/start@SomeOtherBot")

    assert seen.commands == ["/start@WhatToWatchBot"]
    assert output[-1] == "echo: /start@SomeOtherBot"


async def test_unhandled_update_says_so(bot: Bot, output: list[str]) -> None:
    chat = ConsoleChat(Dispatcher(), bot, USER, out=output.append)

    await chat.send("anyone?")

    assert output == ["(no handler answered that)"]


async def test_run_script_echoes_lines_and_replies(
    chat: ConsoleChat, output: list[str], tmp_path: Path
) -> None:
    script = tmp_path / "demo.txt"
    script.write_text("# a comment\n\n/start\n[1]\nthanks\n", encoding="utf-8")

    await chat.run_script(script)

    assert output == [
        "> /start",
        "Heat (1995) — Mann & co.\n[1] ✅ Watched  [2] ⏭ Skip\n[3] TMDB ↗",
        "> [1]",
        "✏️ Marked as watched.",
        "💬 Saved",
        "> thanks",
        "echo: thanks",
    ]


async def test_run_interactive_reads_until_quit(
    chat: ConsoleChat, output: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = iter(["hi", "", "/quit", "never read"])
    prompts: list[str] = []

    def fake_input(prompt: str) -> str:
        prompts.append(prompt)
        return next(lines)

    monkeypatch.setattr("builtins.input", fake_input)

    await chat.run_interactive()

    assert output == [BANNER, "echo: hi"]
    assert prompts == ["you> "] * 3


async def test_run_interactive_ends_on_eof_and_survives_handler_errors(
    bot: Bot, output: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    router = Router()

    @router.message()
    async def broken(message: Message) -> None:
        await message.answer("")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    chat = ConsoleChat(dispatcher, bot, USER, out=output.append)
    lines = iter(["boom"])

    def fake_input(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)

    await chat.run_interactive()

    assert output[1].startswith("💥 TelegramBadRequest:")
    assert "message text is empty" in output[1]


async def test_console_chat_needs_a_local_session() -> None:
    real = Bot(CONSOLE_TOKEN)
    try:
        with pytest.raises(TypeError, match="LocalSession"):
            ConsoleChat(Dispatcher(), real, USER)
    finally:
        await real.session.close()


# --- the session: answers -------------------------------------------------------------------------


async def test_get_me_is_the_console_bot(bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.is_bot, me.username, me.first_name) == (
        1234567890,
        True,
        "WhatToWatchBot",
        "WhatToWatch",
    )


async def test_send_message_returns_a_bound_message_with_per_chat_ids(
    bot: Bot, session: LocalSession
) -> None:
    first = await bot.send_message(CHAT, "one")
    second = await bot.send_message(CHAT, "two", reply_markup=keyboard())
    other = await bot.send_message(7, "elsewhere")

    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert second.chat.id == CHAT and second.chat.type == "private"
    assert second.from_user is not None and second.from_user.username == "WhatToWatchBot"
    assert second.entities is None
    assert dump(second.reply_markup) == dump(keyboard())
    assert second.bot is bot
    assert session.messages[(CHAT, 2)] is second
    assert session.sent_texts() == ["one", "two", "elsewhere"]
    assert session.sent_texts(7) == ["elsewhere"]
    assert [type(call) for call in session.calls] == [SendMessage] * 3


async def test_edit_message_text_updates_the_transcript(
    bot: Bot, session: LocalSession, output: list[str]
) -> None:
    sent = await bot.send_message(CHAT, "Pick", reply_markup=keyboard())

    edited = await sent.edit_text("Picked <b>Heat</b>", reply_markup=keyboard())

    assert isinstance(edited, Message)
    assert edited.text == "Picked <b>Heat</b>"
    assert session.messages[(CHAT, sent.message_id)] == edited
    assert dump(session.last_markup(CHAT)) == dump(keyboard())
    assert output[-1] == "✏️ Picked Heat\n[1] ✅ Watched  [2] ⏭ Skip\n[3] TMDB ↗"
    assert isinstance(session.calls[-1], EditMessageText)
    assert await bot.edit_message_text("inline", inline_message_id="abc") is True


async def test_last_markup_follows_keyboards_being_removed(bot: Bot, session: LocalSession) -> None:
    older = await bot.send_message(CHAT, "older", reply_markup=keyboard())
    newer = await bot.send_message(CHAT, "newer", reply_markup=InlineKeyboardMarkup(inline_keyboard=[]))
    await bot.send_message(CHAT, "no keyboard at all")
    assert session.last_markup(CHAT) is newer.reply_markup

    await newer.edit_reply_markup(reply_markup=None)
    assert dump(session.last_markup(CHAT)) == dump(keyboard())

    await older.edit_text("older, keyboard gone")
    assert session.last_markup(CHAT) is None
    assert session.last_markup(999) is None


async def test_delete_message_forgets_it(bot: Bot, session: LocalSession, output: list[str]) -> None:
    sent = await bot.send_message(CHAT, "temporary", reply_markup=keyboard())

    assert await sent.delete() is True

    assert (CHAT, sent.message_id) not in session.messages
    assert session.last_markup(CHAT) is None
    assert output[-1] == "🗑 (message deleted)"
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await sent.delete()


async def test_simple_methods_answer_true_and_get_updates_never_polls(
    bot: Bot, session: LocalSession
) -> None:
    commands = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="help", description="Help"),
    ]

    assert await bot.set_my_commands(commands) is True
    assert await bot.get_my_commands() == commands
    assert await bot.delete_my_commands() is True
    assert await bot.send_chat_action(CHAT, "typing") is True
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert await bot.log_out() is True
    assert await bot.close() is True
    assert await bot.get_updates() == []
    assert session.commands == []


async def test_callback_answers_render_as_notifications_or_alerts(bot: Bot, output: list[str]) -> None:
    assert await bot.answer_callback_query("q1") is True
    await bot.answer_callback_query("q2", text="Saved")
    await bot.answer_callback_query("q3", text="Careful", show_alert=True)

    assert output == ["💬 Saved", "⚠️ Careful"]


async def test_send_document_records_the_file_and_it_can_be_downloaded(
    bot: Bot, session: LocalSession, output: list[str]
) -> None:
    sent = await bot.send_document(
        CHAT,
        BufferedInputFile(b"Name,Year\nHeat,1995\n", filename="ratings.csv"),
        caption="Your <b>export</b>",
    )

    assert sent.document is not None
    assert (sent.document.file_name, sent.document.mime_type, sent.document.file_size) == (
        "ratings.csv",
        "text/csv",
        20,
    )
    assert [(doc.chat_id, doc.file_name, doc.caption) for doc in session.documents] == [
        (CHAT, "ratings.csv", "Your <b>export</b>")
    ]
    assert output == ["📎 ratings.csv\nYour export"]
    downloaded = await bot.download(sent.document)
    assert isinstance(downloaded, io.BytesIO)
    assert downloaded.read() == b"Name,Year\nHeat,1995\n"


async def test_a_document_from_the_user_can_be_downloaded_by_the_handler(
    bot: Bot, session: LocalSession
) -> None:
    received: list[bytes] = []
    router = Router()

    @router.message(F.document)
    async def on_document(message: Message, bot: Bot) -> None:
        assert message.document is not None
        data = await bot.download(message.document)
        assert data is not None
        received.append(data.read())
        await message.answer(f"Got {message.document.file_name}")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    updates = UpdateFactory(session)

    await dispatcher.feed_update(bot, updates.document(USER, "letterboxd.zip", data=b"PK\x03\x04zip"))

    assert received == [b"PK\x03\x04zip"]
    assert session.sent_texts(CHAT) == ["Got letterboxd.zip"]
    with pytest.raises(TelegramBadRequest, match="wrong file_id"):
        await bot.get_file("nope")


async def test_unknown_methods_fail_loudly(bot: Bot) -> None:
    with pytest.raises(NotImplementedError, match="LocalSession does not answer GetChat"):
        await bot.get_chat(CHAT)


async def test_stream_content_serves_only_registered_files(session: LocalSession) -> None:
    with pytest.raises(NotImplementedError):
        async for _ in session.stream_content("https://example.org/file"):
            pass


# --- the session: Telegram-like validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "message text is empty"),
        ("  <b> </b> ", "message text is empty"),
        ("x" * 4097, "message is too long"),
        ("Top 10 <3", "can't parse entities: Unclosed start tag at byte offset 7"),
        ("a <b>c</b> <i>", "can't parse entities: Can't find end tag corresponding to start tag \"i\""),
        (
            "<b><i>x</b></i>",
            'can\'t parse entities: Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
        ),
        ("line<br>break", 'can\'t parse entities: Unsupported start tag "br" at byte offset 4'),
        ("Fast &amp; Furious <3 ", 'can\'t parse entities: Unsupported start tag "3" at byte offset 19'),
    ],
)
async def test_bad_text_is_rejected_like_telegram(
    bot: Bot, session: LocalSession, text: str, error: str
) -> None:
    with pytest.raises(TelegramBadRequest, match=re.escape(f"Bad Request: {error}")) as caught:
        await bot.send_message(CHAT, text)

    assert isinstance(caught.value.method, SendMessage)
    assert session.messages == {}
    assert session.sent_texts() == []
    assert len(session.calls) == 1


async def test_exactly_4096_characters_is_fine_and_plain_mode_is_not_parsed(bot: Bot) -> None:
    await bot.send_message(CHAT, "y" * 4096)
    await bot.send_message(CHAT, "Top 10 <3", parse_mode=None)


async def test_callback_data_over_64_bytes_is_rejected(bot: Bot) -> None:
    ok = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="ok", callback_data="a" * 64)]])
    too_long = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="no", callback_data="a" * 65)]]
    )
    no_action = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="inert")]])

    sent = await bot.send_message(CHAT, "fits", reply_markup=ok)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "too much", reply_markup=too_long)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await sent.edit_reply_markup(reply_markup=too_long)
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(CHAT, "inert", reply_markup=no_action)


async def test_editing_a_missing_message_is_rejected(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to edit not found"):
        await bot.edit_message_text("new", chat_id=CHAT, message_id=99)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to edit not found"):
        await bot.edit_message_reply_markup(chat_id=CHAT, message_id=99, reply_markup=keyboard())


async def test_an_edit_that_changes_nothing_is_rejected(bot: Bot, session: LocalSession) -> None:
    sent = await bot.send_message(CHAT, "Same", reply_markup=keyboard())

    with pytest.raises(TelegramBadRequest, match="Bad Request: message is not modified"):
        await sent.edit_text("Same", reply_markup=keyboard())
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is not modified"):
        await sent.edit_reply_markup(reply_markup=keyboard())

    await sent.edit_text("Same")  # dropping the keyboard is a change
    assert session.last_markup(CHAT) is None


async def test_invalid_bot_commands_are_rejected(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start", description="Start")])


# --- helpers ----------------------------------------------------------------------------------------


def test_html_to_text_decodes_only_telegram_entities_and_shows_links() -> None:
    text = (
        'Tom &amp; Jerry &lt;3 &#169; &nbsp; <a href="https://x.org/?a=1&amp;b=2">site</a> '
        "<code>a&gt;b</code> <span class='tg-spoiler'>twist</span>"
    )

    assert html_to_text(text) == "Tom & Jerry <3 © &nbsp; site (https://x.org/?a=1&b=2) a>b twist"


async def test_clear_forgets_the_transcript(bot: Bot, session: LocalSession) -> None:
    await bot.send_message(CHAT, "one", reply_markup=keyboard())
    session.clear()

    assert (session.calls, session.messages, session.sent_texts(), session.last_markup(CHAT)) == (
        [],
        {},
        [],
        None,
    )
    assert (await bot.send_message(CHAT, "two")).message_id == 2


def test_update_factory_numbers_updates_and_messages() -> None:
    updates = UpdateFactory()
    first = updates.message(USER, "hi")
    second = updates.message(USER, "/help")

    assert (first.update_id, second.update_id) == (1, 2)
    assert first.message is not None and second.message is not None
    assert (first.message.message_id, second.message.message_id) == (1, 2)
    assert first.message.entities is None
    assert first.message.chat.id == USER.telegram_id and first.message.chat.type == "private"
    assert first.message.from_user is not None and first.message.from_user.language_code == "en"

    callback = updates.callback(USER, first.message, "rate:skip:7")
    assert callback.update_id == 3
    assert callback.callback_query is not None
    assert (callback.callback_query.data, callback.callback_query.from_user.id) == ("rate:skip:7", 42)
    assert callback.callback_query.message == first.message

    document = updates.document(USER, "ratings.csv", "file-1", "text/csv", 123)
    assert document.message is not None and document.message.document is not None
    assert (document.message.document.file_id, document.message.document.file_size) == ("file-1", 123)


async def test_file_lines_send_documents_the_bot_can_download(
    bot: Bot, output: list[str], tmp_path: Path
) -> None:
    router = Router()

    @router.message(F.document)
    async def got(message: Message, bot: Bot) -> None:
        assert message.document is not None
        downloaded = await bot.download(message.document)
        assert downloaded is not None
        await message.answer(f"{message.document.file_name}: {downloaded.read().decode()}", parse_mode=None)

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    chat = ConsoleChat(dispatcher, bot, USER, out=output.append)
    (tmp_path / "ratings.csv").write_text("Name,Rating", encoding="utf-8")

    await chat.send(f":file {tmp_path / 'ratings.csv'}")
    await chat.send(":file /nonexistent/export.zip")
    await chat.send(":wait 0.01")

    assert output == [
        "ratings.csv: Name,Rating",
        "Can't read /nonexistent/export.zip: No such file or directory",
    ]
