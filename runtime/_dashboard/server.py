"""`Dashboard`: serves the live dashboard of a `Runtime` beside it, on the runtime's loop."""

from __future__ import annotations

import asyncio
import socket
from types import TracebackType
from typing import Any, Final, Self, final

from hotbus.runtime._dashboard.access import Access, is_loopback, new_token
from hotbus.runtime._dashboard.fleet import FleetView
from hotbus.runtime._dashboard.hub import QUEUE_SIZE, Hub
from hotbus.runtime._runtime import Runtime
from hotbus.schemas import DashboardError

__all__ = ["INSTALL_HINT", "Dashboard"]

#: What to run when the web stack is missing.
INSTALL_HINT: Final = "pip install 'hotbus[dashboard]'"
#: How long starting and stopping the web server may take.
_START_TIMEOUT_S: Final = 10.0
_STOP_TIMEOUT_S: Final = 5.0


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    infos = socket.getaddrinfo(host, port, family=0, type=socket.SOCK_STREAM)
    if infos:
        family = infos[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(infos[0][4] if infos else (host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


@final
class Dashboard:
    """The live dashboard of ``runtime``, served over HTTP on its event loop.

    Start it before the runtime to see the runtime's start-up too; it serves until `stop`::

        async with Runtime(["plugins"]) as runtime, Dashboard(runtime, port=8080) as dashboard:
            print("dashboard:", dashboard.url)
            ...

    It binds to loopback (127.0.0.1) unless told otherwise. On any other address it needs a
    token: the one given, else a new random one (`token`; `login_url` carries it for a
    browser). It needs the ``dashboard`` extra (``pip install 'hotbus[dashboard]'``),
    imported only by `start`.

    Args:
        runtime: the runtime to show and act on.
        host: the address to bind (an IP address or a name; ``0.0.0.0`` for every interface).
        port: the port (0: a free one, see `port` once started).
        token: the token requests must carry (required on a non-loopback bind: generated if
            not given; on loopback, only when given).
        queue_size: how many events each connected stream may fall behind before it drops
            events (counted, and told to it).
    """

    __slots__ = ("_server", "_task", "_token", "host", "hub", "port", "runtime")

    def __init__(
        self,
        runtime: Runtime,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.runtime = runtime
        #: The address it binds to.
        self.host = host
        #: The port: the one asked for, and once started, the one bound.
        self.port = port
        self._token = token or (None if is_loopback(host) else new_token())
        #: The bus subscriber feeding the streams and the page.
        self.hub = Hub(runtime.bus, queue_size=queue_size)
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # never the token
        state = "serving" if self.serving else "stopped"
        return f"<hotbus Dashboard {self.url} {state}>"

    @property
    def url(self) -> str:
        """``http://HOST:PORT/``."""
        return f"http://{_address(self.host, self.port)}/"

    @property
    def token(self) -> str | None:
        """The token requests must carry; None when none is needed. A secret: never log it."""
        return self._token

    @property
    def login_url(self) -> str:
        """`url`, with the token for a browser's first visit when one is needed."""
        return self.url if self._token is None else f"{self.url}?token={self._token}"

    @property
    def fleet(self) -> FleetView | None:
        """The fleet shown beside this host's plugins (set it to a host's fleet bridge)."""
        return self.hub.fleet

    @fleet.setter
    def fleet(self, view: FleetView | None) -> None:
        self.hub.fleet = view

    @property
    def serving(self) -> bool:
        """Whether the web server runs."""
        return self._task is not None and not self._task.done()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind, subscribe to the bus, and serve (returns once the server accepts requests).

        Raises:
            DashboardError: the ``dashboard`` extra is not installed, or the address cannot be
                bound.
        """
        if self.serving:
            return
        address = _address(self.host, self.port)
        try:
            import uvicorn
            from hotbus.runtime._dashboard.app import QuietServer, build_app
        except ImportError as error:
            raise DashboardError(
                address,
                f"the web stack is not installed ({error.name or error}): {INSTALL_HINT}",
            ) from None
        try:
            sock = _bind(self.host, self.port)
        except OSError as error:
            raise DashboardError(
                address,
                f"cannot bind: {error.strerror or error}; choose another port (0 picks a free "
                "one) or address",
            ) from None
        self.port = sock.getsockname()[1]
        self.hub.attach()
        access = Access(self._token, loopback=is_loopback(self.host))
        config = uvicorn.Config(
            build_app(self.runtime, self.hub, access),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        server = QuietServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="hotbus-dashboard")
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                while not server.started:
                    if self._task.done():
                        self._task.result()
                        raise DashboardError(address, "the web server stopped at start")
                    await asyncio.sleep(0.005)
        except BaseException:
            await self.stop()
            sock.close()
            raise

    async def stop(self) -> None:
        """End every stream, stop serving and unsubscribe; returns in bounded time."""
        self.hub.detach()
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        done, _ = await asyncio.wait((task,), timeout=_STOP_TIMEOUT_S)
        if not done:
            self._server.force_exit = True
            task.cancel()
            await asyncio.wait((task,), timeout=_STOP_TIMEOUT_S)
