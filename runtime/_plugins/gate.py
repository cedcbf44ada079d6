"""The gate in front of a plugin's handlers: holds events while the plugin is being swapped."""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from typing import TYPE_CHECKING, Any, final
from uuid import UUID

from hotbus.bus import Handler, Subscription
from hotbus.schemas import Event

if TYPE_CHECKING:
    from hotbus.bus import Bus

__all__ = ["Gate"]


@final
class Gate:
    """Wraps every handler of one plugin (across its versions).

    While open, events pass straight through. While closed (a reload is swapping the plugin),
    events addressed to the plugin are held, once each, in arrival order; `open` delivers them
    to whichever version is then serving. In-flight async handlers are tracked (by task, which
    costs a dictionary update per call) so that a reload can wait for them, and cancel them
    past a limit without cancelling the task that published the event.
    """

    __slots__ = (
        "_cancelled",
        "_closed",
        "_held",
        "_held_ids",
        "_idle",
        "_replaying",
        "_running",
        "_stand_ins",
        "plugin",
    )

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self._closed = False
        self._held: deque[Event] = deque()
        self._held_ids: set[UUID] = set()
        self._running: dict[asyncio.Task[Any], int] = {}
        self._cancelled: set[asyncio.Task[Any]] = set()
        self._idle: asyncio.Event | None = None
        self._replaying: UUID | None = None
        self._stand_ins: list[Subscription] = []

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<hotbus Gate {self.plugin!r} {state} held={len(self._held)} "
            f"in_flight={self.in_flight}>"
        )

    @property
    def closed(self) -> bool:
        """Whether events are being held."""
        return self._closed

    @property
    def in_flight(self) -> int:
        """How many async handlers of the plugin are running now."""
        return sum(self._running.values())

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
                task = asyncio.current_task()
                assert task is not None
                running = self._running
                running[task] = running.get(task, 0) + 1
                try:
                    await handler(event)
                except asyncio.CancelledError:
                    if task not in self._cancelled:
                        raise
                    # Cancelled by a reload that waited long enough (and said so in an event):
                    # the handler stops, the task that published the event goes on.
                    self._cancelled.discard(task)
                    if task.uncancel() > 0:
                        raise  # cancelled by someone else too
                finally:
                    if task in self._cancelled:  # the handler swallowed the cancellation
                        self._cancelled.discard(task)
                        task.uncancel()
                    count = running[task] - 1
                    if count:
                        running[task] = count
                    else:
                        del running[task]
                        if not running and self._idle is not None:
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
        if not self._running:
            return 0
        self._idle = asyncio.Event()
        try:
            if await self._wait_idle(timeout):
                return 0
            tasks = list(self._running)
            cancelled = sum(self._running.values())
            for task in tasks:
                self._cancelled.add(task)
                task.cancel()
            await self._wait_idle(timeout)  # a handler may ignore cancellation: go on anyway
            return cancelled
        finally:
            self._idle = None

    async def _wait_idle(self, timeout: float) -> bool:
        assert self._idle is not None
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

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
