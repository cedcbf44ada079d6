"""The gate in front of a plugin's handlers: holds events while the plugin is being swapped."""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from typing import TYPE_CHECKING, Any, final
from uuid import UUID

from bus import Handler, Subscription
from schemas import Event

if TYPE_CHECKING:
    from bus import Bus

__all__ = ["Gate"]


@final
class Gate:
    """Wraps every handler of one plugin (across its versions).

    While open, events pass straight through. While closed (a reload is swapping the plugin),
    events addressed to the plugin are held, once each, in arrival order; `open` delivers them
    to whichever version is then serving. In-flight async handlers are tracked so that a reload
    can wait for them, and cancel them past a limit.
    """

    __slots__ = (
        "_closed",
        "_held",
        "_held_ids",
        "_idle",
        "_replaying",
        "_scopes",
        "_stand_ins",
        "plugin",
    )

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self._closed = False
        self._held: deque[Event] = deque()
        self._held_ids: set[UUID] = set()
        self._scopes: set[asyncio.Timeout] = set()
        self._idle: asyncio.Event | None = None
        self._replaying: UUID | None = None
        self._stand_ins: list[Subscription] = []

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<hotbus Gate {self.plugin!r} {state} held={len(self._held)} "
            f"in_flight={len(self._scopes)}>"
        )

    @property
    def closed(self) -> bool:
        """Whether events are being held."""
        return self._closed

    @property
    def in_flight(self) -> int:
        """How many async handlers of the plugin are running now."""
        return len(self._scopes)

    @property
    def held(self) -> int:
        """How many events wait for the gate to open."""
        return len(self._held)

    def _hold(self, event: Event) -> None:
        if event.event_id not in self._held_ids:
            self._held_ids.add(event.event_id)
            self._held.append(event)

    def wrap(self, handler: Handler, is_async: bool) -> Handler:
        """A handler that passes events through this gate to ``handler``."""
        if is_async:

            async def gated_async(event: Event) -> None:
                if self._closed and event.event_id != self._replaying:
                    self._hold(event)
                    return
                scope = asyncio.timeout(None)
                try:
                    async with scope:
                        self._scopes.add(scope)
                        await handler(event)
                except TimeoutError:
                    if not scope.expired():
                        raise  # the handler's own TimeoutError
                    # cancelled by a reload that waited long enough: reported there
                finally:
                    self._scopes.discard(scope)
                    if not self._scopes and self._idle is not None:
                        self._idle.set()

            return functools.wraps(handler)(gated_async)

        def gated(event: Event) -> Any:
            if self._closed and event.event_id != self._replaying:
                self._hold(event)
                return None
            return handler(event)

        return functools.wraps(handler)(gated)

    async def close(self, bus: Bus, timeout: float) -> int:
        """Hold new events and wait for in-flight handlers; past ``timeout`` cancel them.

        Events addressed to the plugin keep being held after its running version has
        unsubscribed (torn down) and before the next one has subscribed: for each topic the
        running version listens to, a stand-in subscription holds them meanwhile.

        Returns how many handlers were cancelled.
        """
        self._closed = True
        if not self._stand_ins:
            owner = f"@gate:{self.plugin}"
            patterns = dict.fromkeys(sub.pattern for sub in bus.subscriptions(self.plugin))
            self._stand_ins = [bus.subscribe(p, self._hold, owner=owner) for p in patterns]
        if not self._scopes:
            return 0
        self._idle = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
            return 0
        except TimeoutError:
            pending = list(self._scopes)
            loop = asyncio.get_running_loop()
            for scope in pending:
                scope.reschedule(loop.time())
            if self._scopes:
                self._idle.clear()
                async with asyncio.timeout(timeout):
                    await self._idle.wait()
            return len(pending)
        finally:
            self._idle = None

    async def open(self, bus: Bus) -> int:
        """Deliver the held events to the plugin's current handlers, then let events through.

        Returns how many events were delivered.
        """
        for stand_in in self._stand_ins:
            stand_in.cancel()
        self._stand_ins.clear()
        delivered = 0
        while self._held:
            event = self._held.popleft()
            self._held_ids.discard(event.event_id)
            self._replaying = event.event_id
            try:
                await bus.deliver(event, owner=self.plugin)
            finally:
                self._replaying = None
            delivered += 1
        self._closed = False
        return delivered
