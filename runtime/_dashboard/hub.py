"""`Hub`: the dashboard's one bus subscription, fanning events out to each connected client.

The subscription is a tap (`Bus.tap`) whose handler is the ``append`` of a list (a call into
C, no Python frame): a publish pays for that and nothing else, whoever is connected, and the
events arrive in the order they were published. Every `FLUSH_INTERVAL_S` a timer
on the loop takes what was appended: it feeds the `Board`, turns each event into its JSON line
once (the same object as a line of ``--events-jsonl``), and offers it to every client whose
topic pattern matches. The page is at most that interval behind the bus.

Each client has a bounded queue. A client that does not keep up (a slow browser, a stalled
network) loses the events that do not fit, and they are counted: the stream tells it how many
it missed. Nothing a client does makes a publish wait.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final, final

from hotbus.bus import Bus, Subscription
from hotbus.runtime._dashboard.board import Board
from hotbus.runtime._dashboard.fleet import FleetView
from hotbus.runtime._eventjson import event_json
from hotbus.schemas import Event, topic_matches, validate_pattern

__all__ = ["FLUSH_INTERVAL_S", "QUEUE_SIZE", "Client", "Hub"]

#: How many events a client's queue holds by default before it starts dropping.
QUEUE_SIZE: Final = 10_000
#: How often the events received are fanned out to the clients, in seconds.
FLUSH_INTERVAL_S: Final = 0.01


@final
class Client:
    """One connected stream: its topic pattern, its bounded queue and what it missed."""

    __slots__ = ("_matches", "_queue", "_wake", "closed", "dropped", "limit", "pattern")

    def __init__(self, pattern: str, limit: int) -> None:
        #: The topic pattern it follows (NATS wildcards).
        self.pattern = pattern
        #: The most lines its queue holds.
        self.limit = limit
        #: How many events did not fit in its queue, since it connected.
        self.dropped = 0
        #: Set when the hub stops: the stream ends.
        self.closed = False
        self._queue: deque[str] = deque()
        self._wake = asyncio.Event()
        self._matches: dict[str, bool] = {}

    def __repr__(self) -> str:
        return (
            f"<hotbus dashboard Client {self.pattern!r} queued={len(self._queue)} "
            f"dropped={self.dropped}>"
        )

    def wants(self, topic: str) -> bool:
        """Whether ``topic`` matches this client's pattern (remembered per topic)."""
        found = self._matches.get(topic)
        if found is None:
            found = self._matches[topic] = topic_matches(self.pattern, topic)
        return found

    def offer(self, line: str) -> None:
        """Queue ``line``, or count it as dropped when the queue is full."""
        if len(self._queue) >= self.limit:
            self.dropped += 1
        else:
            self._queue.append(line)
        self._wake.set()

    def close(self) -> None:
        """End the stream: `take` returns what is left, then nothing."""
        self.closed = True
        self._wake.set()

    async def take(self) -> list[str]:
        """Wait for lines (or the end), and return every line queued; empty once closed."""
        while not self._queue and not self.closed:
            self._wake.clear()
            await self._wake.wait()
        lines = list(self._queue)
        self._queue.clear()
        return lines


@final
class Hub:
    """Subscribes to every topic (as the runtime, last) while attached; fans events out.

    Example::

        hub = Hub(bus)
        hub.attach()
        client = hub.connect("hotbus.plugin.*")
        lines = await client.take()  # JSON lines of the events published since
    """

    __slots__ = (
        "_bus",
        "_clients",
        "_loop",
        "_pending",
        "_subscription",
        "_timer",
        "board",
        "events",
        "fleet",
        "queue_size",
    )

    def __init__(self, bus: Bus, *, queue_size: int = QUEUE_SIZE) -> None:
        self._bus = bus
        self._clients: list[Client] = []
        self._pending: list[Event] = []
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscription: Subscription | None = None
        #: What the page shows beyond the runtime's status.
        self.board = Board()
        #: The fleet this host is in, if any (its hosts' plugins are shown too).
        self.fleet: FleetView | None = None
        #: How many events the hub has received.
        self.events = 0
        #: The default bound of a client's queue.
        self.queue_size = queue_size

    def __repr__(self) -> str:
        return f"<hotbus dashboard Hub clients={len(self._clients)} events={self.events}>"

    @property
    def clients(self) -> list[Client]:
        """The clients connected now."""
        return list(self._clients)

    @property
    def dropped(self) -> int:
        """How many events the clients connected now have missed, together."""
        return sum(client.dropped for client in self._clients)

    def attach(self) -> None:
        """Subscribe and start fanning out (on the loop's thread); does nothing if attached."""
        if self._subscription is None:
            self._loop = asyncio.get_running_loop()
            self._subscription = self._bus.tap(">", self._pending.append)
            self._timer = self._loop.call_later(FLUSH_INTERVAL_S, self._tick)

    def detach(self) -> None:
        """Unsubscribe, fan out what was received, and end every client's stream; does
        nothing if detached."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.cancel()
            self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for client in self._clients:
            client.close()
        self._clients.clear()

    def connect(self, pattern: str = ">", *, limit: int | None = None) -> Client:
        """A new client following ``pattern``; raises `TopicError` for an invalid pattern."""
        client = Client(validate_pattern(pattern), self.queue_size if limit is None else limit)
        if self._subscription is None:
            client.close()
        else:
            self._clients.append(client)
        return client

    def disconnect(self, client: Client) -> None:
        """Forget ``client`` (its stream ended); harmless twice."""
        if client in self._clients:
            self._clients.remove(client)
        client.close()

    def _tick(self) -> None:
        self.flush()
        if self._subscription is not None and self._loop is not None:
            self._timer = self._loop.call_later(FLUSH_INTERVAL_S, self._tick)

    def flush(self) -> None:
        """Fan out every event received since the last time (the timer does it by itself)."""
        pending = self._pending
        if not pending:
            return
        events = pending.copy()
        pending.clear()
        self.events += len(events)
        board = self.board
        clients = self._clients
        for event in events:
            board.observe(event)
            if not clients:
                continue
            line = None
            topic = event.topic
            for client in clients:
                if client.wants(topic):
                    if line is None:
                        line = event_json(event)
                    client.offer(line)
