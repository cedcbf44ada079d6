"""Recording events for tests and tools: what was published, and waiting for what comes next."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, final, overload

from hotbus.schemas import Event, topic_matches

__all__ = ["Recorder"]

E = TypeVar("E", bound=Event)
Matcher = Callable[[Event], bool]


def _matcher(topic: str | type[Event], where: Callable[[Any], bool] | None) -> Matcher:
    pattern = topic if isinstance(topic, str) else topic.topic

    def match(event: Event) -> bool:
        if event.topic != pattern and not topic_matches(pattern, event.topic):
            return False
        return where is None or bool(where(event))

    return match


@final
class Recorder:
    """The events recorded by `Bus.record`, in publish order.

    `wait_for` consumes, topic by topic: each call returns the first matching event after the
    one the previous call *for the same topic* returned, so a test can wait for a sequence of
    events of one topic one by one, and waiting for one topic never skips events of another
    (waiting for a commit, then for a reply that came before it, finds the reply).
    """

    __slots__ = ("_closed", "_cursors", "_waiters", "events", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.events: list[Event] = []
        #: Past the last event each topic's `wait_for` returned, by topic or pattern.
        self._cursors: dict[str, int] = {}
        self._waiters: list[tuple[Matcher, asyncio.Future[int]]] = []
        self._closed = False

    def append(self, event: Event) -> None:
        """Record ``event`` (the bus calls this) and wake whoever waits for it."""
        if self._closed:
            return
        self.events.append(event)
        index = len(self.events) - 1
        for entry in list(self._waiters):
            match, future = entry
            if not future.done() and match(event):
                future.set_result(index)
                self._waiters.remove(entry)

    def close(self) -> None:
        """Stop recording (the bus calls this when the block ends)."""
        self._closed = True

    def topics(self) -> list[str]:
        """The topics recorded, in order."""
        return [event.topic for event in self.events]

    @overload
    def of(self, topic: type[E]) -> list[E]: ...
    @overload
    def of(self, topic: str) -> list[Event]: ...
    def of(self, topic: str | type[Event]) -> list[Any]:
        """The recorded events matching a topic, pattern or event class."""
        match = _matcher(topic, None)
        return [event for event in self.events if match(event)]

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.events.clear()
        self._cursors.clear()

    @overload
    async def wait_for(
        self,
        topic: type[E],
        where: Callable[[E], bool] | None = ...,
        *,
        timeout: float = ...,
    ) -> E: ...
    @overload
    async def wait_for(
        self,
        topic: str,
        where: Callable[[Any], bool] | None = ...,
        *,
        timeout: float = ...,
    ) -> Event: ...
    async def wait_for(
        self,
        topic: str | type[Event],
        where: Callable[[Any], bool] | None = None,
        *,
        timeout: float = 10.0,
    ) -> Any:
        """Return the next matching event, waiting up to ``timeout`` seconds for it.

        Raises:
            TimeoutError: naming the topic and listing what was recorded instead.
        """
        match = _matcher(topic, where)
        key = topic if isinstance(topic, str) else topic.topic
        cursor = self._cursors.get(key, 0)
        for index in range(cursor, len(self.events)):
            if match(self.events[index]):
                self._cursors[key] = index + 1
                return self.events[index]
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        entry = (match, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                index = await future
        except TimeoutError:
            seen = ", ".join(self.topics()[cursor:][-12:]) or "nothing"
            raise TimeoutError(
                f"no {key!r} event{' matching the condition' if where else ''} within "
                f"{timeout:g} s; recorded since the last match: {seen}"
            ) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
        self._cursors[key] = index + 1
        return self.events[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"<hotbus Recorder {self.pattern!r} events={len(self.events)}>"
