"""Real HTTP against a dashboard: requests and a server-sent event stream, each on a thread.

The dashboard serves on the test's event loop, so nothing here blocks that loop: a request runs
on a worker thread (`fetch`), and a stream is read by a thread that hands each message to the
loop (`EventStream`), where a test waits for it with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import threading
from dataclasses import dataclass, field
from typing import Any, final
from urllib.parse import urlsplit

#: The longest a test waits for a reply or a message.
DEADLINE = 10.0


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    timeout: float = DEADLINE,
) -> Reply:
    """``method url``, without following redirects."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


async def fetch(url: str, method: str = "GET", *, headers: dict[str, str] | None = None) -> Reply:
    """`request` on a worker thread."""
    return await asyncio.to_thread(request, url, method, headers=headers)


@dataclass(slots=True)
class Message:
    """One server-sent event: its type (``message`` unless named) and its data."""

    event: str = "message"
    data: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


@final
class EventStream:
    """``GET url`` as a stream of server-sent events, read on a thread until `close`."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self._loop = asyncio.get_running_loop()
        self._messages: asyncio.Queue[Message | None] = asyncio.Queue()
        self._connection = http.client.HTTPConnection(
            parts.hostname or "", parts.port, timeout=DEADLINE
        )
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._headers = headers or {}
        self.status: int | None = None
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, name="sse-reader", daemon=True)
        self._thread.start()

    async def opened(self) -> int:
        """The response's status, once its headers arrived."""
        if not await asyncio.to_thread(self._opened.wait, DEADLINE):
            raise AssertionError(f"no response to GET {self._path} within {DEADLINE:g} s")
        assert self.status is not None
        return self.status

    def _put(self, message: Message | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the test is over
            self._loop.call_soon_threadsafe(self._messages.put_nowait, message)

    def _read(self) -> None:
        try:
            self._connection.request("GET", self._path, headers=self._headers)
            response = self._connection.getresponse()
            self.status = response.status
            self._opened.set()
            message = Message()
            while True:
                raw = response.readline()
                if not raw:
                    break
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line:
                    if message.data:
                        self._put(message)
                    message = Message()
                elif line.startswith("event:"):
                    message.event = line[6:].strip()
                elif line.startswith("data:"):
                    message.data.append(line[5:].removeprefix(" "))
        except (OSError, ValueError, http.client.HTTPException):
            pass
        finally:
            self._opened.set()
            self._put(None)

    async def next(self, timeout: float = DEADLINE) -> Message | None:
        """The next message (None once the stream ended), waiting up to ``timeout``."""
        try:
            return await asyncio.wait_for(self._messages.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"no server-sent event within {timeout:g} s") from None

    async def events(self, count: int, timeout: float = DEADLINE) -> list[dict[str, Any]]:
        """The next ``count`` bus events (``message`` data), skipping other message types."""
        found: list[dict[str, Any]] = []
        while len(found) < count:
            message = await self.next(timeout)
            if message is None:
                raise AssertionError(f"the stream ended after {len(found)} of {count} events")
            if message.event == "message":
                found.append(message.json())
        return found

    def close(self) -> None:
        """End the reader (by shutting the socket down under it), then close the connection."""
        with contextlib.suppress(OSError):
            sock = self._connection.sock
            if sock is not None:
                sock.shutdown(2)
        self._thread.join(DEADLINE)
        self._connection.close()
