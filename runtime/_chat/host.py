"""`ChatHost`: serves the plugins' chat on transports, and routes each reply where it belongs.

A reply goes to the transport and the place its message came from (the channel, or the sender
privately), unless the plugin names a ``target`` (and a ``transport``). The host remembers where
the last messages came from, so that plugins written before replies had targets (they set only
``in_reply_to``) answer in the right place. ``!hotbus`` commands are answered here, by
`AdminCommands`, on every transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self, final
from uuid import UUID

from hotbus.runtime._chat.admin import AdminCommands
from hotbus.runtime._chat.transport import Transport
from hotbus.runtime._listener import Listener
from hotbus.runtime._plugins.chat import ChatMessage, ChatReply
from hotbus.runtime._runtime import Runtime

__all__ = ["ADMIN_PLUGIN", "ChatHost"]

#: The name the admin commands answer as (``plugin`` of their replies).
ADMIN_PLUGIN: Final = "hotbus"
#: How many messages' origins are remembered for the replies that answer them.
_REMEMBERED: Final = 10_000
#: Before the plugins' handlers: the origin is known before any reply can come.
_PRIORITY: Final = 1 << 20

logger = logging.getLogger("hotbus.chat")


@dataclass(frozen=True, slots=True)
class _Origin:
    transport: str
    target: str


@final
class ChatHost:
    """The plugins of ``runtime``, chatting on ``transports``.

    `start` subscribes the routing and starts every transport's `Transport.serve` as a task;
    `stop` closes them. `served` is the task of one transport (the console's ends with its
    input).
    """

    __slots__ = (
        "_admin",
        "_commands",
        "_listeners",
        "_origins",
        "_runtime",
        "_transports",
        "_unroutable",
        "served",
    )

    def __init__(self, runtime: Runtime, transports: Sequence[Transport]) -> None:
        self._runtime = runtime
        self._transports = {transport.name: transport for transport in transports}
        self._admin = AdminCommands(runtime, lambda: runtime.settings)
        self._origins: OrderedDict[UUID, _Origin] = OrderedDict()
        #: The admin commands under way, by the transport they were said on.
        self._commands: dict[str, set[asyncio.Task[None]]] = {}
        self._unroutable: set[str] = set()
        bus = runtime.bus
        self._listeners = (
            Listener(bus, ChatMessage, self._on_message, priority=_PRIORITY),
            Listener(bus, ChatReply, self._on_reply),
        )
        #: Each transport's `Transport.serve`, by name, once started.
        self.served: dict[str, asyncio.Task[None]] = {}

    def __repr__(self) -> str:
        return f"<hotbus ChatHost on {', '.join(self._transports) or 'no transport'}>"

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
        """Route replies and answer admin commands; start serving on every transport."""
        for listener in self._listeners:
            listener.attach()
        for name, transport in self._transports.items():
            if name not in self.served:
                task = asyncio.create_task(
                    transport.serve(self._runtime.bus), name=f"hotbus-transport-{name}"
                )
                task.add_done_callback(self._served_done)
                self.served[name] = task

    async def stop(self) -> None:
        """Close every transport (each says goodbye where it can), and stop routing."""
        for transport in self._transports.values():
            try:
                await transport.close()
            except Exception:
                logger.exception("closing the %s transport failed", transport.name)
        tasks = [*self.served.values(), *(t for ts in self._commands.values() for t in ts)]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()
        for listener in self._listeners:
            listener.detach()

    @staticmethod
    def _served_done(task: asyncio.Task[None]) -> None:
        """A transport that stops serving by an error says so (else the chat would go quiet)."""
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.error(
                "%s stopped serving: %s: %s",
                task.get_name().removeprefix("hotbus-transport-"),
                type(error).__name__,
                error,
                exc_info=error,
            )

    # -- routing ----------------------------------------------------------------------------

    def _on_message(self, message: ChatMessage) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            where = message.channel or "private"
            logger.debug("💬 %s %s <%s> %s", message.transport, where, message.user, message.text)
        origins = self._origins
        origins[message.event_id] = _Origin(message.transport, message.reply_target)
        if len(origins) > _REMEMBERED:
            origins.popitem(last=False)
        if AdminCommands.wanted(message):
            task = asyncio.get_running_loop().create_task(self._command(message))
            under_way = self._commands.setdefault(message.transport, set())
            under_way.add(task)
            task.add_done_callback(under_way.discard)

    async def commands_done(self, transport: str) -> None:
        """Wait until every admin command said on ``transport`` so far has been carried out
        (one still on its way to the bus included), so that what is said next on it sees
        their effect: a transport reading a script of lines calls this before each line."""
        await self._runtime.bus.flush()
        while under_way := self._commands.get(transport):
            await asyncio.wait(set(under_way))

    async def _command(self, message: ChatMessage) -> None:
        answer = await self._admin.answer(message)
        if answer is not None:
            await self._runtime.bus.publish(
                ChatReply(plugin=ADMIN_PLUGIN, text=answer, in_reply_to=message.event_id)
            )

    def _on_reply(self, reply: ChatReply) -> None:
        origin = self._origins.get(reply.in_reply_to) if reply.in_reply_to else None
        transports = self._transports
        if reply.transport is not None:
            names = [reply.transport]
        elif origin is not None:
            names = [origin.transport]
        else:
            names = list(transports)
        target = reply.target or (origin.target if origin is not None else None)
        for name in names:
            transport = transports.get(name)
            if transport is None:
                self._once(
                    reply.plugin,
                    "chat.reply of %s names transport %r, which is not served here (%s)",
                    reply.plugin,
                    name,
                    ", ".join(transports) or "none",
                )
            elif target is None and name != "console":
                self._once(
                    reply.plugin,
                    "chat.reply of %s names no target and answers no message it can find: "
                    "set in_reply_to=message.event_id, or target='#channel'",
                    reply.plugin,
                )
            else:
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("↩ %s %s <%s> %s", name, target, reply.plugin, reply.text)
                try:
                    transport.send(target or "", reply)
                except Exception:
                    logger.exception("the %s transport failed to send a reply", name)

    def _once(self, plugin: str, fmt: str, *args: object) -> None:
        """Warn about ``plugin``'s replies that cannot be routed, once per plugin."""
        if plugin not in self._unroutable:
            self._unroutable.add(plugin)
            logger.warning(fmt, *args)
