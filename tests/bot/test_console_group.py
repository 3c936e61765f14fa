"""Group chats in the local Bot API (`bot.console`): the update factory's group messages and
events, getChatMember, chat-labelled output, the console's group mode and the group harness.

A throwaway Dispatcher stands in for the bot (the project's group feature is tested elsewhere):
it greets a group it is added to, posts a keyboard on /together, three vote cards on /pick, and
records what reached it.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import (
    CallbackQuery,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.app import App
from bot.cli import _console, _parser
from bot.console import (
    BOT_ID,
    BOT_USERNAME,
    GROUP_HINT,
    ChatUser,
    ConsoleChat,
    GroupChat,
    LocalSession,
    UpdateFactory,
    console_bot,
)
from tests.bot.conftest import GroupChatHarness

GROUP = GroupChat(-100123, "Film club")
ANNA = ChatUser(telegram_id=101, first_name="Anna")
BEN = ChatUser(telegram_id=102, first_name="Ben")


@dataclass
class Seen:
    """What the throwaway bot received: (event, chat id, user id, detail)."""

    events: list[tuple[str, int, int, str]] = field(default_factory=list)


def buttons(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=data) for text, data in pairs]]
    )


def build_dispatcher(seen: Seen) -> Dispatcher:
    router = Router()

    @router.my_chat_member()
    async def membership(event: ChatMemberUpdated, bot: Bot) -> None:
        change = f"{event.old_chat_member.status}->{event.new_chat_member.status}"
        seen.events.append(("my_chat_member", event.chat.id, event.from_user.id, change))
        if event.new_chat_member.status == "member":
            await bot.send_message(event.chat.id, f"Hi {event.chat.title}!")

    @router.message(Command("together"))
    async def together(message: Message) -> None:
        await message.answer("Who's in?", reply_markup=buttons(("🙋 I'm in", "in")))

    @router.message(Command("pick"))
    async def pick(message: Message) -> None:
        for n in (1, 2, 3):
            await message.answer(
                f"Pick {n}", reply_markup=buttons(("👍", f"vote:{n}:up"), ("👎", f"vote:{n}:down"))
            )

    @router.callback_query()
    async def tapped(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message) and query.data is not None
        seen.events.append(("tap", query.message.chat.id, query.from_user.id, query.data))
        await query.answer(f"{query.from_user.first_name}: {query.data}")

    @router.message(F.left_chat_member)
    async def left(message: Message) -> None:
        assert message.left_chat_member is not None and message.from_user is not None
        seen.events.append(("left", message.chat.id, message.from_user.id, str(message.left_chat_member.id)))
        await message.answer(f"Bye {message.left_chat_member.first_name}")

    @router.message(F.migrate_to_chat_id)
    async def migrated(message: Message) -> None:
        seen.events.append(("migrate_to", message.chat.id, 0, str(message.migrate_to_chat_id)))

    @router.message(F.migrate_from_chat_id)
    async def migrated_from(message: Message) -> None:
        seen.events.append(("migrate_from", message.chat.id, 0, str(message.migrate_from_chat_id)))
        await message.answer("Moved in")

    @router.message(F.document)
    async def document(message: Message) -> None:
        assert message.document is not None and message.from_user is not None
        seen.events.append(
            ("document", message.chat.id, message.from_user.id, message.document.file_name or "")
        )

    @router.message(F.text)
    async def text(message: Message) -> None:
        assert message.from_user is not None and message.text is not None
        seen.events.append(("text", message.chat.id, message.from_user.id, message.text))
        await message.answer(f"{message.from_user.first_name} said {message.text}")

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
def group_chat(bot: Bot, seen: Seen, output: list[str]) -> ConsoleChat:
    return ConsoleChat(build_dispatcher(seen), bot, out=output.append, group=GROUP, members={101: "Zoe"})


# --- UpdateFactory -----------------------------------------------------------------------------------


def test_group_messages_come_from_the_member_in_the_group_numbered_per_chat(session: LocalSession) -> None:
    updates = UpdateFactory(session)
    session.next_message_id(GROUP.chat_id)  # the bot's message 1 in the group

    in_group = updates.message(ANNA, "/together@" + BOT_USERNAME, GROUP).message
    in_private = updates.message(ANNA, "hi").message
    document = updates.document(BEN, "list.csv", data=b"a,b", chat=GROUP).message

    assert in_group is not None and in_private is not None and document is not None
    assert (in_group.chat.id, in_group.chat.type, in_group.chat.title) == (-100123, "supergroup", "Film club")
    assert in_group.from_user is not None and in_group.from_user.first_name == "Anna"
    assert in_group.entities is not None and in_group.entities[0].type == "bot_command"
    assert (in_group.message_id, document.message_id, in_private.message_id) == (2, 3, 1)
    assert (in_private.chat.id, in_private.chat.type) == (101, "private")
    assert document.chat.id == -100123 and document.from_user is not None and document.from_user.id == 102
    assert session.chat_titles == {-100123: "Film club"}
    assert session.user_names == {101: "Anna", 102: "Ben"}

    tap = updates.callback(BEN, in_group, "vote:1:up").callback_query
    assert tap is not None and tap.message is not None
    assert (tap.message.chat.id, tap.from_user.id, tap.chat_instance) == (
        -100123,
        102,
        "chat-instance--100123",
    )
    assert session.callback_origins[tap.id] == (-100123, 102)


def test_a_group_chat_id_is_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        GroupChat(100123)
    assert GroupChat(-5, type="group").as_chat().type == "group"


def test_my_chat_member_is_the_bots_own_membership_and_updates_the_registry(session: LocalSession) -> None:
    updates = UpdateFactory(session)

    added = updates.my_chat_member(GROUP, ANNA, "left", "member").my_chat_member
    assert added is not None
    assert (added.chat.id, added.from_user.id) == (-100123, 101)
    assert isinstance(added.old_chat_member, ChatMemberLeft)
    assert isinstance(added.new_chat_member, ChatMemberMember)
    bot_user = added.new_chat_member.user
    assert (bot_user.id, bot_user.is_bot, bot_user.username) == (BOT_ID, True, BOT_USERNAME)
    assert session.chat_members[-100123][BOT_ID] == "member"

    removed = updates.my_chat_member(GROUP, ANNA, "member", "kicked").my_chat_member
    assert removed is not None and isinstance(removed.new_chat_member, ChatMemberBanned)
    assert session.chat_members[-100123][BOT_ID] == "kicked"

    with pytest.raises(ValueError, match="unknown chat member status"):
        updates.my_chat_member(GROUP, ANNA, "member", "gone")


def test_service_messages_for_members_leaving_joining_and_migrations(session: LocalSession) -> None:
    updates = UpdateFactory(session)
    basic = GroupChat(-555, "Film club", "group")
    session.set_chat_member(-555, 101)

    left = updates.member_left(basic, ANNA).message
    joined = updates.member_joined(basic, [BEN, ChatUser(103, "Chris")], by=ANNA).message
    moved = updates.migrated(basic, -100777, ANNA).message
    arrived = updates.migrated_from(GroupChat(-100777, "Film club"), -555, ANNA).message

    assert left is not None and left.left_chat_member is not None and left.from_user is not None
    assert (left.chat.id, left.left_chat_member.id, left.from_user.id) == (-555, 101, 101)
    assert joined is not None and joined.new_chat_members is not None and joined.from_user is not None
    assert [user.id for user in joined.new_chat_members] == [102, 103] and joined.from_user.id == 101
    assert moved is not None and (moved.chat.id, moved.chat.type, moved.migrate_to_chat_id) == (
        -555,
        "group",
        -100777,
    )
    assert arrived is not None and (arrived.chat.id, arrived.migrate_from_chat_id) == (-100777, -555)
    assert [m.message_id for m in (left, joined, moved)] == [1, 2, 3] and arrived.message_id == 1
    assert session.chat_members[-555] == {101: "left", 102: "member", 103: "member"}
    assert session.chat_members[-100777] == session.chat_members[-555]  # the members moved along
    assert session.chat_titles[-100777] == "Film club"


# --- LocalSession --------------------------------------------------------------------------------------


async def test_get_chat_member_answers_from_the_registry(bot: Bot, session: LocalSession) -> None:
    session.set_chat_member(-100123, 101, "administrator", first_name="Anna")
    session.set_chat_member(-100123, 102, "creator")
    session.set_chat_member(-100123, 103, "kicked")

    admin = await bot.get_chat_member(-100123, 101)
    owner = await bot.get_chat_member(-100123, 102)
    banned = await bot.get_chat_member(-100123, 103)
    stranger = await bot.get_chat_member(-100123, 999)
    itself = await bot.get_chat_member(-100123, bot.id)
    private = await bot.get_chat_member(42, 42)

    assert isinstance(admin, ChatMemberAdministrator) and admin.user.first_name == "Anna"
    assert isinstance(owner, ChatMemberOwner) and owner.user.first_name == "102"
    assert isinstance(banned, ChatMemberBanned)
    assert isinstance(stranger, ChatMemberLeft) and stranger.user.id == 999
    assert isinstance(itself, ChatMemberMember) and itself.user.is_bot
    assert isinstance(private, ChatMemberMember)
    with pytest.raises(TelegramBadRequest, match="user not found"):
        await bot.get_chat_member(42, 7)
    with pytest.raises(ValueError, match="unknown chat member status"):
        session.set_chat_member(-100123, 101, "owner")


async def test_group_messages_are_typed_and_titled_and_keyboards_listed_newest_first(
    bot: Bot, session: LocalSession
) -> None:
    session.chat_titles[-100123] = "Film club"
    first = await bot.send_message(-100123, "one", reply_markup=buttons(("a", "a")))
    await bot.send_message(-100123, "plain")
    second = await bot.send_message(-100123, "two", reply_markup=buttons(("b", "b")))
    await bot.send_message(42, "private", reply_markup=buttons(("c", "c")))

    assert (first.chat.type, first.chat.title) == ("supergroup", "Film club")
    assert [m.message_id for m in session.keyboard_messages(-100123)] == [second.message_id, first.message_id]
    await bot.edit_message_reply_markup(chat_id=-100123, message_id=second.message_id, reply_markup=None)
    assert [m.message_id for m in session.keyboard_messages(-100123)] == [first.message_id]
    assert session.last_keyboard_message(-100123) == session.keyboard_messages(-100123)[0]


async def test_label_chats_prefixes_output_with_its_chat(
    bot: Bot, session: LocalSession, output: list[str]
) -> None:
    await bot.send_message(-100123, "unlabelled by default")
    session.label_chats = True
    session.chat_titles[-100123] = "Film club"
    session.user_names[101] = "Anna"
    updates = UpdateFactory(session)

    card = await bot.send_message(-100123, "<b>Heat</b>", reply_markup=buttons(("👍", "up")))
    await bot.send_message(101, "psst")
    await bot.send_message(7, "who?")
    await bot.edit_message_text("Heat (voted)", chat_id=-100123, message_id=card.message_id)
    group_tap = updates.callback(BEN, card, "up").callback_query
    assert group_tap is not None
    await bot.answer_callback_query(group_tap.id, "Counted")
    private_tap = updates.callback(ANNA, await bot.send_message(101, "ok?"), "y").callback_query
    assert private_tap is not None
    await bot.answer_callback_query(private_tap.id, "Fine", show_alert=True)

    assert output == [
        "unlabelled by default",
        "[group Film club] Heat\n[1] 👍",
        "[private Anna] psst",
        "[private 7] who?",
        "[group Film club] ✏️ Heat (voted)",
        "[group Film club → Ben] 💬 Counted",
        "[private Anna] ok?",
        "[private Anna] ⚠️ Fine",
    ]


# --- ConsoleChat: group mode ---------------------------------------------------------------------------


async def test_group_script_speakers_taps_private_lines_and_the_bot_added_first(
    group_chat: ConsoleChat, session: LocalSession, seen: Seen, output: list[str], tmp_path: Path
) -> None:
    script = tmp_path / "group.txt"
    script.write_text(
        "# watch together\n"
        "@101 /together\n"
        "@102 [1]\n"
        "no speaker here\n"
        "@101 /pick\n"
        "@102 [2.1]\n"
        "@103 [1.2]\n"
        "@102 [5.1]\n"
        "@101 :private hi\n"
        "@101 :private [1]\n"
        ":wait 0\n",
        encoding="utf-8",
    )

    await group_chat.run_script(script)

    assert output == [
        "> @101 /together",
        "(Zoe adds WhatToWatch to Film club)",
        "[group Film club] Hi Film club!",
        "[group Film club] Who's in?\n[1] 🙋 I'm in",
        "> @102 [1]",
        "[group Film club → Anna] 💬 Anna: in",
        "> no speaker here",
        GROUP_HINT,
        "> @101 /pick",
        "[group Film club] Pick 1\n[1] 👍  [2] 👎",
        "[group Film club] Pick 2\n[1] 👍  [2] 👎",
        "[group Film club] Pick 3\n[1] 👍  [2] 👎",
        "> @102 [2.1]",
        "[group Film club → Anna] 💬 Anna: vote:2:up",
        "> @103 [1.2]",
        "[group Film club → Ben] 💬 Ben: vote:3:down",
        "> @102 [5.1]",
        "No button [5.1]: keyboard 5 counts back from the latest.",
        "> @101 :private hi",
        "[private Zoe] Zoe said hi",
        "> @101 :private [1]",
        "No button [1] on the last keyboard.",
        "> :wait 0",
    ]
    assert seen.events == [
        ("my_chat_member", -100123, 101, "left->member"),
        ("tap", -100123, 102, "in"),
        ("tap", -100123, 102, "vote:2:up"),
        ("tap", -100123, 103, "vote:3:down"),
        ("text", 101, 101, "hi"),
    ]
    assert session.chat_members[-100123] == {101: "member", BOT_ID: "member", 102: "member", 103: "member"}
    assert {user_id: user.first_name for user_id, user in group_chat.members.items()} == {
        101: "Zoe",
        102: "Anna",
        103: "Ben",
    }


async def test_group_text_and_files_go_into_the_group_from_the_speaker(
    group_chat: ConsoleChat, seen: Seen, output: list[str], tmp_path: Path
) -> None:
    (tmp_path / "list.csv").write_text("Heat", encoding="utf-8")

    await group_chat.send("@104 popcorn?")
    await group_chat.send(f"@101 :file {tmp_path / 'list.csv'}")
    await group_chat.send("@101 :private :file /nonexistent.zip")

    assert seen.events == [
        ("my_chat_member", -100123, 104, "left->member"),
        ("text", -100123, 104, "popcorn?"),
        ("document", -100123, 101, "list.csv"),
    ]
    assert output[-2:] == [
        "[group Film club] Anna said popcorn?",
        "Can't read /nonexistent.zip: No such file or directory",
    ]


async def test_a_line_without_a_speaker_only_prints_the_hint(
    group_chat: ConsoleChat, seen: Seen, output: list[str]
) -> None:
    await group_chat.send("/together")
    await group_chat.send("@101")
    await group_chat.send("[1]")

    assert output == [GROUP_HINT] * 3
    assert seen.events == []  # not even the bot being added


async def test_group_mode_interactive_banner_and_prompt(
    group_chat: ConsoleChat, output: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_input(prompt: str) -> str:
        prompts.append(prompt)
        return "/quit"

    monkeypatch.setattr("builtins.input", fake_input)

    await group_chat.run_interactive()

    assert output == [group_chat.banner] and "Film club" in output[0] and "101=Zoe" in output[0]
    assert prompts == ["group> "]


async def test_console_chat_needs_a_user_or_a_group(bot: Bot) -> None:
    with pytest.raises(TypeError, match="a user"):
        ConsoleChat(Dispatcher(), bot)


async def test_m_dot_n_taps_older_keyboards_in_a_private_chat_too(
    bot: Bot, seen: Seen, output: list[str]
) -> None:
    chat = ConsoleChat(build_dispatcher(seen), bot, ANNA, out=output.append)

    await chat.send("/pick")
    await chat.send("[3.2]")
    await chat.send("[1.1]")

    assert [event[3] for event in seen.events if event[0] == "tap"] == ["vote:1:down", "vote:3:up"]
    assert not any(line.startswith("[") for line in output)  # no chat labels outside group mode


# --- the CLI -------------------------------------------------------------------------------------------


def test_cli_parses_group_options_and_rejects_a_positive_group_id(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(
        [
            "console",
            "--group-id",
            "-100123",
            "--group-title",
            "Film club",
            "--member",
            "101=Anna",
            "--member",
            "102=Ben",
        ]
    )
    assert (args.group_id, args.group_title, args.member) == (
        -100123,
        "Film club",
        [(101, "Anna"), (102, "Ben")],
    )
    assert _parser().parse_args(["console"]).group_id is None

    for bad in (["--group-id", "100123"], ["--group-id", "0"], ["--group-id", "club"], ["--member", "Anna"]):
        with pytest.raises(SystemExit):
            _parser().parse_args(["console", *bad])
    error = capsys.readouterr().err
    assert "argument --group-id: a group id is negative (e.g. -100123), not 100123" in error
    assert "argument --member: expected ID=NAME" in error


async def test_cli_console_plays_a_group_script(
    seen: Seen, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "group.txt"
    script.write_text("@101 /together\n@102 [1]\n", encoding="utf-8")
    args = _parser().parse_args(
        ["console", "--group-id", "-100999", "--member", "102=Ben", "--script", str(script)]
    )
    app = cast(App, SimpleNamespace(dispatcher=build_dispatcher(seen)))

    assert await _console(app, args, "", console_bot(on_output=print)) == 0

    assert capsys.readouterr().out.splitlines()[1:5] == [
        "(Anna adds WhatToWatch to Console group)",
        "[group Console group] Hi Console group!",
        "[group Console group] Who's in?",
        "[1] 🙋 I'm in",
    ]
    assert seen.events[-1] == ("tap", -100999, 102, "in")

    lonely = argparse.Namespace(**{**vars(args), "group_id": None})
    assert await _console(app, lonely, "", console_bot()) == 2
    assert "--member names group members; it needs --group-id" in capsys.readouterr().err


# --- the test harness ----------------------------------------------------------------------------------


async def test_group_harness_feeds_the_dispatcher_and_returns_the_groups_texts(
    bot: Bot, session: LocalSession, seen: Seen
) -> None:
    h = GroupChatHarness(
        build_dispatcher(seen),
        bot,
        GroupChat(-100123, "Film club", "group"),
        {101: ANNA, 102: BEN},
        UpdateFactory(session),
    )
    assert session.chat_members[-100123] == {101: "member", 102: "member"}

    assert await h.added(by=101) == ["Hi Film club!"]
    assert await h.say(102, "/together") == ["Who's in?"]
    assert await h.tap(101, "I'm in") == ["Anna: in"]
    await h.say(101, "/pick")
    cards = h.keyboard_messages()
    assert [m.text for m in cards] == ["Pick 3", "Pick 2", "Pick 1", "Who's in?"]
    assert await h.tap(102, "👎", message=cards[2]) == ["Ben: vote:1:down"]
    assert await h.tap_data(102, "forged", message=cards[0]) == ["Ben: forged"]
    assert await h.private(101).say("hello") == ["Anna said hello"]
    assert await h.left(102) == ["Bye Ben"]
    assert (await bot.get_chat_member(-100123, 102)).status == "left"

    assert await h.migrate(-100777) == ["Moved in"]
    assert h.chat_id == -100777 and h.group.type == "supergroup"
    assert await h.say(101, "still here") == ["Anna said still here"]
    assert await h.removed(by=101) == []
    assert seen.events[-4:] == [
        ("migrate_to", -100123, 0, "-100777"),
        ("migrate_from", -100777, 0, "-100123"),
        ("text", -100777, 101, "still here"),
        ("my_chat_member", -100777, 101, "member->kicked"),
    ]
    assert session.chat_members[-100777][BOT_ID] == "kicked"
