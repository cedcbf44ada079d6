"""`Transport`: what the chat host needs of a chat network (the console, IRC, Discord, ...)."""

from __future__ import annotations

from typing import Protocol

from hotbus.bus import Bus
from hotbus.runtime._plugins.chat import ChatReply

__all__ = ["Transport"]


class Transport(Protocol):
    """One chat network the host serves plugins on.

    A transport publishes what arrives as events on the bus (`ChatMessage`, `ChatJoined`,
    `ChatParted`, each with its ``transport`` set to `name`) and its connection's changes
    (``hotbus.transport.*``); the host hands it the replies to say. Reconnecting is the
    transport's own business: `serve` returns only once `close` was called, or when the
    network is gone for good (the console's input ended).
    """

    #: The name messages carry in their ``transport`` field ('console', 'irc', ...).
    name: str

    async def serve(self, bus: Bus) -> None:
        """Connect, and publish what arrives on ``bus`` until closed."""
        ...

    def send(self, target: str, reply: ChatReply) -> None:
        """Say ``reply`` to ``target`` (a channel, or a nick privately), without waiting.

        Called on the event loop by the host's reply handler: it must not block. A transport
        that throttles or splits long replies queues them here.
        """
        ...

    async def close(self) -> None:
        """Leave the network (say goodbye where it can) and make `serve` return."""
        ...
