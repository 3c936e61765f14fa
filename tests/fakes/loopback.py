"""What the fake servers share: an aiohttp app on a free loopback port, started and stopped as
an async context manager, with one middleware for logging, knobs and error bodies."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web
from aiohttp.typedefs import Middleware


class LoopbackServer:
    """Subclasses give `routes()`, an aiohttp middleware method `_middleware` (logging, knobs,
    error bodies) and the API's path prefix (`/3`, `/v1`)."""

    #: what `base_url` ends with, e.g. "/3" for TMDB
    prefix = ""
    #: named in the error when `base_url` is read before `start`
    label = "fake server"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """E.g. "http://127.0.0.1:54321/3": what the client's base URL setting should be."""
        if self._base_url is None:
            raise RuntimeError(f"the {self.label} is not running")
        return self._base_url

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    _middleware: Middleware

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self.routes())
        # handler_cancellation: a client that times out cancels the (sleeping) handler, so
        # shutting down never waits for answers nobody will read.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, self._host, self._port).start()
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._base_url = f"http://{host}:{port}{self.prefix}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._base_url = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
