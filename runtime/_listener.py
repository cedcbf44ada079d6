"""`Listener`: one of the runtime's own subscriptions, switched on and off as a whole."""

from __future__ import annotations

from typing import final

from hotbus.bus import RUNTIME, Bus, Handler, Subscription, TopicLike

__all__ = ["Listener"]


@final
class Listener:
    """Subscribes ``handler`` to ``topic`` on ``bus`` for the runtime while attached.

    The pipeline's subscribers (debouncer, reloader, scheduler) and the event logger attach
    when the runtime starts and detach when it stops; both are harmless to repeat.
    """

    __slots__ = ("_bus", "_handler", "_priority", "_subscription", "_topic")

    def __init__(self, bus: Bus, topic: TopicLike, handler: Handler, *, priority: int = 0) -> None:
        self._bus = bus
        self._topic = topic
        self._handler = handler
        self._priority = priority
        self._subscription: Subscription | None = None

    def __repr__(self) -> str:
        state = "attached" if self.attached else "detached"
        return f"<hotbus Listener {self._topic!r} {state}>"

    @property
    def attached(self) -> bool:
        """Whether the subscription is active."""
        return self._subscription is not None and self._subscription.active

    def attach(self) -> None:
        """Subscribe; does nothing if already attached."""
        if not self.attached:
            self._subscription = self._bus.subscribe(
                self._topic, self._handler, owner=RUNTIME, priority=self._priority
            )

    def detach(self) -> None:
        """Cancel the subscription; does nothing if not attached."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.cancel()
