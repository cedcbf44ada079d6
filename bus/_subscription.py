"""A subscription: one handler, one topic or pattern, one owner; a handle that can cancel."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeAlias, final

from hotbus.schemas import Event

if TYPE_CHECKING:
    from hotbus.bus._bus import Bus

__all__ = ["RUNTIME", "AsyncHandler", "Handler", "Subscription", "SyncHandler"]

#: The owner of subscriptions made by the runtime (or a host) rather than by a plugin.
RUNTIME: Final = "@runtime"

SyncHandler: TypeAlias = Callable[[Any], None]
AsyncHandler: TypeAlias = Callable[[Any], Awaitable[None]]
#: A handler takes the event and returns nothing (sync) or an awaitable (async).
Handler: TypeAlias = Callable[[Any], Any]


def is_async_handler(handler: Handler) -> bool:
    """Whether calling ``handler`` returns an awaitable that must be awaited (decided once)."""
    if inspect.iscoroutinefunction(handler):
        return True
    call = getattr(type(handler), "__call__", None)  # noqa: B004 - instances with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def describe_handler(handler: Handler) -> str:
    """``module.qualname`` of a handler, for events and messages."""
    target = getattr(handler, "func", handler)  # functools.partial
    module = getattr(target, "__module__", None) or "?"
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{name}"


@final
class Subscription:
    """A live subscription, returned by `Bus.subscribe`. ``cancel()`` ends it (idempotent).

    It is also the receiver connected (strongly) to the pattern's blinker signal, so blinker's
    registry and the bus agree on who listens to what.
    """

    __slots__ = (
        "__weakref__",
        "_bus",
        "active",
        "handler",
        "is_async",
        "name",
        "owner",
        "pattern",
        "priority",
        "seq",
        "timeout",
    )

    def __init__(
        self,
        bus: Bus,
        pattern: str,
        handler: Handler,
        *,
        owner: str,
        priority: int,
        timeout: float | None,
        seq: int,
    ) -> None:
        self._bus = bus
        self.pattern = pattern
        self.handler = handler
        self.owner = owner
        self.priority = priority
        self.timeout = timeout
        self.seq = seq
        self.is_async = is_async_handler(handler)
        self.name = describe_handler(handler)
        self.active = True

    def cancel(self) -> bool:
        """End the subscription; returns whether it was still active."""
        return self._bus.unsubscribe(self)

    def __call__(self, sender: Any, event: Event | None = None, **_: Any) -> Any:
        """Receive from a raw blinker ``send(sender, event=...)``: call the handler."""
        return self.handler(event if event is not None else sender)

    def __repr__(self) -> str:
        state = "active" if self.active else "cancelled"
        return (
            f"<hotbus Subscription {self.pattern!r} -> {self.name} owner={self.owner!r} "
            f"priority={self.priority} {state}>"
        )
