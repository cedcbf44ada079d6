"""`Mailbox`: one owner's deliveries, in publish order, one at a time, on a task of its own.

Every owner but the runtime gets one, so that a slow or hung handler delays only its own
owner's later events (as an Erlang process's mailbox, or textual's message pump). A mailbox can
be paused, for a reload: what arrives meanwhile waits, and is delivered after `resume` to the
handlers the owner has then.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, final

from hotbus.schemas import Event

__all__ = ["Mailbox"]

#: Delivers one event to one owner's handlers: ``deliver(owner, event, chain)``.
Deliver = Callable[[str, Event, Any], Awaitable[None]]


@final
class Mailbox:
    """The deliveries waiting for ``owner``'s handlers, worked off by one task at a time."""

    __slots__ = (
        "_deliver",
        "_interrupting",
        "_items",
        "_paused",
        "_urgent",
        "_worker",
        "owner",
        "patterns",
    )

    def __init__(self, owner: str, deliver: Deliver) -> None:
        self.owner = owner
        self._deliver = deliver
        self._items: deque[tuple[Event, Any]] = deque()
        # Deliveries that do not wait while paused (a request its requester's drain waits for).
        self._urgent: deque[tuple[Event, Any]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._paused = False
        self._interrupting = False
        #: While paused, the patterns the owner listened to: events matching them keep
        #: arriving although the owner may have no subscription for a moment (a reload).
        self.patterns: tuple[str, ...] = ()

    def __repr__(self) -> str:
        state = "paused" if self._paused else "busy" if self.busy else "idle"
        return f"<hotbus Mailbox {self.owner!r} {state} waiting={len(self._items)}>"

    def __len__(self) -> int:
        return len(self._items) + len(self._urgent)

    @property
    def paused(self) -> bool:
        """Whether deliveries wait for `resume`."""
        return self._paused

    @property
    def busy(self) -> bool:
        """Whether a delivery is under way."""
        return self._worker is not None

    @property
    def worker(self) -> asyncio.Task[None] | None:
        """The task delivering now, if any (await it to wait for the mailbox to empty)."""
        return self._worker

    def put(self, event: Event, chain: Any, *, urgent: bool = False) -> None:
        """Queue ``event`` (published along ``chain``) for delivery after what is waiting.

        An ``urgent`` event is delivered even while the mailbox is paused, before what waits
        (the bus uses it for a request that a paused requester's drain waits for).
        """
        if urgent and self._paused:
            self._urgent.append((event, chain))
        else:
            self._items.append((event, chain))
            if self._paused:
                return
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name=f"hotbus-mailbox:{self.owner}"
            )

    def _next(self) -> tuple[Event, Any] | None:
        if self._urgent:
            return self._urgent.popleft()
        if self._items and not self._paused:
            return self._items.popleft()
        return None

    async def _work(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        try:
            while self._worker is me:
                item = self._next()
                if item is None:
                    break
                event, chain = item
                try:
                    await self._deliver(self.owner, event, chain)
                except asyncio.CancelledError:
                    if not self._interrupting or me.cancelling() > 1:
                        raise  # not (only) the pause's doing: the loop is shutting down
                    self._interrupting = False
                    me.uncancel()
        finally:
            if self._worker is me:
                self._worker = None

    async def pause(self, timeout: float) -> int:
        """Hold new deliveries; let the one under way finish, for at most ``timeout`` seconds.

        Past the limit the delivery is cancelled; a handler that ignores the cancellation for
        another ``timeout`` is abandoned (it runs on, unawaited). Returns how many deliveries
        were cancelled (0 or 1).
        """
        self._paused = True
        worker = self._worker
        if worker is None:
            return 0
        done, _ = await asyncio.wait({worker}, timeout=timeout)
        if done:
            return 0
        self._interrupting = True
        worker.cancel()
        done, _ = await asyncio.wait({worker}, timeout=timeout)
        if not done and self._worker is worker:
            self._worker = None  # it swallowed the cancellation: abandon it
        self._interrupting = False
        return 1

    def resume(self) -> None:
        """Deliver what waits, to the handlers the owner has now, and go on delivering."""
        self._paused = False
        self.patterns = ()
        self._items.extendleft(reversed(self._urgent))
        self._urgent.clear()
        if self._items and self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name=f"hotbus-mailbox:{self.owner}"
            )

    def clear(self) -> int:
        """Drop what waits; returns how many deliveries were dropped."""
        dropped = len(self)
        self._items.clear()
        self._urgent.clear()
        return dropped
