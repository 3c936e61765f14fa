"""Load: two webhook replicas behind a load balancer, 1,000 users, a rising rate of updates.
Prints one table per configuration, each followed by the `wtw_` lines of one replica's
GET /metrics.

    make bench-load      # or: .venv/bin/python -m bench.load [--rates 25,50,100] [--seconds 15]

Protocol (the load issue). One database (`wtw_bench_load`, dropped and re-created, migrated)
on the server of `BENCH_DATABASE_URL` (else `DATABASE_URL` / the embedded one). Three real
processes: two `python -m bot run` in webhook mode (`WORKER_IN_PROCESS=false`,
`DB_POOL_SIZE=--pool`) and one `python -m bot worker` (`EMBEDDING_THREADS=1`, so it leaves
the cores to the replicas), all with `TMDB_API_KEY` empty, so the first replica loads the
demo catalog by itself and the worker embeds it before the load starts. `LOG_LEVEL=WARNING`
by default (`--log-level`). Telegram is `tests.fakes.telegram_server.FakeTelegramServer` on
loopback, in this process; `balance(replica_1, replica_2)` plays the round-robin load
balancer; webhook deliveries keep their connections alive (as Telegram does; the stock fake
opens one per POST), at most `max_connections` (Telegram's default 40: the bot sets none) at
once, and are retried after a non-2xx answer (the fake's `retry_delays`). The bot token and
the webhook secret are made at run time; only loopback addresses are used.

Users: `--users` (1,000) private chats, each going round one script from a random place in
it: /start; /help; `/review <demo catalog title>` → tap a film when a list is offered → tap a
rating → send a review text; /recommend → tap 🎬 when the onboarding grid or a clarifying
question comes instead of picks → ⏭ Skip on one of the picks; /profile. A user never has two
updates in flight (the next one is sent after the webhook answered the previous one, as
Telegram does for one chat). A user in the middle of a flow taps or types 1–3 s after the
answer (uniform; before anyone else whose time has come); the others take turns in a queue,
so they have the others' turns as think time (up to 40 s at 25 updates/s).
`RECOMMEND_COOLDOWN_SECONDS=0`, so every /recommend computes picks.

Steps: `--rates` updates/s offered for `--seconds` each (at each tick an update goes to a
user in a flow whose think time is over, else to the user at the head of the queue; with
nobody free the tick is lost and counted), then the updates in flight are waited for
(bounded) before the next step. The rise stops after a step
with an error, an unanswered update or a p95 over `--p95-bound` seconds.

Configurations (`--global-rates`): `shipped`, the processes as they are; N, the same with
bot.flood's overall pacing (30 sends/s per process, no setting) lifted to N sends/s per
replica by `bot_run`, and the webhook's `max_connections` at `--what-if-connections` (100,
the Bot API's most) — a what-if that shows what the rest of the stack sustains; and `bare`,
`bench.bare_bot` as the two replicas (aiogram answering each update once, no database) and no
worker — the floor of this harness on this machine.

`--pool` 8 by default: each replica holds up to 2 × 8 session connections (pool + overflow;
each update's chat lock, FSM state and work share one) and procrastinate's 4, the worker
about 16, so the three stay well under PostgreSQL's default 100 connections.

Columns: `offered` (updates/s asked) and `sent/s`; `answered/s` (first answers that arrived
during the step ÷ its seconds: what was sustained); p50/p95/p99 seconds from delivery to the
first Bot API answer to that update (the first sendMessage, editMessage*, answerCallbackQuery
or sendPhoto to that chat, or for that tap, as the fake received it); `errors` = deliveries
not 2xx after the retries + `update_failed` / ERROR lines in the processes' logs + "something
went wrong" / "having trouble" texts; `unanswered` (delivered, no answer); `retried` (a
non-2xx attempt before a 2xx); `lost` ticks; `drain s` (waiting for the updates in flight
after the step); `db tx/upd` (PostgreSQL transactions in the database per update sent,
pg_stat_database: the replicas' and the worker's); `bot cpu ms/upd` (the two replicas' CPU
time during the step per update answered in it); and the cores each process used during the
step (`postgres`: the backends of this database and the server's own processes; `machine`:
everything, other work on the machine included).

The users live in bench/load_users.py, the processes and their measurements in
bench/load_processes.py.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import heapq
import itertools
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import psutil
import uvloop
from sqlalchemy.engine import make_url

from bench.load_processes import (
    DATABASE,
    PROJECT,
    START_SECONDS,
    Child,
    busy_seconds,
    cpu_snapshot,
    cpu_used,
    free_port,
    jobs_waiting,
    postgres_processes,
    start_child,
    transactions,
    wait_ready,
    wait_up,
)
from bench.load_users import FOLLOW_UPS, THINK_SECONDS, Pending, User, user_script
from tests.fakes.telegram_bot import FakeBot
from tests.fakes.telegram_records import Call, make_token
from tests.fakes.telegram_server import FakeTelegramServer

PUBLIC_URL = "https://bot.example.test"  # never resolved: the balancer sends to the replicas
#: Seconds one delivery (all its attempts) may take before it counts as lost.
DELIVERY_SECONDS = 120.0
#: Seconds the updates in flight at the end of a step may take to finish.
DRAIN_SECONDS = 120.0
#: Bot API methods that answer the user.
ANSWERS = ("sendmessage", "sendphoto", "senddocument", "answercallbackquery", "editmessage")
ERROR_TEXTS = ("something went wrong", "having trouble right now")


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Step:
    rate: int
    seconds: float
    sent: int = 0
    lost_ticks: int = 0
    answered_in_window: int = 0
    transactions: int = 0
    latencies: list[float] = field(default_factory=list)
    failed_deliveries: int = 0
    log_errors: int = 0
    error_texts: int = 0
    unanswered: int = 0
    retried: int = 0
    drain: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)
    slow_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def errors(self) -> int:
        return self.failed_deliveries + self.log_errors + self.error_texts

    def bot_ms_per_update(self) -> float:
        """The replicas' CPU milliseconds during the step per update answered in it."""
        used = self.seconds * (self.cpu["replica_1"] + self.cpu["replica_2"])
        return 1000 * used / max(self.answered_in_window, 1)

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")


