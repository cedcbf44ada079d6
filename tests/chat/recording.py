"""A transport that keeps what it is asked to say: for the tests of routing and admin commands.

It is a real `Transport` (the host cannot tell it from IRC); only the network is left out.
"""

from __future__ import annotations

import asyncio
from typing import final

from hotbus import Bus, ChatReply

__all__ = ["Recording"]


@final
class Recording:
    """A transport named ``name``: `sent` holds ``(target, plugin, text)`` per reply."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[str, str, str]] = []
        self._closed = asyncio.Event()

    async def serve(self, bus: Bus) -> None:
        await self._closed.wait()

    def send(self, target: str, reply: ChatReply) -> None:
        self.sent.append((target, reply.plugin, reply.text))

    async def close(self) -> None:
        self._closed.set()
