"""End to end: real `python -m bot run` processes against the fake Telegram Bot API
(tests/fakes/telegram_server.py, real HTTP on loopback) and one real PostgreSQL database.

Three processes start at once (each takes seconds to import and migrate) and serve every
test of this module, which run in file order:

- `polling`: long polling (no TELEGRAM_WEBHOOK_URL), its own token;
- `replica_1`, `replica_2`: webhook mode on one token, one public URL
  (https://bot.example.test) and one secret, each on a free loopback port; the fake plays
  the load balancer in front of them (`FakeBot.balance`). `replica_2` runs the in-process
  worker, so its shutdown stops one.

(a) polling answers /start and stops on SIGTERM after the update in flight; (b) the webhook
refuses a missing or wrong secret with 401 before reading the body and answers the right
one; setWebhook was called once, by one replica, with the secret and the dispatcher's
update types; (c) two parts of one chat's review sent at once, one to each replica, are
handled one after the other; a /review flow alternates between the replicas, the replica
handling the review text is killed with SIGKILL mid-update, the fake redelivers the update
to the other, and the review is stored once with its text; (d) SIGTERM under a burst: exit
0 within the timeout, every update either answered (2xx and its reply sent) or refused
(non-2xx: Telegram redelivers).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Dispatcher
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.database import recreate_database
from bot.web import WEBHOOK_PATH_PREFIX, webhook_path
from db.models import Review
from db.models import User as DbUser
from db.session import create_engine
from tests.fakes.telegram_bot import FakeBot
from tests.fakes.telegram_records import Attempt, Delivery, make_token
from tests.fakes.telegram_server import FakeTelegramServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_URL = "https://bot.example.test"
#: SHUTDOWN_TIMEOUT_SECONDS of the processes: short, so (d) waits little for the update it abandons.
SHUTDOWN_SECONDS = 5.0
#: Seconds a process may take to start (imports, migrations, demo catalog) on a busy 2-core machine.
START_SECONDS = 120.0
POLLING_USER, WEBHOOK_USER, STRANGER, REVIEWER, PARTS_USER = 5001, 5002, 5003, 5004, 5005
BURST_USERS = range(5100, 5112)


@dataclass
class BotProcess:
    """A `python -m bot run` child process and its JSON log (stdout and stderr)."""

    name: str
    process: asyncio.subprocess.Process
    log: Path
    port: int | None = None

    def events(self, event: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                with_event = json.loads(line)
                if with_event.get("event") == event:
                    found.append(with_event)
        return found

    async def wait_event(self, event: str, within: float = START_SECONDS) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while not (found := self.events(event)):
                assert self.process.returncode is None, f"{self.name} exited:\n{self.log.read_text()[-3000:]}"
                await asyncio.sleep(0.1)
        return found[0]

    @property
    def url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    async def signal_and_wait(self, sig: signal.Signals, within: float) -> tuple[int, float]:
        """Send `sig`; return the exit code and the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(sig)
        code = await asyncio.wait_for(self.process.wait(), within)
        return code, time.monotonic() - started


@dataclass
class Cluster:
    telegram: FakeTelegramServer
    engine: AsyncEngine
    polling: BotProcess
    replica_1: BotProcess
    replica_2: BotProcess
    polling_token: str
    webhook_token: str
    secret: str

    @property
    def polling_bot(self) -> FakeBot:
        return self.telegram.bot(self.polling_token)

    @property
    def webhook_bot(self) -> FakeBot:
        return self.telegram.bot(self.webhook_token)


async def _start(name: str, env: dict[str, str], tmp: Path) -> BotProcess:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    return BotProcess(name, process, log)


async def _ready(bot_process: BotProcess) -> BotProcess:
    await bot_process.wait_event("telegram_configured")
    listening = bot_process.events("http_listening")
    if listening:
        bot_process.port = int(listening[0]["port"])
    return bot_process


