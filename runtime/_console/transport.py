"""`ConsoleTransport`: the console as a chat transport (each line of stdin a message)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, final

from hotbus.bus import Bus
from hotbus.runtime._plugins.chat import ChatMessage, ChatReply

__all__ = ["CONSOLE", "ConsoleTransport"]

#: The console's transport name.
CONSOLE: Final = "console"


@final
class ConsoleTransport:
    """Each line read is a private chat message of ``user``; replies are printed ``plugin: text``.

    The console is one conversation with the person at it, so a reply is printed whatever its
    target. `serve` ends at the end of the input (answers still under way get ``drain_s()``
    seconds to come), or once ``stop`` is set or `close` is called.
    """

    __slots__ = ("_closing", "_drain_s", "_lines", "_print", "_stop", "_user", "ready")

    name = CONSOLE

    def __init__(
        self,
        user: str,
        lines: Callable[[], asyncio.Queue[str | None]],
        stop: asyncio.Event,
        drain_s: Callable[[], float],
        print_line: Callable[[str], None] | None,
    ) -> None:
        self._user = user
        self._lines = lines
        self._stop = stop
        self._drain_s = drain_s
        self._print = print_line
        self._closing = asyncio.Event()
        #: Awaited before each line is published, if set: `ChatHost.commands_done`, so that a
        #: line said after an admin command (piped: ``!hotbus enable quotes`` then
        #: ``!quotes``) reaches the plugins once the command was carried out.
        self.ready: Callable[[], Awaitable[None]] | None = None

    def __repr__(self) -> str:
        return f"<hotbus ConsoleTransport user={self._user!r}>"

    async def serve(self, bus: Bus) -> None:
        """Publish each line as a chat message until the input ends or a stop is asked for.

        A line is handed to the bus without waiting for its handlers (each plugin answers in
        its own time, in order), so that a plugin that is slow, or hung, holds up no later line.
        """
        lines = self._lines()
        stopping = asyncio.ensure_future(self._stopped())
        try:
            while True:
                reading = asyncio.ensure_future(lines.get())
                done, _ = await asyncio.wait(
                    {reading, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
                if stopping in done:
                    reading.cancel()
                    return
                line = reading.result()
                if line is None:
                    joining = asyncio.ensure_future(bus.join())
                    await asyncio.wait(
                        {joining, stopping},
                        timeout=self._drain_s(),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    joining.cancel()
                    return
                text = line.rstrip("\r\n")
                if not text.strip():
                    continue
                if self.ready is not None:
                    ready = asyncio.ensure_future(self.ready())
                    await asyncio.wait({ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if stopping.done():
                        ready.cancel()
                        return
                bus.publish_nowait(ChatMessage(user=self._user, text=text, transport=CONSOLE))
        finally:
            stopping.cancel()

    async def _stopped(self) -> None:
        stop = asyncio.ensure_future(self._stop.wait())
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({stop, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            closing.cancel()

    def send(self, target: str, reply: ChatReply) -> None:
        """Print ``plugin: text`` (nothing when stdout carries the events instead)."""
        if self._print is not None:
            self._print(f"{reply.plugin}: {reply.text}")

    async def close(self) -> None:
        """Stop reading (the reader thread is a daemon: a blocked read holds nothing up)."""
        self._closing.set()
