"""The processes of the load benchmark (bench/load.py uses this module): starting the bot's
replicas and worker as child processes and waiting for them, reading numbers from the
bench's database, and measuring the CPU time of processes and of the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil
from sqlalchemy.engine import make_url

PROJECT = Path(__file__).resolve().parents[1]
DATABASE = "wtw_bench_load"
#: Seconds a process may take to start, and the demo catalog to be embedded, on a busy machine.
START_SECONDS = 180.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None
    _offset: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def new_log_lines(self) -> list[str]:
        with self.log.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self._offset += cut
        return data[:cut].decode("utf-8", "replace").splitlines()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_child(name: str, args: list[str], env: dict[str, str], tmp: Path) -> Child:
    """`python -m bot ARGS`; with `global_rate` first in ARGS (`["run", "--global-rate", N]`),
    bench.load's `bot_run`, which lifts the flood control's overall pacing to N sends/s."""
    log = tmp / f"{name}.log"
    command = [sys.executable, "-m", "bot", *args]
    if args == ["bare"]:
        command = [sys.executable, "-m", "bench.bare_bot"]
    elif "--global-rate" in args:
        command = [sys.executable, "-m", "bench.load", "--bot-run", *args[1:]]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=PROJECT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return Child(name, process, log)


async def wait_ready(http: aiohttp.ClientSession, child: Child, within: float = START_SECONDS) -> None:
    """Until /readyz answers 200 (PostgreSQL, migrations and a worker's heartbeat are there)."""
    await _wait_ok(http, child, "/readyz", "ready", within)


async def wait_up(http: aiohttp.ClientSession, child: Child, within: float = START_SECONDS) -> None:
    """Until /healthz answers (the process has started, migrated and set the webhook up)."""
    await _wait_ok(http, child, "/healthz", "up", within)


async def _wait_ok(http: aiohttp.ClientSession, child: Child, path: str, state: str, within: float) -> None:
    """Poll `path` every half second until it answers 200. Raises RuntimeError (with the log's
    tail) when the process exits, TimeoutError when `within` seconds pass."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited:\n{child.log.read_text()[-3000:]}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(child.url + path) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{child.name} not {state} in {within} s:\n{child.log.read_text()[-3000:]}")


async def fetch_number(url: str, query: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def jobs_waiting(url: str) -> int:
    return await fetch_number(
        url, "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    )


async def transactions(url: str) -> int:
    """Transactions committed or rolled back in the database so far (pg_stat_database)."""
    await asyncio.sleep(1.5)  # backends report their counts about once a second
    return await fetch_number(
        url,
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()",
    )


def postgres_processes() -> list[psutil.Process]:
    """The PostgreSQL processes working for this bench: the backends of its database and the
    server's own (WAL writer, checkpointer…, shared with anything else on that server)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            title = " ".join(proc.info["cmdline"] or [])
            if (proc.info["name"] or "").startswith("postgres") and (
                f" {DATABASE} " in title or "[local]" not in title
            ):
                found.append(proc)
    return found


def cpu_snapshot(procs: Iterable[psutil.Process]) -> dict[int, float]:
    """CPU seconds (user + system) of each process, by pid."""
    seconds = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            seconds[proc.pid] = times.user + times.system
    return seconds


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two snapshots (processes that ended meanwhile are not counted)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def busy_seconds() -> float:
    """CPU seconds this machine spent on anything (every core), since boot."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))