@pytest.fixture(scope="module")
async def cluster(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    parsed = make_url(database_url)  # named after the test database: parallel runs stay apart
    url = parsed.set(database=f"{parsed.database}_service").render_as_string(hide_password=False)
    await recreate_database(url, migrated=True)
    tmp = tmp_path_factory.mktemp("service")
    polling_token, webhook_token = make_token(), make_token()
    secret = secrets.token_urlsafe(32)  # made now: no secret is written in the tests
    common = {
        "DATABASE_URL": url,
        "TMDB_API_KEY": "",
        "TMDB_READ_ACCESS_TOKEN": "",
        "OPENAI_API_KEY": "",
        "EMBEDDING_PROVIDER": "local",
        "LOG_JSON": "true",
        "LOG_LEVEL": "INFO",
        "SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_SECONDS),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": "0",
        "DB_POOL_SIZE": "3",
    }
    webhook = {"TELEGRAM_BOT_TOKEN": webhook_token, "TELEGRAM_WEBHOOK_URL": PUBLIC_URL}
    webhook["TELEGRAM_WEBHOOK_SECRET"] = secret
    async with FakeTelegramServer() as telegram:
        common["TELEGRAM_API_BASE_URL"] = telegram.base_url
        polling_env = {
            **common,
            "TELEGRAM_BOT_TOKEN": polling_token,
            "TELEGRAM_WEBHOOK_URL": "",
            "TELEGRAM_WEBHOOK_SECRET": "",
            "WORKER_IN_PROCESS": "false",
        }
        started = await asyncio.gather(
            _start("polling", polling_env, tmp),
            _start("replica_1", {**common, **webhook, "WORKER_IN_PROCESS": "false"}, tmp),
            _start("replica_2", {**common, **webhook, "WORKER_IN_PROCESS": "true"}, tmp),
        )
        engine = create_engine(url, pool_size=2)
        try:
            polling, replica_1, replica_2 = await asyncio.gather(*(_ready(p) for p in started))
            yield Cluster(
                telegram, engine, polling, replica_1, replica_2, polling_token, webhook_token, secret
            )
        finally:
            for child in started:
                if child.process.returncode is None:
                    child.process.kill()
                    await child.process.wait()
            await engine.dispose()


async def answered(fake: FakeBot, chat_id: int, *, count: int = 1, within: float = 20.0) -> list[str]:
    """Wait until the bot has sent (or edited) `count` texts into `chat_id`; return them."""
    await fake.wait_for(lambda: len(fake.texts_to(chat_id)) >= count, within=within)
    return fake.texts_to(chat_id)


def replica_of(attempt: Attempt) -> str:
    """The base URL of the replica a webhook attempt went to."""
    return attempt.url.partition(WEBHOOK_PATH_PREFIX)[0]


async def deliver(fake: FakeBot, update: dict[str, Any], within: float = 30.0) -> Delivery:
    delivery = await fake.deliver(update).wait(within)
    assert delivery.ok, delivery.attempts
    return delivery


# --- (a) long polling -------------------------------------------------------------------------


async def test_polling_answers_start_and_stops_after_the_update_in_flight(cluster: Cluster) -> None:
    fake = cluster.polling_bot
    # polling starts right after the set-up calls: wait for its first getUpdates
    await fake.wait_for(lambda: bool(fake.calls_of("getUpdates")), within=20)
    fake.deliver(fake.message_update(POLLING_USER, "/start", first_name="Ann"))
    [welcome] = await answered(fake, POLLING_USER)
    assert "Ann" in welcome and "/review" in welcome

    slow = fake.hold("sendMessage", chat_id=POLLING_USER, seconds=1.5)  # a slow Telegram
    fake.deliver(fake.message_update(POLLING_USER, "/help"))
    await asyncio.wait_for(slow.arrived.wait(), 20)
    sent_at = time.time()
    code, seconds = await cluster.polling.signal_and_wait(signal.SIGTERM, SHUTDOWN_SECONDS + 10)

    assert code == 0 and seconds < SHUTDOWN_SECONDS + 5
    [help_reply] = slow.held
    assert help_reply.status == 200 and help_reply.ended is not None and help_reply.ended > sent_at
    [started] = cluster.polling.events("shutdown_started")
    assert started["mode"] == "polling" and started["updates_in_flight"] == 1
    assert cluster.polling.events("shutdown_drained") and not cluster.polling.events(
        "updates_lost_at_shutdown"
    )


# --- (b) the webhook's secret -------------------------------------------------------------------


async def test_the_webhook_refuses_a_wrong_secret_before_reading_the_body(
    cluster: Cluster, dispatcher: Dispatcher
) -> None:
    fake = cluster.webhook_bot
    endpoint = cluster.replica_1.url + webhook_path(cluster.secret)
    stranger = json.dumps(fake.message_update(STRANGER, "/start"))
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": secrets.token_urlsafe(32)}):
            async with http.post(endpoint, data=stranger, headers=headers) as response:
                assert response.status == 401
            # not JSON at all: still 401, so the body was not parsed first
            async with http.post(endpoint, data=b"\xff not json", headers=headers) as response:
                assert response.status == 401
        async with http.get(cluster.replica_1.url + "/healthz") as response:
            assert response.status == 200 and await response.json() == {"status": "ok"}
        right = {"X-Telegram-Bot-Api-Secret-Token": cluster.secret, "Content-Type": "application/json"}
        update = json.dumps(fake.message_update(WEBHOOK_USER, "/start", first_name="Bea"))
        async with http.post(endpoint, data=update, headers=right) as response:
            assert response.status == 200
    # the handler answered before the webhook did (handle_in_background=False)
    assert "Bea" in fake.texts_to(WEBHOOK_USER)[0]
    assert fake.texts_to(STRANGER) == []
    async with cluster.engine.connect() as conn:
        assert await conn.scalar(select(DbUser.id).where(DbUser.telegram_id == STRANGER)) is None
    assert len(cluster.replica_1.events("webhook_unauthorized")) == 4

    [set_webhook] = fake.calls_of("setWebhook")  # two replicas started: one call
    assert set_webhook.status == 200
    assert set_webhook.params["url"] == PUBLIC_URL + webhook_path(cluster.secret)
    assert set_webhook.params["secret_token"] == cluster.secret
    assert set(set_webhook.params["allowed_updates"]) == set(dispatcher.resolve_used_update_types())
    setups = [p.events("telegram_configured")[0] for p in (cluster.replica_1, cluster.replica_2)]
    assert sorted(s["webhook_set"] for s in setups) == [False, True]
    # the menu: once per language (English + 3 translations), by the same replica
    assert len(fake.calls_of("setMyCommands")) == 4
    # the profile's texts too: once per language (en default, es, pt, ru), by one replica
    assert len(fake.calls_of("setMyDescription")) == len(fake.calls_of("setMyShortDescription")) == 4
    assert sorted(s["commands_set"] for s in setups) == [0, 4]
    assert cluster.secret not in cluster.replica_1.log.read_text() + cluster.replica_2.log.read_text()


# --- health, readiness and metrics of a replica ----------------------------------------------------


async def test_a_replica_serves_health_readiness_and_metrics(cluster: Cluster) -> None:
    """/readyz is 200 only with a worker heartbeat: replica_2 runs the in-process worker, and
    both share the database, so both are ready once it has registered; /metrics counts the
    updates and Bot API calls handled so far (test (b) delivered /start to replica_1)."""
    async with aiohttp.ClientSession() as http:
        for replica in (cluster.replica_1, cluster.replica_2):
            deadline = time.monotonic() + 30
            while True:
                async with http.get(replica.url + "/readyz") as response:
                    body = await response.json()
                if response.status == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert response.status == 200, body
            assert body["checks"] == {"updates": "ok", "database": "ok", "migrations": "ok", "worker": "ok"}
        async with http.get(cluster.replica_1.url + "/metrics") as response:
            assert response.status == 200
            metrics = await response.text()
    assert 'wtw_updates_total{handler="start",outcome="ok",update_type="message"}' in metrics, metrics
    assert 'wtw_bot_api_requests_total{method="sendMessage",result="ok"}' in metrics
    assert "wtw_jobs{" in metrics


# --- (c) two replicas, one killed mid-update ------------------------------------------------------


async def test_one_chat_is_handled_by_one_replica_at_a_time(cluster: Cluster) -> None:
    fake = cluster.webhook_bot
    one, two = cluster.replica_1, cluster.replica_2
    fake.balance(one.url, two.url)  # deliveries alternate between the replicas
    await deliver(fake, fake.message_update(PARTS_USER, "/review Heat 1995"))
    await deliver(fake, fake.message_update(PARTS_USER, "4 first part"))
    assert "Saved" in fake.texts_to(PARTS_USER)[-1]

    # two parts at once, one to each replica; whichever takes the chat first is slow to reply
    fake.balance(one.url, two.url)
    slow = fake.hold("sendMessage", chat_id=PARTS_USER, seconds=1.0)
    both = [fake.deliver(fake.message_update(PARTS_USER, text)) for text in ("second part", "third part")]
    for delivery in both:
        await delivery.wait(30)
        assert delivery.ok
    assert {replica_of(d.attempts[0]) for d in both} == {one.url, two.url}
    first, second = fake.calls_of("sendMessage", chat_id=PARTS_USER)[-2:]
    assert first is slow.held[0] and first.ended is not None
    assert second.at >= first.ended - 0.05  # the other replica waited for the chat's lock
    assert await review_of(cluster, PARTS_USER) == [(Decimal("4"), "first part\nsecond part\nthird part")]


async def test_a_replica_killed_mid_update_loses_nothing(cluster: Cluster) -> None:
    fake = cluster.webhook_bot
    one, two = cluster.replica_1, cluster.replica_2
    fake.balance(one.url, two.url)
    fake.retry_delays = (0.2, 0.5, 1.0, 1.0, 2.0, 2.0)

    flow = [await deliver(fake, fake.message_update(REVIEWER, "/review Alien"))]
    if "Which one" in fake.texts_to(REVIEWER)[-1]:
        flow.append(await deliver(fake, fake.tap_update(REVIEWER, "Alien (1979)")))
    assert "How many stars?" in fake.texts_to(REVIEWER)[-1]
    flow.append(await deliver(fake, fake.tap_update(REVIEWER, "★★★★")))
    assert "noted" in fake.texts_to(REVIEWER)[-1]
    assert {replica_of(d.attempts[0]) for d in flow} == {one.url, two.url}

    # the review text goes to replica 1, which is killed while it handles it (its reply held)
    fake.balance(one.url, two.url)
    caught = fake.hold("sendMessage", chat_id=REVIEWER)
    review = fake.deliver(fake.message_update(REVIEWER, "the chestburster scene"))
    await asyncio.wait_for(caught.arrived.wait(), 20)
    assert replica_of(review.attempts[0]) == one.url and "Saved" in caught.held[0].params["text"]
    one.process.kill()
    assert await asyncio.wait_for(one.process.wait(), 10) == -signal.SIGKILL
    caught.release()
    await review.wait(30)

    assert review.ok and review.attempts[0].status is None and replica_of(review.attempts[-1]) == two.url
    saved = [
        c for c in fake.calls_of("sendMessage", chat_id=REVIEWER) if "Saved" in str(c.params.get("text"))
    ]
    assert [c.status for c in saved] == [None, 200]  # the killed replica's reply never went out
    assert await review_of(cluster, REVIEWER) == [(Decimal("4"), "the chestburster scene")]


async def review_of(cluster: Cluster, telegram_id: int) -> list[tuple[Decimal, str]]:
    async with cluster.engine.connect() as conn:
        rows = await conn.execute(
            select(Review.rating, Review.text)
            .join(DbUser, DbUser.id == Review.user_id)
            .where(DbUser.telegram_id == telegram_id)
        )
        return [(rating, text) for rating, text in rows]


# --- (d) SIGTERM under load -------------------------------------------------------------------------


async def test_sigterm_under_load_answers_or_refuses_every_update(cluster: Cluster) -> None:
    fake = cluster.webhook_bot
    replica = cluster.replica_2
    assert replica.process.returncode is None
    fake.balance(replica.url)
    fake.retry_delays = (0.3, 0.3)  # then the fake gives up: Telegram would keep trying for hours
    users = list(BURST_USERS)
    finishing = [fake.hold("sendMessage", chat_id=u, seconds=2.0) for u in users[:3]]  # done after SIGTERM
    stuck = fake.hold("sendMessage", chat_id=users[3], seconds=60.0)  # past the shutdown timeout
    burst = [fake.deliver(fake.message_update(u, "/start")) for u in users[:-2]]
    for hold in [*finishing, stuck]:
        await asyncio.wait_for(hold.arrived.wait(), 30)

    replica.process.send_signal(signal.SIGTERM)
    sent_at = time.monotonic()
    await replica.wait_event("shutdown_started", within=10)
    late = [fake.deliver(fake.message_update(u, "/start")) for u in users[-2:]]  # after the door closed
    code = await asyncio.wait_for(replica.process.wait(), SHUTDOWN_SECONDS + 15)
    took = time.monotonic() - sent_at
    for delivery in [*burst, *late]:
        await delivery.wait(15)

    assert code == 0 and took < SHUTDOWN_SECONDS + 5
    for delivery in [*burst, *late]:
        user = delivery.update["message"]["from"]["id"]
        replies = [c for c in fake.calls_of("sendMessage", chat_id=user) if c.status == 200]
        if delivery.ok:  # Telegram considers it delivered: the user must have the answer
            assert replies, f"update {delivery.update_id} acknowledged but never answered"
        else:  # refused or unanswered: Telegram redelivers it later
            assert all(not a.ok for a in delivery.attempts)
    assert all(h.held[0].status == 200 for h in finishing)  # finished after SIGTERM
    assert burst[3].attempts[0].status == 503  # abandoned at the deadline
    assert not burst[3].ok and stuck.held[0].status is None
    assert all(d.attempts[0].status in (503, None) and not d.ok for d in late)
    async with cluster.engine.connect() as conn:  # the abandoned update's transaction rolled back
        assert await conn.scalar(select(DbUser.id).where(DbUser.telegram_id == users[3])) is None
    drained = replica.events("shutdown_drained")
    assert drained and drained[0]["updates_abandoned"] == 1
    assert replica.events("worker_stopped") and replica.events("webhook_update_abandoned")
