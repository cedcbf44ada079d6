"""The Bus: typed events delivered over its own blinker namespace, in order, with isolation."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from inspect import ismethod
from typing import Any, Final, TypeVar, final
from uuid import UUID

import blinker
from blinker._utilities import make_id  # the key of Signal.receivers: blinker's own, to agree
from hotbus.bus._mailbox import Mailbox
from hotbus.bus._patterns import PatternIndex
from hotbus.bus._recorder import Recorder
from hotbus.bus._request import PendingRequest
from hotbus.bus._subscription import (
    RUNTIME,
    Handler,
    Subscription,
    describe_handler,
    is_async_handler,
    weak_handler,
)
from hotbus.schemas import (
    BusError,
    ErrorInfo,
    Event,
    HandlerFailed,
    HandlerTimeoutError,
    NoResponderError,
    PublishDepthError,
    RequestTimeoutError,
    TopicError,
    is_pattern,
    topic_matches,
    validate_pattern,
)

__all__ = ["DEFAULT_MAX_DEPTH", "Bus", "TopicLike"]

logger = logging.getLogger("hotbus.bus")

#: How deep publishes may nest (a handler publishing, whose handler publishes, ...).
DEFAULT_MAX_DEPTH: Final = 64

#: A topic, a wildcard pattern, or an event class (meaning its topic).
TopicLike = str | type[Event]

_FAILED_TOPIC: Final = HandlerFailed.topic
# The publish chain that led to the current delivery, as a linked node (depth, topic, parent):
# cheaper to extend on every publish than a flat tuple, flattened only for error messages.
_Chain = tuple[int, str, "_Chain | None"]
_ROOT: Final[_Chain] = (0, "", None)
_chain: ContextVar[_Chain] = ContextVar("hotbus_publish_chain", default=_ROOT)


def _topics(chain: _Chain | None) -> list[str]:
    topics: list[str] = []
    while chain is not None and chain[0]:
        topics.append(chain[1])
        chain = chain[2]
    topics.reverse()
    return topics


F = TypeVar("F", bound=Handler)

# How a plan calls each handler: called, awaited, or awaited under a timeout.
_SYNC: Final = 0
_ASYNC: Final = 1
_TIMED: Final = 2
_Entry = tuple[Handler, int, Subscription]
# Which handlers of a plan are async: none, some, or every one (awaited without a timeout).
_NONE_ASYNC: Final = 0
_SOME_ASYNC: Final = 1
_ALL_ASYNC: Final = 2
# The ordered entries for one topic (of one owner, or all), and which of them are async.
# The runtime's own handlers (called during publish), which are async, the other owners
# whose mailboxes get the event, and what taps the event first: None, the one tap's handler,
# or a `_Taps` calling each of several.
_Plan = tuple[tuple[_Entry, ...], int, tuple[str, ...], "Callable[[Event], object] | None"]


class _TapsFailed(Exception):
    """Taps of one publish that raised: each subscription with its exception."""

    def __init__(self, failures: list[tuple[Subscription, Exception]]) -> None:
        super().__init__(f"{len(failures)} taps failed")
        self.failures = failures


class _Taps:
    """Calls every tap of a topic in turn; the ones that raise are reported together."""

    __slots__ = ("subs",)

    def __init__(self, subs: list[Subscription]) -> None:
        self.subs = subs

    def __call__(self, event: Event) -> None:
        failures: list[tuple[Subscription, Exception]] = []
        for sub in self.subs:
            if sub.active:
                try:
                    sub.handler(event)
                except Exception as error:
                    failures.append((sub, error))
        if failures:
            raise _TapsFailed(failures)


def _pattern_of(topic: TopicLike, owner: str | None = None) -> str:
    if isinstance(topic, type) and issubclass(topic, Event):
        found = getattr(topic, "topic", None)
        if found is None:
            raise TopicError(
                topic.__qualname__,
                "this event class has no topic of its own (an abstract base): subscribe to a "
                "class that sets `topic`, or to a pattern",
                owner=owner,
            )
        return str(found)
    return validate_pattern(topic, owner=owner)


def _call_kind(sub: Subscription) -> int:
    if not sub.is_async:
        return _SYNC
    return _ASYNC if sub.timeout is None else _TIMED


def _order(sub: Subscription) -> tuple[int, int]:
    return -sub.priority, sub.seq


class _Signal(blinker.NamedSignal):
    """A signal of a bus: muting it (blinker's `Signal.muted`) tells the bus, as connects do."""

    def __init__(self, name: str, doc: str | None, changed: Callable[[], None]) -> None:
        """Make the signal ``name``; ``changed`` is called whenever it is muted or unmuted."""
        self._changed = changed
        self._is_muted = False
        super().__init__(name, doc)

    @property
    def is_muted(self) -> bool:
        """Whether the signal is muted: its receivers get nothing."""
        return self._is_muted

    @is_muted.setter
    def is_muted(self, value: bool) -> None:
        if value != self._is_muted:
            self._is_muted = value
            self._changed()


class _Namespace(blinker.Namespace):
    """A bus's signals by topic or pattern: each name maps to its signal while it has receivers.

    `signal` returns the same signal for a name for as long as anything holds it. A signal is
    made by the bus; it enters the mapping with its first receiver and leaves it with its last
    (and is held weakly meanwhile, so that whoever holds it keeps the same one). The patterns
    among the names are indexed by token, so that `matching` never tries every name.
    """

    def __init__(self, make: Callable[[str, str | None], blinker.NamedSignal]) -> None:
        """Make an empty namespace whose signals ``make(name, doc)`` creates."""
        super().__init__()
        self._make = make
        self._idle: weakref.WeakValueDictionary[str, blinker.NamedSignal] = (
            weakref.WeakValueDictionary()
        )
        self._patterns = PatternIndex()

    def signal(self, name: str, doc: str | None = None) -> blinker.NamedSignal:
        """The signal named ``name``, made by the bus if there is none.

        Args:
            name: a topic or pattern.
            doc: the docstring of a signal created now.

        Returns:
            The signal of ``name``.
        """
        found = self.get(name)
        if found is None:
            found = self._idle.get(name)
            if found is None:
                found = self._idle[name] = self._make(name, doc)
        return found

    def enter(self, signal: blinker.NamedSignal) -> None:
        """Map ``signal`` by its name, now that it has a receiver."""
        name = signal.name
        if name not in self:
            self._idle.pop(name, None)
            self[name] = signal
            if is_pattern(name):
                self._patterns.add(name)

    def leave(self, signal: blinker.NamedSignal) -> None:
        """Unmap ``signal`` if it has no receiver left."""
        name = signal.name
        if not signal.receivers and self.get(name) is signal:
            del self[name]
            self._idle[name] = signal
            self._patterns.discard(name)

    def matching(self, topic: str) -> list[blinker.NamedSignal]:
        """The mapped signals whose name is ``topic`` or a pattern matching it."""
        found = [self[name] for name in self._patterns.matching(topic)]
        exact = self.get(topic)
        if exact is not None:
            found.append(exact)
        return found


@final
class Bus:
    """Delivers events to subscribers, in a deterministic order, isolating their failures.

    Subscribe by exact topic, by NATS-style pattern (``*`` one token, ``>`` the rest) or by event
    class. Handlers may be sync or async, and each owner receives events in publish order, its
    handlers in order of priority (higher first), then subscription order.

    Delivery is per owner. The runtime's own handlers (owner `RUNTIME`, the default: the
    pipeline, loggers, recorders) run during `publish`, which returns when they are done. Every
    other owner (a plugin) has a mailbox: `publish` puts the event in it and returns, and the
    owner's handlers run on a task of their own, one event after the other, so that a slow or
    hung handler delays only its own owner's later events. `join` waits for the mailboxes.

    The bus's blinker namespace is the registry of record: each topic or pattern has its
    signal (`signal`), a subscription is a receiver connected to it, and a receiver connected
    with blinker's own API gets the events as a subscription does.

    A handler that raises does not stop delivery: the bus publishes `HandlerFailed` and goes on.
    With ``strict=True`` (for tests) the exception propagates out of `publish` instead (for a
    mailbox's handlers, out of `join`).

    Only the event loop's thread subscribes, unsubscribes and publishes; other threads call
    `post`, which hands the event over with ``call_soon_threadsafe`` and does nothing else.

    Example::

        bus = Bus()
        bus.subscribe("chat.*", lambda event: print(event.text), owner="greeter")
        await bus.publish(ChatMessage(user="ann", text="hi"))
    """

    __slots__ = (
        "__weakref__",
        "_adopted",
        "_drain_error",
        "_drainer",
        "_held",
        "_loop",
        "_mailboxes",
        "_max_depth",
        "_muted",
        "_outbox",
        "_owned",
        "_plans",
        "_redactions",
        "_requests",
        "_seq",
        "_strict",
        "_sync_chain",
        "_thread_id",
        "namespace",
    )

    def __init__(self, *, strict: bool = False, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        """Make a bus with a namespace of its own.

        Args:
            strict: re-raise handler exceptions out of `publish` instead of reporting them.
            max_depth: how deep publishes may nest.

        Raises:
            BusError: ``max_depth`` is below 1.
        """
        if max_depth < 1:
            raise BusError(f"max_depth must be at least 1, got {max_depth}")
        #: The signals that have receivers, by topic or pattern (get one with `signal`).
        self.namespace = _Namespace(self._new_signal)
        self._strict = strict
        self._max_depth = max_depth
        # The subscriptions of receivers connected with blinker's API, by signal and receiver id.
        self._adopted: dict[tuple[blinker.NamedSignal, Hashable], Subscription] = {}
        # Every connected subscription, by owner (kept as blinker reports connects and
        # disconnects), so that one owner's subscriptions cost what that owner has.
        self._owned: dict[str, dict[Subscription, None]] = {}
        # By topic, or by topic and owner for `deliver`.
        self._plans: dict[str | tuple[str, str], _Plan] = {}
        self._sync_chain: _Chain | None = None
        self._seq = itertools.count()
        self._muted: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None
        self._outbox: deque[tuple[Event, _Chain]] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self._drain_error: BaseException | None = None
        self._mailboxes: dict[str, Mailbox] = {}
        # The mailboxes paused for a reload (their owners still listen to their patterns).
        self._held: dict[str, Mailbox] = {}
        self._redactions: dict[str, tuple[str, ...]] = {}
        # The requests waiting for a reply, by the event_id of the request.
        self._requests: dict[UUID, PendingRequest] = {}

    def __repr__(self) -> str:
        subs = self._all()
        mode = " strict" if self._strict else ""
        owners = len({sub.owner for sub in subs})
        return f"<hotbus Bus{mode} subscriptions={len(subs)} owners={owners}>"

    @property
    def strict(self) -> bool:
        """Whether handler exceptions propagate out of `publish` (for tests)."""
        return self._strict

    # -- loop binding ----------------------------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop | None = None) -> asyncio.AbstractEventLoop:
        """Tie the bus to ``loop`` (default: the running loop), whose thread then owns it.

        Publishing binds automatically; call this before handing `post` to another thread.
        """
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise BusError(
                    "Bus.bind() needs a running event loop: call it from async code, or pass "
                    "the loop explicitly"
                ) from None
        self._loop = loop
        self._thread_id = threading.get_ident()
        return loop

    def _check_thread(self, action: str) -> None:
        if self._thread_id is not None and threading.get_ident() != self._thread_id:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                raise BusError(
                    f"Bus.{action}() was called from thread {threading.current_thread().name!r}, "
                    "but only the event loop's thread may do that: use Bus.post() from other "
                    "threads, or loop.call_soon_threadsafe()"
                )

    # -- signals: the registry -------------------------------------------------------------

    def signal(self, topic: TopicLike) -> blinker.NamedSignal:
        """The bus's blinker signal for ``topic``: connect to it with blinker's own API.

        A receiver connected to it (``connect``, ``connected_to``) is called as
        ``receiver(event)`` for every event published on the bus that the topic or pattern
        matches, like a subscription of owner `RUNTIME` with priority 0, in subscription order.
        Coroutine functions are awaited. ``disconnect`` stops delivery; ``muted()`` suspends
        it. Connect and disconnect from the loop's thread only, as with `subscribe`.

        Args:
            topic: an exact topic, a pattern (``chat.*``, ``hotbus.>``) or an event class.

        Returns:
            The signal, from the bus's own namespace.

        Raises:
            TopicError: ``topic`` is not a valid topic or pattern (as `subscribe` raises it).
        """
        return self.namespace.signal(_pattern_of(topic, owner=RUNTIME))

    def _new_signal(self, name: str, doc: str | None) -> blinker.NamedSignal:
        signal = _Signal(name, doc, self._plans.clear)
        # blinker reports connects and disconnects on each signal's own notification signals.
        signal.receiver_connected.connect(self._on_connected, sender=signal, weak=False)
        signal.receiver_disconnected.connect(self._on_disconnected, sender=signal, weak=False)
        return signal

    def _on_connected(
        self,
        signal: blinker.NamedSignal,
        *,
        receiver: Handler,
        sender: Any,
        weak: bool,
        **_: Any,
    ) -> None:
        if sender is not blinker.ANY:
            return  # bus events have no sender of their own: such a receiver never matches
        if type(receiver) is Subscription and receiver.signal is signal:
            receiver.active = True
            self._own(receiver)
        else:
            self._adopt(signal, receiver, weak)
        self.namespace.enter(signal)
        self._plans.clear()

    def _on_disconnected(
        self, signal: blinker.NamedSignal, *, receiver: Handler, sender: Any, **_: Any
    ) -> None:
        if sender is not blinker.ANY:
            return  # only that sender's connection ended
        if type(receiver) is Subscription and receiver.signal is signal:
            receiver.active = False
            self._disown(receiver)
        else:
            adopted = self._adopted.pop((signal, make_id(receiver)), None)
            if adopted is not None:
                adopted.active = False
                self._disown(adopted)
        self.namespace.leave(signal)
        self._plans.clear()

    def _adopt(self, signal: blinker.NamedSignal, receiver: Handler, weak: bool) -> None:
        """Give a receiver connected with blinker's API its subscription (owner `RUNTIME`)."""
        key = (signal, make_id(receiver))
        previous = self._adopted.get(key)
        if previous is not None:  # connected again: it keeps its place
            previous.active = False
            self._disown(previous)
        is_async = is_async_handler(receiver)
        held: Handler | weakref.ref[Handler] = receiver
        handler: Handler = receiver
        if weak:  # as blinker holds it: the subscription ends when the receiver is collected

            def collected(_: object) -> None:
                sub.active = False
                self._disown(sub)
                if self._adopted.get(key) is sub:
                    del self._adopted[key]
                self._plans.clear()

            held = (weakref.WeakMethod if ismethod(receiver) else weakref.ref)(receiver, collected)
            handler = weak_handler(held, is_async)
        sub = Subscription(
            self,
            signal,
            handler,
            owner=RUNTIME,
            priority=0,
            timeout=None,
            seq=next(self._seq) if previous is None else previous.seq,
            receiver=held,
            name=describe_handler(receiver),
        )
        self._adopted[key] = sub
        self._own(sub)

    def _own(self, sub: Subscription) -> None:
        self._owned.setdefault(sub.owner, {})[sub] = None

    def _disown(self, sub: Subscription) -> None:
        owned = self._owned.get(sub.owner)
        if owned is not None:
            owned.pop(sub, None)
            if not owned:
                del self._owned[sub.owner]

    def _subscriptions_of(self, signal: blinker.NamedSignal) -> list[Subscription]:
        """The subscriptions of ``signal``'s receivers, in blinker's (arbitrary) order."""
        found: list[Subscription] = []
        for receiver_id, receiver in list(signal.receivers.items()):
            if type(receiver) is Subscription and receiver.signal is signal:
                found.append(receiver)
            else:
                adopted = self._adopted.get((signal, receiver_id))
                if adopted is not None and adopted.active:
                    found.append(adopted)
        return found

    def _all(self) -> list[Subscription]:
        found = [
            sub for signal in self.namespace.values() for sub in self._subscriptions_of(signal)
        ]
        found.sort(key=lambda sub: sub.seq)
        return found

    # -- subscribing -----------------------------------------------------------------------

    def subscribe(
        self,
        topic: TopicLike,
        handler: Handler,
        *,
        owner: str = RUNTIME,
        priority: int = 0,
        timeout: float | None = None,
    ) -> Subscription:
        """Deliver events matching ``topic`` to ``handler`` until the subscription is cancelled.

        The subscription is connected (strongly) to the topic's signal: the handler is held
        until cancelled, so a bound method or a closure stays subscribed even when nothing else
        refers to it.

        Args:
            topic: an exact topic, a pattern (``hotbus.plugin.*``, ``hotbus.>``, ``>``) or an
                event class.
            handler: a function or coroutine function taking the event.
            owner: who subscribes (a plugin name); `unsubscribe_owner` removes all of theirs.
            priority: higher runs first; equal priorities run in subscription order.
            timeout: for async handlers, seconds after which the handler is cancelled and
                reported as failed.

        Returns:
            The subscription, whose ``cancel()`` ends it.

        Raises:
            TopicError: ``topic`` is not a valid topic or pattern.
            BusError: the handler is not callable, the timeout is not positive or is given
                for a sync handler, or the call comes from another thread than the loop's.
        """
        if not callable(handler):
            raise BusError(
                f"cannot subscribe {handler!r} to {topic!r}: a handler must be callable "
                "(a function or coroutine function taking the event)"
            )
        if timeout is not None and timeout <= 0:
            raise BusError(f"timeout must be positive seconds or None, got {timeout!r}")
        sub = self._connect(
            topic, handler, "subscribe", owner=owner, priority=priority, timeout=timeout
        )
        if timeout is not None and not sub.is_async:
            raise BusError(
                f"timeout={timeout!r} given for sync handler {sub.name}: only async handlers can "
                "be timed out; make it async or drop the timeout"
            )
        sub.signal.connect(sub, weak=False)
        return sub

    def tap(self, topic: TopicLike, handler: Callable[[Event], object]) -> Subscription:
        """Give ``handler`` every event matching ``topic`` as it is published: the cheapest
        way to observe the bus (a recorder, a dashboard).

        A tap is the runtime's (owner `RUNTIME`) and synchronous. It is called by `publish`
        itself, before the topic's handlers run and before the event goes to any mailbox, so
        it sees events in the order they are published, nested ones included. A tap should do
        little (the ``append`` of a list or a deque is ideal): every publish of its topics
        waits for it. What it raises is reported as a handler's failure is
        (`HandlerFailed`), and the publish goes on. Otherwise it is a subscription as any other:
        connected to the topic's blinker signal, listed by `subscriptions`, muted with its
        topic, ended by ``cancel()``.

        Raises:
            TopicError: ``topic`` is not a valid topic or pattern.
            BusError: ``handler`` is not callable or is a coroutine function, or the call
                comes from another thread than the loop's.
        """
        if not callable(handler) or is_async_handler(handler):
            raise BusError(
                f"cannot tap {topic!r} with {handler!r}: a tap must be a plain callable taking "
                "the event (a coroutine function cannot be called as the event is published)"
            )
        sub = self._connect(topic, handler, "tap", owner=RUNTIME, tap=True)
        sub.signal.connect(sub, weak=False)
        return sub

    def _connect(
        self,
        topic: TopicLike,
        handler: Handler,
        action: str,
        *,
        owner: str,
        priority: int = 0,
        timeout: float | None = None,
        tap: bool = False,
    ) -> Subscription:
        """A new subscription to ``topic``'s signal (not connected yet), from the loop's thread."""
        pattern = _pattern_of(topic, owner=owner)
        self._check_thread(action)
        return Subscription(
            self,
            self.namespace.signal(pattern),
            handler,
            owner=owner,
            priority=priority,
            timeout=timeout,
            seq=next(self._seq),
            tap=tap,
        )

    def on(
        self,
        topic: TopicLike,
        /,
        *,
        owner: str = RUNTIME,
        priority: int = 0,
        timeout: float | None = None,
    ) -> Callable[[F], F]:
        """Decorator form of `subscribe`; returns the function unchanged."""

        def decorate(handler: F) -> F:
            self.subscribe(topic, handler, owner=owner, priority=priority, timeout=timeout)
            return handler

        return decorate

    def unsubscribe(self, subscription: Subscription) -> bool:
        """End ``subscription``; returns whether it was still active. Safe during dispatch.

        It disconnects the receiver from its signal, as blinker's ``disconnect`` would.
        """
        if not subscription.active:
            return False
        self._check_thread("unsubscribe")
        receiver = subscription.receiver
        if receiver is None:  # a weakly connected receiver, collected
            return False
        subscription.signal.disconnect(receiver)
        return True

    def unsubscribe_owner(self, owner: str) -> int:
        """End every subscription of ``owner``; returns how many there were."""
        owned = self.subscriptions(owner)
        for sub in owned:
            self.unsubscribe(sub)
        return len(owned)

    def subscriptions(self, owner: str | None = None) -> list[Subscription]:
        """Active subscriptions (of ``owner``, if given) in subscription order."""
        if owner is None:
            return self._all()
        owned = [sub for sub in self._owned.get(owner, ()) if sub.active]
        owned.sort(key=lambda sub: sub.seq)
        return owned

    def owners(self) -> list[str]:
        """Every owner that has at least one subscription."""
        return sorted(o for o, subs in self._owned.items() if any(s.active for s in subs))

    def has_subscribers(self, topic: str) -> bool:
        """Whether publishing ``topic`` now would reach any handler (cheap: plans are cached)."""
        plan = self._plans.get(topic)
        if plan is None:
            plan = self._plan(topic)
        return bool(plan[0] or plan[2] or plan[3] is not None)

    def _entries(self, topic: str, owner: str | None = None) -> tuple[_Entry, ...]:
        """The cached plan's entries for ``topic`` (of ``owner`` only, if given)."""
        plan = self._plans.get(topic if owner is None else (topic, owner))
        if plan is None:
            plan = self._plan(topic, owner)
        return plan[0]

    def _plan(self, topic: str, owner: str | None = None) -> _Plan:
        """The ordered handlers for ``topic`` (of ``owner`` only, if given).

        Cached until a receiver connects or disconnects, or a signal is muted or unmuted.
        Whether each handler is awaited (and with a timeout) is decided here, once, so that
        dispatch does no inspection.
        """
        found: list[Subscription] = []
        owners: dict[str, None] = {}
        if not (self._muted and any(topic_matches(p, topic) or p == topic for p in self._muted)):
            for signal in self.namespace.matching(topic):
                if not signal.is_muted:
                    found += self._subscriptions_of(signal)
            if owner is not None:
                found = [sub for sub in found if sub.owner == owner]
            found.sort(key=_order)
            if owner is None:
                owners = dict.fromkeys(sub.owner for sub in found if sub.owner != RUNTIME)
                found = [sub for sub in found if sub.owner == RUNTIME]
                for held in self._held.values():  # paused for a reload: still listening
                    if any(p == topic or topic_matches(p, topic) for p in held.patterns):
                        owners.setdefault(held.owner)
        taps = [sub for sub in found if sub.tap]
        entries = tuple((sub.handler, _call_kind(sub), sub) for sub in found if not sub.tap)
        kinds = {kind for _, kind, _ in entries}
        asynchronous = (
            _ALL_ASYNC if kinds == {_ASYNC} else _SOME_ASYNC if kinds - {_SYNC} else _NONE_ASYNC
        )
        tap = None if not taps else taps[0].handler if len(taps) == 1 else _Taps(taps)
        plan = (entries, asynchronous, tuple(owners), tap)
        self._plans[topic if owner is None else (topic, owner)] = plan
        return plan

    # -- publishing ------------------------------------------------------------------------

    async def publish(self, event: Event, *, owner: str | None = None) -> None:  # noqa: PLR0915 - the hot path, inlined
        """Deliver ``event`` to every matching handler.

        The runtime's own handlers (owner `RUNTIME`) run now, in order, and `publish` returns
        when they are done; for every other owner the event goes into the owner's mailbox, after
        what it holds, and `publish` does not wait for it (`join` does).

        A handler's exception is reported as `HandlerFailed` and the others still run (in
        strict mode it propagates). Publishing from a handler is allowed; a chain nested deeper
        than ``max_depth`` raises `PublishDepthError` inside the handler that tried.

        Args:
            event: the event.
            owner: deliver to this owner's subscriptions only (as `deliver` does).
        """
        topic = event.topic
        plan = self._plans.get(topic if owner is None else (topic, owner))  # _entries, inlined
        if plan is None:
            plan = self._plan(topic, owner)
        entries, asynchronous, owners, tap = plan
        if tap is not None:  # called as the event is published, before any handler
            try:
                tap(event)
            except Exception as error:
                await self._tap_failed(event, error, plan)
        if owner is not None and owner != RUNTIME:
            entries, owners = (), (owner,) if entries or self._held_for(owner, topic) else ()
        if not entries and not owners:
            return
        if self._loop is None:
            self.bind()
        chain = _chain.get()
        depth = chain[0]
        if depth >= self._max_depth and topic != _FAILED_TOPIC:
            raise PublishDepthError(topic, _topics(chain), self._max_depth)
        here = (depth + 1, topic, chain)
        urgent = self._urgent(event) if self._requests else False
        for name in owners:
            mailbox = self._mailboxes.get(name)
            if mailbox is None:
                mailbox = self._mailboxes[name] = Mailbox(name, self._deliver_to)
            mailbox.put(event, here, urgent=urgent)
        if not entries:
            return
        # Sync handlers cannot await, so while one runs no other task can: the chain they see
        # (for publish_nowait) lives on the bus. Async handlers get it through the context.
        token = _chain.set(here) if asynchronous else None
        try:
            if asynchronous == _ALL_ASYNC:  # no sync handler: nothing to switch between them
                for handler, _, sub in entries:
                    if sub.active:
                        try:
                            await handler(event)
                        except Exception as error:
                            await self._failed(sub, event, error, here)
                return
            self._sync_chain = here
            if asynchronous == _NONE_ASYNC:  # sync handlers only: nothing to tell apart
                for handler, _, sub in entries:
                    if sub.active:  # else cancelled while this event was being delivered
                        try:
                            handler(event)
                        except Exception as error:
                            await self._failed(sub, event, error, here)
                return
            for handler, kind, sub in entries:
                if not sub.active:
                    continue  # cancelled while this event was being delivered
                if not kind:
                    try:
                        handler(event)
                    except Exception as error:
                        await self._failed(sub, event, error, here)
                    continue
                self._sync_chain = None
                try:
                    if kind == _ASYNC:
                        await handler(event)
                    else:
                        await self._call_with_timeout(sub, event)
                except Exception as error:
                    await self._failed(sub, event, error, here)
                self._sync_chain = here
        finally:
            self._sync_chain = None
            if token is not None:
                _chain.reset(token)

    async def deliver(self, event: Event, *, owner: str) -> int:
        """Deliver ``event`` to ``owner``'s matching subscriptions only; returns how many.

        This is ``publish(event, owner=owner)``: for an owner other than the runtime the event
        goes into its mailbox.
        """
        reached = len(self._entries(event.topic, owner))
        await self.publish(event, owner=owner)
        return reached

    def _held_for(self, owner: str, topic: str) -> bool:
        mailbox = self._mailboxes.get(owner)
        return mailbox is not None and any(
            p == topic or topic_matches(p, topic) for p in mailbox.patterns
        )

    async def _deliver_to(self, owner: str, event: Event, chain: _Chain) -> None:
        """Run ``owner``'s handlers of ``event`` (a mailbox calls this, on its own task).

        Every exception of a handler is contained and reported, ``BaseException`` included
        (a plugin's ``KeyboardInterrupt`` or ``SystemExit``, or a ``CancelledError`` it raised
        itself); only a cancellation of the mailbox's task propagates. When ``event`` is a
        request (`request`), what the handlers return or raise answers it.
        """
        entries = self._entries(event.topic, owner)
        pending = self._requests.get(event.event_id) if self._requests else None
        if not entries:
            if pending is not None:
                pending.finished(owner, handled=False)
            return
        token = _chain.set(chain)
        try:
            for handler, kind, sub in entries:
                if not sub.active:
                    continue
                try:
                    if not kind:
                        self._sync_chain = chain
                        try:
                            result = handler(event)
                        finally:
                            self._sync_chain = None
                    elif kind == _ASYNC:
                        result = await handler(event)
                    else:
                        result = await self._call_with_timeout(sub, event)
                except asyncio.CancelledError as cancelled:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        if pending is not None:
                            pending.interrupted(owner)
                        raise  # the mailbox is being interrupted (a reload) or shut down
                    if pending is not None:
                        pending.failed(owner, cancelled, self._redactions.get(owner, ()))
                    await self._contain(sub, event, cancelled)
                except BaseException as error:
                    if pending is not None:
                        pending.failed(owner, error, self._redactions.get(owner, ()))
                    await self._contain(sub, event, error)
                else:
                    if pending is not None and isinstance(result, Event):
                        pending.replied(owner, result)
        finally:
            _chain.reset(token)
        if pending is not None:
            pending.finished(owner, handled=True)

    def _urgent(self, event: Event) -> bool:
        """Whether ``event`` is a request whose requester is being drained for a reload: it
        must be delivered even to responders that hold their events, or the requester's
        handler would wait for a reply that comes only after the drain it holds up."""
        pending = self._requests.get(event.event_id)
        if pending is None:
            return False
        mailbox = self._mailboxes.get(pending.requester)
        return mailbox is not None and mailbox.paused and mailbox.busy

    async def request(self, event: Event, *, timeout: float = 5.0, owner: str = RUNTIME) -> Event:
        """Publish ``event`` as a request and return the reply of the owner serving its topic.

        The request is published like any event. Its responders are the owners (plugins,
        other than ``owner``) whose handlers match its topic now, or that wait for it while
        they reload; a handler of theirs that returns an event replies, and the first reply
        is returned. The reply is handed back, not published. A responder that reloads
        meanwhile answers once: its old version if the request reached it before the reload,
        else the new one.

        Args:
            event: the request.
            timeout: seconds to wait for the reply.
            owner: who asks (a plugin name): its own handlers of the topic are not responders.

        Returns:
            The reply: the event a responder's handler returned.

        Raises:
            NoResponderError: nothing serves the topic, or every responder finished with the
                request without returning an event.
            ResponderError: a responder's handler raised (also reported as a failed handler),
                and no other responder replied.
            RequestTimeoutError: no reply within ``timeout``.
            BusError: ``timeout`` is not positive, or ``event`` is already a pending request.
        """
        if timeout <= 0:
            raise BusError(f"timeout must be positive seconds, got {timeout!r}")
        topic = event.topic
        plan = self._plans.get(topic)
        if plan is None:
            plan = self._plan(topic)
        responders = [name for name in plan[2] if name != owner]
        if not responders:
            raise NoResponderError(topic)
        if event.event_id in self._requests:
            raise BusError(
                f"event {event.event_id} ({topic!r}) is already a pending request: make a new "
                "event for each request"
            )
        loop = self._loop if self._loop is not None else self.bind()
        pending = PendingRequest(topic, responders, loop.create_future(), owner)
        self._requests[event.event_id] = pending
        try:
            await self.publish(event)
            try:
                async with asyncio.timeout(timeout) as scope:
                    return await pending.future
            except TimeoutError:
                if scope.expired():
                    raise RequestTimeoutError(topic, timeout, sorted(pending.waiting)) from None
                raise
        finally:
            self._requests.pop(event.event_id, None)

    async def _contain(self, sub: Subscription, event: Event, error: BaseException) -> None:
        if self._strict:
            if self._drain_error is None:
                self._drain_error = error
            return
        await self._report(sub, event, error)

    def redact(self, owner: str, secrets: Iterable[str]) -> None:
        """Mask ``secrets`` in every failure report of ``owner``'s handlers from now on.

        The runtime gives each plugin's config secrets, so that a handler raising an error whose
        message holds one never publishes it. An empty ``secrets`` ends the masking.
        """
        found = tuple(s for s in secrets if s)
        if found:
            self._redactions[owner] = found
        else:
            self._redactions.pop(owner, None)

    async def pause(self, owner: str, timeout: float) -> int:
        """Hold ``owner``'s deliveries (a reload swaps it); returns how many were cancelled.

        The delivery under way may finish, for ``timeout`` seconds; past that it is cancelled,
        and abandoned if it ignores the cancellation as long again. Until `resume`, events for
        the topics ``owner`` listened to wait in its mailbox, even while it has no subscription.
        """
        mailbox = self._mailboxes.get(owner)
        if mailbox is None:
            mailbox = self._mailboxes[owner] = Mailbox(owner, self._deliver_to)
        mailbox.patterns = tuple(dict.fromkeys(sub.pattern for sub in self.subscriptions(owner)))
        self._held[owner] = mailbox
        self._plans.clear()
        return await mailbox.pause(timeout)

    def resume(self, owner: str) -> int:
        """Deliver what waits for ``owner`` to the handlers it has now; returns how many wait."""
        mailbox = self._mailboxes.get(owner)
        if mailbox is None:
            return 0
        waiting = len(mailbox)
        mailbox.resume()
        self._held.pop(owner, None)
        self._plans.clear()
        return waiting

    async def _tap_failed(self, event: Event, error: Exception, plan: _Plan) -> None:
        """Report what a tap of ``plan`` raised, as a handler's failure is reported."""
        failures = error.failures if isinstance(error, _TapsFailed) else None
        if failures is None:
            tap = plan[3]
            subs = [sub for sub in self._all() if sub.tap and sub.handler is tap]
            if not subs:  # cancelled meanwhile by someone else: the error is still told
                logger.error("a tap failed on %s: %r", event.topic, error)
                return
            failures = [(subs[0], error)]
        chain = _chain.get()
        here = (chain[0] + 1, event.topic, chain)
        token = _chain.set(here)
        try:
            for sub, failure in failures:
                await self._failed(sub, event, failure, here)
        finally:
            self._sync_chain = None
            _chain.reset(token)

    async def _failed(
        self, sub: Subscription, event: Event, error: Exception, chain: _Chain
    ) -> None:
        self._sync_chain = None
        if self._strict:
            raise error
        await self._report(sub, event, error)
        self._sync_chain = chain

    async def _call_with_timeout(self, sub: Subscription, event: Event) -> Any:
        assert sub.timeout is not None
        try:
            async with asyncio.timeout(sub.timeout) as scope:
                return await sub.handler(event)
        except TimeoutError:
            if scope.expired():
                raise HandlerTimeoutError(sub.name, event.topic, sub.timeout) from None
            raise

    async def _report(self, sub: Subscription, event: Event, error: BaseException) -> None:
        secrets = self._redactions.get(sub.owner, ())
        info = ErrorInfo.from_exception(error).masked(secrets)
        if event.topic == _FAILED_TOPIC or not self.has_subscribers(_FAILED_TOPIC):
            # A failing failure handler must not loop; with no listener, never stay silent.
            # (With secrets to mask, the traceback goes in masked, not as the live exception.)
            logger.error(
                "handler %s (owner %s) failed on %s: %s: %s%s",
                sub.name,
                sub.owner,
                event.topic,
                type(error).__name__,
                info.message,
                f"\n{info.traceback}" if secrets else "",
                exc_info=None if secrets else error,
            )
            if event.topic == _FAILED_TOPIC:
                return
        await self.publish(
            HandlerFailed(
                handler=sub.name,
                owner=sub.owner,
                event_topic=event.topic,
                failed_event_id=event.event_id,
                error=info,
                timed_out=isinstance(error, HandlerTimeoutError),
            )
        )

    def publish_nowait(self, event: Event) -> None:
        """Queue ``event`` for delivery on the running loop and return at once (sync code).

        Events queued this way are delivered one after the other, in the order queued. Await
        `join` to wait until every queued event has been delivered.
        """
        chain = self._sync_chain
        if chain is None:
            chain = _chain.get()
        if chain[0] >= self._max_depth and event.topic != _FAILED_TOPIC:
            raise PublishDepthError(event.topic, _topics(chain), self._max_depth)
        self._outbox.append((event, chain))
        if self._drainer is None:
            loop = self._loop if self._loop is not None else self.bind()
            self._drainer = loop.create_task(self._drain(), name="hotbus-bus-drain")

    async def _drain(self) -> None:
        try:
            while self._outbox:
                event, chain = self._outbox.popleft()
                token = _chain.set(chain)
                try:
                    await self.publish(event)
                except Exception as error:  # strict mode only: hand the first to join()
                    if self._drain_error is None:
                        self._drain_error = error
                finally:
                    _chain.reset(token)
        finally:
            self._drainer = None

    async def join(self) -> None:
        """Wait until every event queued by `publish_nowait` or `post`, and every event in a
        mailbox, has been delivered (a mailbox paused for a reload is waited for once resumed
        by whoever paused it, not here).

        In strict mode, re-raises the first handler exception met meanwhile.
        """
        while True:
            await self.flush()
            busy = [m.worker for m in self._mailboxes.values() if m.worker is not None]
            if not busy:
                break
            await asyncio.wait(busy)
        error, self._drain_error = self._drain_error, None
        if error is not None:
            raise error

    async def flush(self) -> None:
        """Wait until every event queued by `publish_nowait` or `post` has been published: the
        runtime's handlers ran and the mailboxes have it (unlike `join`, no mailbox is waited
        for, so a hung plugin cannot hold this up)."""
        while self._drainer is not None:
            await asyncio.shield(self._drainer)

    def post(self, event: Event) -> bool:
        """Hand ``event`` to the loop's thread from any thread; returns False if the loop closed.

        This is the only bus method other threads (such as watchdog's) may call. It does
        nothing but ``loop.call_soon_threadsafe(bus.publish_nowait, event)``.
        """
        loop = self._loop
        if loop is None:
            raise BusError(
                "Bus.post() needs the bus bound to an event loop: call bus.bind() on the loop "
                "thread before starting threads that post"
            )
        try:
            loop.call_soon_threadsafe(self.publish_nowait, event)
        except RuntimeError:  # the loop is closed: the event has nowhere to go
            return False
        return True

    # -- test helpers ----------------------------------------------------------------------

    @contextmanager
    def record(self, topic: TopicLike = ">", *, owner: str = RUNTIME) -> Iterator[Recorder]:
        """Record the events matching ``topic`` published inside the block, in publish order.

        The recorder runs before every other handler, so nested publishes appear in the order
        they happened::

            with bus.record("hotbus.reload.>") as recorded:
                ...
                await recorded.wait_for("hotbus.reload.committed", timeout=5)
        """
        recorder = Recorder(_pattern_of(topic))
        sub = self.subscribe(topic, recorder.append, owner=owner, priority=1 << 62)
        try:
            yield recorder
        finally:
            sub.cancel()
            recorder.close()

    @contextmanager
    def muted(self, *topics: TopicLike) -> Iterator[None]:
        """Deliver nothing for ``topics`` (default: everything) inside the block."""
        patterns = [_pattern_of(t) for t in topics] or [">"]
        self._muted.extend(patterns)
        self._plans.clear()
        try:
            yield
        finally:
            for pattern in patterns:
                self._muted.remove(pattern)
            self._plans.clear()

    @contextmanager
    def connected_to(
        self,
        handler: Handler,
        topic: TopicLike = ">",
        *,
        owner: str = RUNTIME,
        priority: int = 0,
        timeout: float | None = None,
    ) -> Iterator[Subscription]:
        """Subscribe ``handler`` for the duration of the block only."""
        sub = self.subscribe(topic, handler, owner=owner, priority=priority, timeout=timeout)
        try:
            yield sub
        finally:
            sub.cancel()