class Load:
    def __init__(
        self, fake: FakeBot, users: list[User], children: list[Child], url: str, rng: random.Random
    ) -> None:
        self.fake = fake
        self.url = url
        self.rng = rng
        self.idle = deque(users)  # users between flows, in turn
        #: users in the middle of a flow, by the time they tap or type next (a heap)
        self.follow_ups: list[tuple[float, int, User]] = []
        self._order = itertools.count()
        self.pending: dict[int, Pending] = {}
        self.queries: dict[str, int] = {}  # callback query id → user
        self.stray = 0  # answers to a chat with nothing in flight
        self.children = children
        self.tasks: set[asyncio.Task[None]] = set()
        self.records: list[Pending] = []

    def on_call(self, fake: FakeBot, call: Call) -> None:
        name = call.method.lower()
        if name == "answercallbackquery":
            uid = self.queries.pop(str(call.params.get("callback_query_id")), None)
        else:
            chat = call.params.get("chat_id")
            uid = int(chat) if isinstance(chat, int | str) and str(chat).lstrip("-").isdigit() else None
        if uid is None or not name.startswith(ANSWERS):
            return
        pending = self.pending.get(uid)
        if pending is None:
            self.stray += 1
            return
        pending.calls.append(call)
        if pending.first is None:
            pending.first = call.at
        text = str(call.params.get("text") or call.params.get("caption") or "").lower()
        if any(marker in text for marker in ERROR_TEXTS):
            pending.error_text = True

    async def one(self, user: User, step: int) -> None:
        kind, update = user.upcoming or user.next()
        if "callback_query" in update:
            self.queries[update["callback_query"]["id"]] = user.uid
        record = Pending(user.uid, kind, step, time.time())
        self.pending[user.uid] = record
        delivery = self.fake.deliver(update)
        try:
            await delivery.wait(DELIVERY_SECONDS)
        except TimeoutError:
            record.lost = True
        del self.pending[user.uid]
        record.ok = delivery.ok
        record.retried = delivery.ok and len(delivery.attempts) > 1
        self.records.append(record)
        user.answers = record.calls
        user.upcoming = user.next()
        if user.upcoming[0] in FOLLOW_UPS:  # a tap or a text in a flow: after THINK_SECONDS
            ready = time.monotonic() + self.rng.uniform(*THINK_SECONDS)
            heapq.heappush(self.follow_ups, (ready, next(self._order), user))
        else:
            self.idle.append(user)

    def take(self) -> User | None:
        """The user who sends the next update: one in a flow whose think time is over, else
        the next one in turn; None when nobody is free."""
        if self.follow_ups and self.follow_ups[0][0] <= time.monotonic():
            return heapq.heappop(self.follow_ups)[2]
        return self.idle.popleft() if self.idle else None

    async def step(
        self, index: int, rate: int, seconds: float, cpu_of: dict[str, Callable[[], list[psutil.Process]]]
    ) -> Step:
        step = Step(rate, seconds)
        transactions_before = await transactions(self.url)
        for child in self.children:
            child.new_log_lines()  # skip what came before
        cpu_before = {name: cpu_snapshot(procs()) for name, procs in cpu_of.items()}
        busy_before = busy_seconds()
        loop = asyncio.get_running_loop()
        start_wall, start = time.time(), loop.time()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            user = self.take()
            if user is None:
                step.lost_ticks += 1
                continue
            task = asyncio.create_task(self.one(user, index))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            step.sent += 1
        await asyncio.sleep(max(0.0, start + seconds - loop.time()))
        end_wall = time.time()
        cpu_after = {name: cpu_snapshot(procs()) for name, procs in cpu_of.items()}
        step.cpu = {name: cpu_used(cpu_before[name], cpu_after[name]) / seconds for name in cpu_of}
        step.cpu["machine"] = (busy_seconds() - busy_before) / seconds
        drain_started = time.monotonic()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=DRAIN_SECONDS)
        step.drain = time.monotonic() - drain_started
        step.transactions = await transactions(self.url) - transactions_before
        for record in (r for r in self.records if r.step == index):
            step.kinds[record.kind] += 1
            if record.first is not None:
                step.latencies.append(record.first - record.sent)
                if start_wall <= record.first <= end_wall:
                    step.answered_in_window += 1
                if record.first - record.sent > 1.0:
                    step.slow_kinds[record.kind] += 1
            elif record.ok:
                step.unanswered += 1
            if not record.ok:
                step.failed_deliveries += 1
            step.retried += record.retried
            step.error_texts += record.error_text
        for child in self.children:
            for line in child.new_log_lines():
                if '"update_failed"' in line or '"level": "error"' in line or '"level": "critical"' in line:
                    step.log_errors += 1
                    say(f"{child.name}: {line[:300]}")
        return step


