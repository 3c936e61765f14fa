"""The fake Telegram Bot API answers a real aiogram `Bot` (AiohttpSession → loopback HTTP)
the way Telegram does: result objects, errors, long polling, webhook delivery, faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import BotCommand, BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web

from tests.fakes.telegram_bot import FakeBot
from tests.fakes.telegram_records import make_token
from tests.fakes.telegram_server import FakeTelegramServer

USER = 4242


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeTelegramServer) -> AsyncIterator[Bot]:
    """A real aiogram Bot on a fresh token (so a fresh fake bot state) aimed at the fake."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
    real = Bot(make_token(), session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    async with real:
        yield real


@pytest.fixture
def fake(server: FakeTelegramServer, bot: Bot) -> FakeBot:
    state = server.bot(bot.token)
    state.user(USER, "Ann")  # the user has written to the bot: their chat exists
    return state


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=f"cb:{label}") for label in labels]]
    )


# --- methods and results


async def test_get_me_is_the_bot_of_the_token(bot: Bot, fake: FakeBot) -> None:
    me = await bot.get_me()
    assert me.id == bot.id == fake.id and me.is_bot and me.username == fake.username
    [call] = fake.calls_of("getMe")
    assert call.status == 200 and call.at > 0


async def test_messages_get_increasing_ids_per_chat_and_plain_text(bot: Bot, fake: FakeBot) -> None:
    fake.user(USER + 1)
    first = await bot.send_message(USER, "<b>Hi</b> &amp; welcome", reply_markup=keyboard("A", "B"))
    second = await bot.send_message(USER, "again")
    other = await bot.send_message(USER + 1, "elsewhere")
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert first.text == "Hi & welcome" and first.chat.id == USER and first.from_user is not None
    assert first.reply_markup is not None and first.date.timestamp() > 0
    assert first.reply_markup.model_dump(exclude_none=True) == keyboard("A", "B").model_dump(
        exclude_none=True
    )
    call = fake.calls_of("sendMessage", chat_id=USER)[0]
    assert call.params["chat_id"] == USER and call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "cb:A"
    assert fake.texts_to(USER) == ["Hi & welcome", "again"]


async def test_errors_are_telegrams(bot: Bot, fake: FakeBot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999_999, "who?")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER, "1 < 2")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "x" * 4097)
    message = await bot.send_message(USER, "same", reply_markup=keyboard("A"))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            text="same", chat_id=USER, message_id=message.message_id, reply_markup=keyboard("A")
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=USER, message_id=99)
    assert [c.status for c in fake.calls_of("sendMessage")] == [400, 400, 400, 200]


async def test_edits_change_the_stored_message(bot: Bot, fake: FakeBot) -> None:
    message = await bot.send_message(USER, "question", reply_markup=keyboard("Yes", "No"))
    edited = await bot.edit_message_text(
        text="<i>answered</i>", chat_id=USER, message_id=message.message_id, reply_markup=keyboard("Undo")
    )
    assert not isinstance(edited, bool) and edited.text == "answered" and edited.edit_date is not None
    gone = await bot.edit_message_reply_markup(chat_id=USER, message_id=message.message_id, reply_markup=None)
    assert not isinstance(gone, bool) and gone.reply_markup is None
    assert fake.messages[(USER, message.message_id)]["text"] == "answered"
    with pytest.raises(TelegramBadRequest, match="no caption"):
        await bot.edit_message_caption(chat_id=USER, message_id=message.message_id, caption="c")
    assert await bot.delete_message(USER, message.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, message.message_id)


async def test_files_round_trip(bot: Bot, fake: FakeBot) -> None:
    sent = await bot.send_document(
        USER, BufferedInputFile(b"a,b\n1,2\n", "export.csv"), caption="<b>yours</b>"
    )
    assert sent.document is not None and sent.document.file_name == "export.csv" and sent.caption == "yours"
    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None and file.file_size == 8
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == b"a,b\n1,2\n"
    edited = await bot.edit_message_caption(chat_id=USER, message_id=sent.message_id, caption="new")
    assert not isinstance(edited, bool) and edited.caption == "new"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (1080).to_bytes(4, "big") + (1350).to_bytes(4, "big")
    photo = await bot.send_photo(USER, BufferedInputFile(png, "chart.png"))
    assert photo.photo is not None and (photo.photo[0].width, photo.photo[0].height) == (1080, 1350)
    stored = fake.add_file(b"zip bytes", "export.zip")  # a file a user sent
    assert (await bot.download(stored.file_id)).read() == b"zip bytes"  # type: ignore[union-attr]
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")


