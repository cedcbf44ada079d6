"""A subscription: one handler on one signal (a topic or pattern), one owner, one place in order."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeAlias, final

from hotbus.schemas import Event

if TYPE_CHECKING:
    import blinker
    from hotbus.bus._bus import Bus

__all__ = ["RUNTIME", "AsyncHandler", "Handler", "Subscription", "SyncHandler"]

#: The owner of subscriptions made by the runtime (or a host) rather than by a plugin, and of
#: receivers connected with blinker's own API.
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


def weak_handler(ref: weakref.ref[Handler], is_async: bool) -> Handler:
    """A handler calling what ``ref`` refers to while it lives, and doing nothing after.

    Args:
        ref: a weak reference to the handler (a `weakref.WeakMethod` for a bound method).
        is_async: whether the handler must be awaited.

    Returns:
        A sync or async handler that holds the handler only weakly.
    """
    if is_async:

        async def call_async(event: Event) -> None:
            handler = ref()
            if handler is not None:
                await handler(event)

        return call_async

    def call(event: Event) -> None:
        handler = ref()
        if handler is not None:
            handler(event)

    return call


@final
class Subscription:
    """A handler's place on the bus. ``cancel()`` ends it (idempotent).

    `Bus.subscribe` returns one, and it is itself the receiver connected (strongly) to its
    signal. A receiver connected with blinker's own API gets one too, made by the bus: owner
    `RUNTIME`, priority 0, and its place in subscription order.

    Attributes:
        signal: the blinker signal of the topic or pattern, in the bus's namespace.
        pattern: the topic or pattern (the signal's name).
        handler: what the bus calls with the event.
        owner: who subscribed; `Bus.unsubscribe_owner` ends all of theirs.
        priority: higher runs first.
        timeout: seconds an async handler may take, or None.
        seq: the place in subscription order among equal priorities.
        is_async: whether the handler is awaited.
        name: ``module.qualname`` of the handler.
        tap: whether it is a tap (`Bus.tap`): called as the event is published, before the
            handlers.
        active: False once cancelled or disconnected.
    """

    __slots__ = (
        "__weakref__",
        "_bus",
        "_receiver",
        "active",
        "handler",
        "is_async",
        "name",
        "owner",
        "pattern",
        "priority",
        "seq",
        "signal",
        "tap",
        "timeout",
    )

    def __init__(
        self,
        bus: Bus,
        signal: blinker.NamedSignal,
        handler: Handler,
        *,
        owner: str,
        priority: int,
        timeout: float | None,
        seq: int,
        receiver: Handler | weakref.ref[Handler] | None = None,
        name: str | None = None,
        tap: bool = False,
    ) -> None:
        """Describe a subscription; `Bus.subscribe` makes them.

        Args:
            bus: the bus delivering to it.
            signal: the signal it listens on.
            handler: what the bus calls with each event.
            owner: who subscribed.
            priority: higher runs first.
            timeout: seconds an async handler may take, or None.
            seq: its place in subscription order.
            receiver: what is connected to ``signal`` when it is not the subscription itself:
                a receiver connected with blinker's API, or a weak reference to it.
            name: how to name the handler, if not after ``handler`` itself.
            tap: a tap (`Bus.tap`) rather than a handler.
        """
        self._bus = bus
        self._receiver = receiver
        self.signal = signal
        self.pattern = signal.name
        self.handler = handler
        self.owner = owner
        self.priority = priority
        self.timeout = timeout
        self.seq = seq
        self.is_async = is_async_handler(handler)
        self.name = name if name is not None else describe_handler(handler)
        self.tap = tap
        self.active = True

    @property
    def receiver(self) -> Handler | None:
        """What is connected to the signal for this subscription (None once collected)."""
        receiver = self._receiver
        if receiver is None:
            return self
        if isinstance(receiver, weakref.ref):
            return receiver()
        return receiver

    def cancel(self) -> bool:
        """End the subscription; returns whether it was still active."""
        return self._bus.unsubscribe(self)

    def __call__(self, sender: Any, event: Event | None = None, **_: Any) -> Any:
        """Receive from a raw blinker ``send(sender, event=...)``: call the handler."""
        return self.handler(event if event is not None else sender)

    def __repr__(self) -> str:
        state = "active" if self.active else "cancelled"
        kind = " tap" if self.tap else ""
        return (
            f"<hotbus Subscription {self.pattern!r} -> {self.name} owner={self.owner!r} "
            f"priority={self.priority}{kind} {state}>"
        )
