"""The dashboard's web application (starlette): the page, its assets, and the API.

Imported only when a dashboard starts serving, with the ``dashboard`` extra installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

import uvicorn
from hotbus.runtime._dashboard.access import COOKIE, Access
from hotbus.runtime._dashboard.fleet import fleet_json
from hotbus.runtime._dashboard.hub import Client, Hub
from hotbus.runtime._dashboard.openapi import openapi
from hotbus.runtime._eventjson import event_json
from hotbus.runtime._runtime import Runtime
from hotbus.schemas import Event, PluginError, TopicError, UnknownPluginError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["QuietServer", "build_app"]

#: The page's files, shipped inside the package, by name: their media types.
ASSETS: Final = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
#: A stream with nothing to say sends a comment this often, so that proxies keep it open.
KEEPALIVE_S: Final = 15.0
_NO_STORE: Final = {"Cache-Control": "no-store"}


def _asset(name: str) -> bytes:
    return (resources.files("hotbus.runtime._dashboard") / "assets" / name).read_bytes()


def _version() -> str:
    try:
        return version("hotbus")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)


def _event_response(event: Event) -> Response:
    # The same JSON as a line of --events-jsonl (event_json), not a re-encoding of it.
    return Response(event_json(event), media_type="application/json", headers=_NO_STORE)


class QuietServer(uvicorn.Server):
    """uvicorn's server without its signal handlers: the host handles its signals itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Guard:
    """ASGI middleware: every request but the assets' goes through `Access`."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/assets/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.access.refusal(
            request.method,
            request.headers,
            request.cookies,
            request.query_params,
            scheme=request.url.scheme,
        )
        if refusal is not None:
            status, message = refusal
            await _problem(status, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _stream(hub: Hub, client: Client) -> AsyncIterator[str]:
    """The server-sent events of ``client``: a ``data:`` line per event, and a ``dropped``
    event with the count whenever it missed more."""
    reported = 0
    try:
        yield f": hotbus events {client.pattern}\nretry: 1000\n\n"
        while True:
            try:
                lines = await asyncio.wait_for(client.take(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            parts = []
            if client.dropped != reported:
                reported = client.dropped
                parts.append(f"event: dropped\ndata: {json.dumps({'dropped': reported})}\n\n")
            parts.extend(f"data: {line}\n\n" for line in lines)
            if parts:
                yield "".join(parts)
            if not lines and client.closed:
                return
    finally:
        hub.disconnect(client)


class _Endpoints:
    """The handlers of the routes, over one runtime and its hub."""

    def __init__(self, runtime: Runtime, hub: Hub, access: Access) -> None:
        self.runtime = runtime
        self.hub = hub
        self.access = access
        self.assets = {name: _asset(name) for name in ASSETS}
        self.document = openapi(_version())

    async def page(self, request: Request) -> Response:
        given = request.query_params.get("token")
        if given is not None and self.access.needs_token:
            # The token came in the address: keep it in a cookie and take it out of the address.
            response: Response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, given, httponly=True, samesite="strict", path="/")
            return response
        return Response(
            self.assets["index.html"], media_type=ASSETS["index.html"], headers=_NO_STORE
        )

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.assets:
            return _problem(404, f"no asset {name!r}")
        return Response(self.assets[name], media_type=ASSETS[name], headers=_NO_STORE)

    async def status(self, request: Request) -> Response:
        return JSONResponse(self.hub.board.rows(self.runtime.status()), headers=_NO_STORE)

    async def transactions(self, request: Request) -> Response:
        board = self.hub.board
        return JSONResponse(
            {"transactions": board.timeline(), "last_plan": board.last_plan}, headers=_NO_STORE
        )

    async def stats(self, request: Request) -> Response:
        hub = self.hub
        return JSONResponse(
            {"clients": len(hub.clients), "events": hub.events, "dropped": hub.dropped},
            headers=_NO_STORE,
        )

    async def fleet(self, request: Request) -> Response:
        return JSONResponse(fleet_json(self.hub.fleet), headers=_NO_STORE)

    async def spec(self, request: Request) -> Response:
        return JSONResponse(self.document)

    async def events(self, request: Request) -> Response:
        try:
            client = self.hub.connect(request.query_params.get("topic") or ">")
        except TopicError as error:
            return _problem(400, str(error))
        return StreamingResponse(
            _stream(self.hub, client),
            media_type="text/event-stream",
            headers={**_NO_STORE, "X-Accel-Buffering": "no"},
        )

    async def act(self, request: Request) -> Response:
        runtime = self.runtime
        name = request.path_params["name"]
        action = request.path_params["action"]
        if action not in ("reload", "enable", "disable"):
            return _problem(404, f"no action {action!r}: reload, enable or disable")
        if name not in {row.name for row in runtime.status()}:
            return _problem(404, f"no plugin {name!r}")
        try:
            if action == "reload":
                outcome = await runtime.reload(name)
                if outcome is not None:
                    return _event_response(outcome)
                return JSONResponse({"topic": None, "plugin": name}, headers=_NO_STORE)
            with runtime.bus.record("hotbus.plugin.state") as changes:
                await (runtime.enable(name) if action == "enable" else runtime.disable(name))
        except UnknownPluginError as error:
            return _problem(404, str(error))
        except PluginError as error:
            return _problem(409, str(error))
        mine = [event for event in changes if getattr(event, "plugin", None) == name]
        if mine:
            return _event_response(mine[-1])
        row = next(r for r in self.hub.board.rows(runtime.status()) if r["name"] == name)
        body: dict[str, Any] = {"topic": None, "plugin": name, "state": row["state"]}
        return JSONResponse(body, headers=_NO_STORE)


def build_app(runtime: Runtime, hub: Hub, access: Access) -> Starlette:
    """The application serving ``runtime`` and the events of ``hub``."""
    endpoints = _Endpoints(runtime, hub, access)
    app = Starlette(
        routes=[
            Route("/", endpoints.page),
            Route("/assets/{name}", endpoints.asset),
            Route("/api/status", endpoints.status),
            Route("/api/transactions", endpoints.transactions),
            Route("/api/stats", endpoints.stats),
            Route("/api/fleet", endpoints.fleet),
            Route("/api/openapi.json", endpoints.spec),
            Route("/api/events", endpoints.events),
            Route("/api/plugins/{name}/{action}", endpoints.act, methods=["POST"]),
        ]
    )
    app.add_middleware(_Guard, access=access)
    return app