async def test_menus_descriptions_and_small_methods(bot: Bot, fake: FakeBot) -> None:
    commands = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="help", description="Help"),
    ]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands(commands[:1], language_code="ru")
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("start", "Start"),
        ("help", "Help"),
    ]
    assert [c.command for c in await bot.get_my_commands(language_code="ru")] == ["start"]
    assert await bot.get_my_commands(language_code="es") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])
    assert await bot.set_my_description("Films for you") and await bot.set_my_short_description("Films")
    assert (await bot.get_my_description()).description == "Films for you"
    assert (await bot.get_my_short_description()).short_description == "Films"
    assert await bot.send_chat_action(USER, "typing")
    with pytest.raises(TelegramBadRequest):
        await bot.send_chat_action(USER, "dancing")


async def test_a_callback_query_is_answered_once(bot: Bot, fake: FakeBot) -> None:
    message = await bot.send_message(USER, "pick", reply_markup=keyboard("A", "B"))
    update = fake.tap_update(USER, "B")
    query = update["callback_query"]
    assert query["data"] == "cb:B" and query["message"]["message_id"] == message.message_id
    assert query["from"]["id"] == USER
    assert await bot.answer_callback_query(query["id"], text="ok")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query["id"])


# --- faults


async def test_faults_hit_the_chosen_method_chat_and_count(bot: Bot, fake: FakeBot) -> None:
    fake.user(USER + 1)
    fake.fail("sendMessage", "retry_after", chat_id=USER, times=1, retry_after=7)
    fake.fail("sendMessage", "blocked", chat_id=USER + 1, times=2)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "slow down")
    assert caught.value.retry_after == 7
    assert (await bot.send_message(USER, "now fine")).text == "now fine"
    for _ in range(2):
        with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
            await bot.send_message(USER + 1, "hello?")
    assert await bot.send_message(USER + 1, "unblocked")
    assert [c.status for c in fake.calls_of("sendMessage")] == [429, 200, 403, 403, 200]
    assert fake.calls_of("sendMessage")[0].parameters == {"retry_after": 7}


async def test_a_held_call_waits_until_released(bot: Bot, fake: FakeBot) -> None:
    hold = fake.hold("sendMessage", chat_id=USER)
    sending = asyncio.create_task(bot.send_message(USER, "held"))
    await asyncio.wait_for(hold.arrived.wait(), 5)
    await asyncio.sleep(0.05)
    assert not sending.done() and hold.held[0].status is None
    hold.release()
    assert (await asyncio.wait_for(sending, 5)).text == "held"
    assert (await bot.send_message(USER, "not held")).text == "not held"  # times=1


# --- long polling


async def test_long_polling_waits_and_offsets_confirm(bot: Bot, fake: FakeBot) -> None:
    assert await bot.get_updates(timeout=0) == []
    polling = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not polling.done()  # a long poll: nothing to give yet
    first = fake.deliver(fake.message_update(USER, "/start"))
    [update] = await asyncio.wait_for(polling, 5)
    assert update.update_id == first.update_id and update.message is not None
    assert update.message.text == "/start" and update.message.chat.id == USER
    assert update.message.entities is not None and update.message.entities[0].type == "bot_command"
    assert not first.done.is_set()  # fetched, not confirmed yet
    second = fake.deliver(fake.message_update(USER, "next"))
    again = await bot.get_updates(offset=update.update_id + 1, timeout=1)
    assert [u.update_id for u in again] == [second.update_id]
    assert first.done.is_set() and first.ok and not second.done.is_set()
    assert second.update["message"]["message_id"] > first.update["message"]["message_id"]


async def test_a_second_poller_ends_the_first_with_409(bot: Bot, fake: FakeBot) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    newer = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(older, 5)
    assert await asyncio.wait_for(newer, 5) == []


# --- webhooks