def table(steps: list[Step], names: list[str]) -> str:
    head = (
        "offered  sent/s  answered/s   p50 s   p95 s   p99 s  errors  unanswered  retried  lost  drain s  "
        "db tx/upd  bot cpu ms/upd  " + "  ".join(f"cpu {n}" for n in names)
    )
    lines = [head]
    for s in steps:
        lines.append(
            f"{s.rate:7d}  {s.sent / s.seconds:6.1f}  {s.answered_in_window / s.seconds:10.1f}  "
            f"{s.pct(50):6.2f}  {s.pct(95):6.2f}  {s.pct(99):6.2f}  {s.errors:6d}  {s.unanswered:10d}  "
            f"{s.retried:7d}  {s.lost_ticks:4d}  {s.drain:7.1f}  {s.transactions / max(s.sent, 1):9.1f}  "
            f"{s.bot_ms_per_update():14.1f}  " + "  ".join(f"{s.cpu[n]:{len(n) + 4}.2f}" for n in names)
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace, global_rate: float | None, *, bare: bool = False) -> int:
    """One configuration: the processes as shipped (`global_rate` None), with the flood
    control's overall pacing lifted to `global_rate` sends/s (see `bot_run`), or with `bare`,
    bench.bare_bot as the replicas and no worker (the harness's floor)."""
    import csv

    from bot.database import recreate_database, resolve_database_url
    from bot.settings import load_settings

    base = os.environ.get("BENCH_DATABASE_URL") or resolve_database_url(load_settings())
    url = make_url(base).set(database=DATABASE).render_as_string(hide_password=False)
    await recreate_database(url, migrated=True)
    say(f"database {DATABASE}: re-created and migrated")
    with (PROJECT / "bot" / "data" / "demo_films.csv").open(encoding="utf-8") as f:
        titles = [row["title"] for row in csv.DictReader(f)]
    token, secret = make_token(), secrets.token_urlsafe(32)  # made now: nothing secret is written
    tmp = Path(tempfile.mkdtemp(prefix="wtw-bench-load-"))
    rng = random.Random(args.seed)
    children: list[Child] = []
    async with FakeTelegramServer() as telegram, aiohttp.ClientSession() as http:
        common = {
            "DATABASE_URL": url,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_WEBHOOK_URL": PUBLIC_URL,
            "TELEGRAM_WEBHOOK_SECRET": secret,
            "HTTP_HOST": "127.0.0.1",
            "TMDB_API_KEY": "",
            "TMDB_READ_ACCESS_TOKEN": "",
            "OPENAI_API_KEY": "",
            "EMBEDDING_PROVIDER": "local",
            "EMBEDDING_THREADS": "1",
            "LOG_JSON": "true",
            "LOG_LEVEL": args.log_level,
            "WORKER_IN_PROCESS": "false",
            "RECOMMEND_COOLDOWN_SECONDS": "0",
        }
        fake = telegram.bot(token)
        try:
            say(f"starting replica_1 (DB_POOL_SIZE={args.pool}, LOG_LEVEL={args.log_level}); logs in {tmp}")
            replicas = []
            for name in ("replica_1", "replica_2"):
                port = free_port()
                env = {**common, "HTTP_PORT": str(port), "DB_POOL_SIZE": str(args.pool)}
                run_args = ["run"] if global_rate is None else ["run", "--global-rate", str(global_rate)]
                if bare:
                    run_args = ["bare"]
                child = start_child(name, run_args, env, tmp)
                child.port = port
                children.append(child)
                replicas.append(child)
                if name == "replica_1":  # the first loads the demo catalog; then the others start
                    await wait_up(http, child)
            if not bare:
                worker = start_child(
                    "worker", ["worker"], {**common, "DB_POOL_SIZE": str(args.worker_pool)}, tmp
                )
                children.append(worker)
            for child in replicas:
                await wait_ready(http, child)
            for _ in range(int(START_SECONDS)):  # until the demo catalog is embedded
                if not (waiting := await jobs_waiting(url)):
                    break
                await asyncio.sleep(1.0)
            say(f"replicas ready on {', '.join(c.url for c in replicas)}; jobs still waiting: {waiting}")
            fake.balance(*(c.url for c in replicas))
            assert fake.webhook is not None
            if global_rate is not None and args.what_if_connections:
                # as if setWebhook had asked for more connections (the bot asks for none: 40)
                fake.webhook.max_connections = args.what_if_connections
                fake._sending = asyncio.Semaphore(args.what_if_connections)
            users = [
                User(uid, user_script(fake, uid, titles, rng))
                for uid in rng.sample(range(900_000_000, 900_000_000 + 100 * args.users), args.users)
            ]
            load = Load(fake, users, children, url, rng)
            telegram.on_call = load.on_call
            cpu_of: dict[str, Callable[[], list[psutil.Process]]] = {
                c.name: functools.partial(lambda pid: [psutil.Process(pid)], c.process.pid) for c in children
            }
            cpu_of["bench"] = lambda: [psutil.Process()]
            cpu_of["postgres"] = postgres_processes
            names = [*cpu_of, "machine"]
            steps: list[Step] = []
            for index, rate in enumerate(int(r) for r in args.rates.split(",")):
                say(f"step {index + 1}: {rate} updates/s for {args.seconds:g} s")
                step = await load.step(index, rate, args.seconds, cpu_of)
                steps.append(step)
                say(
                    f"  answered/s {step.answered_in_window / step.seconds:.1f}, p95 {step.pct(95):.2f} s, "
                    f"errors {step.errors}, unanswered {step.unanswered}, drain {step.drain:.1f} s; "
                    f"over 1 s: {dict(step.slow_kinds.most_common(4))}"
                )
                if step.errors or step.unanswered or step.pct(95) > args.p95_bound:
                    say(f"  the rise stops here (errors, unanswered or p95 > {args.p95_bound:g} s)")
                    break
            async with http.get(replicas[0].url + "/metrics") as response:
                metrics = await response.text()
            pacing = (
                "none (bench.bare_bot replicas: aiogram answering every update once, no database, no worker)"
                if bare
                else "30 sends/s (as shipped)"
                if global_rate is None
                else f"lifted to {global_rate:g} sends/s (a what-if: not how the bot ships)"
            )
            processes = (
                "2 bench.bare_bot replicas, no worker"
                if bare
                else f"2 webhook replicas (DB_POOL_SIZE={args.pool}) + 1 worker "
                f"(DB_POOL_SIZE={args.worker_pool})"
            )
            print(
                f"Flood control's overall pacing: {pacing} per replica; 1 send/s per chat; "
                f"webhook max_connections {fake.webhook.max_connections}.\n"
                f"Load: {args.users} users, {processes}, LOG_LEVEL={args.log_level}, {os.cpu_count()} cores, "
                f"demo catalog; {args.seconds:g} s per step"
            )
            print(table(steps, names))
            mix = sum((s.kinds for s in steps), Counter())
            print("update mix: " + ", ".join(f"{k} {v}" for k, v in mix.most_common()))
            print(f"answers with no update in flight: {load.stray}; load average: {os.getloadavg()}")
            print()
            print(f"GET {replicas[0].name}/metrics (wtw_ lines; histogram buckets and _created left out):")
            for line in metrics.splitlines():
                if line.startswith("wtw_") and "_bucket{" not in line and "_created{" not in line:
                    print(line)
        finally:
            for child in children:
                if child.process.poll() is None:
                    child.process.terminate()
            for child in children:
                try:
                    child.process.wait(30)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait(10)
            if args.keep_logs:
                say(f"logs kept in {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    return 0


def bot_run(global_rate: float) -> int:
    """`python -m bot run` with FloodControlMiddleware's overall pacing at `global_rate` sends
    per second instead of its 30 (a what-if, not a production configuration: bot/flood.py has
    no setting for it). The per-chat pacing (1 send/s per chat) is unchanged."""
    from bot import flood
    from bot.cli import main as bot_main

    shipped = flood.FloodControlMiddleware.__init__

    def lifted(self: flood.FloodControlMiddleware, **options: Any) -> None:
        shipped(self, **{"global_rate": global_rate, **options})

    flood.FloodControlMiddleware.__init__ = lifted  # type: ignore[method-assign]
    return bot_main(["run"])


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--bot-run"]:
        return bot_run(float(argv[argv.index("--global-rate") + 1]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="25,50,100,200,300,400", help="updates/s of each step")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of each step")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=8, help="DB_POOL_SIZE of each replica")
    parser.add_argument("--worker-pool", type=int, default=3, help="DB_POOL_SIZE of the worker")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the processes")
    parser.add_argument("--p95-bound", type=float, default=2.0, help="seconds; the rise stops past it")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--what-if-connections",
        type=int,
        default=100,
        help="in the what-if runs, the webhook's max_connections (Bot API: 1-100; 0: as the bot sets it, 40)",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the processes' logs (the path is said)"
    )
    parser.add_argument(
        "--global-rates",
        default="shipped,1000",
        help="one run per entry: 'shipped' (the flood control as it is), N (its overall pacing "
        "lifted to N sends/s per replica, a what-if) or 'bare' (bench.bare_bot replicas, no "
        "worker: what the harness and aiogram alone sustain)",
    )
    args = parser.parse_args(argv)
    for entry in args.global_rates.split(","):
        if entry == "bare":
            uvloop.run(run(args, None, bare=True))
        else:
            uvloop.run(run(args, None if entry == "shipped" else float(entry)))
        print(flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
