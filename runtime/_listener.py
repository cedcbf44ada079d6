"""`Listener`: one of the runtime's own subscriptions, switched on and off as a whole."""

from __future__ import annotations

from typing import Any, final

from hotbus.bus import RUNTIME, Bus, Handler, Subscription, TopicLike, is_async_handler
from hotbus.schemas import REMOTE_PREFIX, Event

__all__ = ["Listener"]


def _local_only(handler: Handler) -> Handler:
    """``handler``, called only for events of this host (not those a fleet bridge brings in
    from other hosts, whose source is ``fleet:<host>``)."""
    if is_async_handler(handler):

        async def local_async(event: Event) -> Any:
            if not event.source.startswith(REMOTE_PREFIX):
                return await handler(event)
            return None

        return _named(local_async, handler)

    def local(event: Event) -> Any:
        if not event.source.startswith(REMOTE_PREFIX):
            return handler(event)
        return None

    return _named(local, handler)


def _named(wrapper: Any, handler: Handler) -> Handler:
    """``wrapper`` under ``handler``'s name, which failures of it report."""
    target: Any = handler if hasattr(handler, "__qualname__") else type(handler)
    wrapper.__module__ = getattr(target, "__module__", wrapper.__module__)
    wrapper.__qualname__ = getattr(target, "__qualname__", wrapper.__qualname__)
    return wrapper  # type: ignore[no-any-return]


@final
class Listener:
    """Subscribes ``handler`` to ``topic`` on ``bus`` for the runtime while attached.

    The pipeline's subscribers (debouncer, reloader, scheduler) and the event logger attach
    when the runtime starts and detach when it stops; both are harmless to repeat. They act on
    this host's events only: an event another host of a fleet published (`is_remote`) passes
    them by, so that a remote reload or file change never moves a plugin here.
    """

    __slots__ = ("_bus", "_handler", "_priority", "_subscription", "_topic")

    def __init__(self, bus: Bus, topic: TopicLike, handler: Handler, *, priority: int = 0) -> None:
        self._bus = bus
        self._topic = topic
        self._handler = _local_only(handler)
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