class Receiver:
    """A webhook endpoint on loopback: answers with the statuses given, then 200."""

    def __init__(self, statuses: list[int], reply: dict[str, object] | None = None) -> None:
        self.statuses = statuses
        self.reply = reply
        self.seen: list[tuple[str | None, dict[str, object]]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response(self.reply or {}, status=status)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_webhook_delivery_with_secret_and_retries(bot: Bot, fake: FakeBot) -> None:
    fake.retry_delays = (0.05, 0.05)
    async with Receiver([503, 500]) as receiver:
        fake.upstreams = [receiver.url]  # a load balancer in front of https://bot.example.test
        assert await bot.set_webhook(
            "https://bot.example.test/hook", secret_token="s3cret_-token", allowed_updates=["message"]
        )
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()
        delivery = await fake.deliver(fake.message_update(USER, "hello")).wait(5)
        assert delivery.ok and [a.status for a in delivery.attempts] == [503, 500, 200]
        assert all(a.url == receiver.url + "/hook" for a in delivery.attempts)
        assert [secret for secret, _ in receiver.seen] == ["s3cret_-token"] * 3
        assert receiver.seen[0][1]["update_id"] == delivery.update_id
        info = await bot.get_webhook_info()
        assert info.url == "https://bot.example.test/hook" and info.allowed_updates == ["message"]
        assert info.last_error_message == "Wrong response from the webhook: 500"
        fake.user(USER)
        await bot.send_message(USER, "buttons", reply_markup=keyboard("A"))
        tap = fake.deliver(fake.tap_update(USER, "A"))
        assert tap.filtered and tap.done.is_set() and len(receiver.seen) == 3  # not an allowed update


async def test_webhook_gives_up_after_the_retries(bot: Bot, fake: FakeBot) -> None:
    fake.retry_delays = (0.05, 0.05)
    async with Receiver([]) as receiver:
        url = receiver.url
    fake.upstreams = [url]  # nothing listens there any more
    await bot.set_webhook("https://bot.example.test/hook")
    delivery = await fake.deliver(fake.message_update(USER, "anyone?")).wait(5)
    assert not delivery.ok and len(delivery.attempts) == 3
    assert all(a.status is None and a.error for a in delivery.attempts)


async def test_a_method_in_the_webhook_answer_is_executed(bot: Bot, fake: FakeBot) -> None:
    reply = {"method": "sendMessage", "chat_id": USER, "text": "answered in the webhook reply"}
    async with Receiver([], reply) as receiver:
        fake.upstreams = [receiver.url]
        await bot.set_webhook("https://bot.example.test/hook")
        await fake.deliver(fake.message_update(USER, "hi")).wait(5)
    [call] = fake.calls_of("sendMessage", chat_id=USER)
    assert call.via_webhook and call.status == 200
    assert fake.texts_to(USER) == ["answered in the webhook reply"]


async def test_set_webhook_is_checked_like_telegram(bot: Bot, server: FakeTelegramServer) -> None:
    with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
        await bot.set_webhook("http://bot.example.test/hook")
    with pytest.raises(TelegramBadRequest, match="ports 80, 88, 443 or 8443"):
        await bot.set_webhook("https://bot.example.test:9000/hook")
    with pytest.raises(TelegramBadRequest, match="secret token"):
        await bot.set_webhook("https://bot.example.test/hook", secret_token="no spaces allowed")
    server.allow_http = True  # a self-hosted Bot API server takes any http URL
    try:
        assert await bot.set_webhook("http://127.0.0.1:9000/hook")
    finally:
        server.allow_http = False
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


async def test_raw_requests_and_unknown_things(server: FakeTelegramServer, fake: FakeBot) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        url = f"{server.base_url}/bot{fake.token}/SENDMESSAGE"  # method names are case-insensitive
        async with http.post(url, json={"chat_id": USER, "text": "123"}) as response:
            body = await response.json()
        assert response.status == 200 and body["ok"] and body["result"]["text"] == "123"
        async with http.get(f"{server.base_url}/bot{fake.token}/sendSticker") as response:
            assert response.status == 404 and (await response.json())["description"] == "Not Found"
        async with http.get(f"{server.base_url}/botnot-a-token/getMe") as response:
            assert response.status == 401 and json.loads(await response.text())["ok"] is False


async def test_a_raw_update_is_delivered_as_given(bot: Bot, fake: FakeBot) -> None:
    sender = {"id": 777, "is_bot": False, "first_name": "Raw"}
    chat = {"id": 777, "type": "private", "first_name": "Raw"}
    delivery = fake.deliver(
        {"message": {"message_id": 9, "date": 0, "chat": chat, "from": sender, "text": "hi"}}
    )
    [update] = await bot.get_updates(timeout=1)
    assert (
        update.update_id == delivery.update_id and update.message is not None and update.message.text == "hi"
    )
    assert (await bot.send_message(777, "hello")).chat.id == 777  # its sender is a chat now
    assert await bot.get_updates(offset=-1, timeout=0) != [] and not delivery.ok
