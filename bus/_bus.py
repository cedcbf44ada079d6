"""The Bus: typed events delivered over one blinker namespace, in order, with isolation."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, TypeVar, final

import blinker
from hotbus.bus._recorder import Recorder
from hotbus.bus._subscription import RUNTIME, Handler, Subscription
from hotbus.schemas import (
    BusError,
    ErrorInfo,
    Event,
    HandlerFailed,
    HandlerTimeoutError,
    PublishDepthError,
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
_Plan = tuple[tuple[tuple[Handler, int, Subscription], ...], bool]


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


@final
class Bus:
    """Delivers events to subscribers, in a deterministic order, isolating their failures.

    Subscribe by exact topic, by NATS-style pattern (``*`` one token, ``>`` the rest) or by event
    class. Handlers may be sync or async; `publish` awaits every matching handler in order of
    priority (higher first), then subscription order, and returns when all are done.

    A handler that raises does not stop delivery: the bus publishes `HandlerFailed` and goes on.
    With ``strict=True`` (for tests) the exception propagates out of `publish` instead.

    Only the event loop's thread subscribes, unsubscribes and publishes; other threads call
    `post`, which hands the event over with ``call_soon_threadsafe`` and does nothing else.

    Example::

        bus = Bus()
        bus.subscribe("chat.*", lambda event: print(event.text), owner="greeter")
        await bus.publish(ChatMessage(user="ann", text="hi"))
    """

    __slots__ = (
        "__weakref__",
        "_by_owner",
        "_drain_error",
        "_drainer",
        "_loop",
        "_max_depth",
        "_muted",
        "_outbox",
        "_plans",
        "_seq",
        "_strict",
        "_subs",
        "_sync_chain",
        "_thread_id",
        "_wildcards",
        "namespace",
    )

    def __init__(self, *, strict: bool = False, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        if max_depth < 1:
            raise BusError(f"max_depth must be at least 1, got {max_depth}")
        #: The blinker namespace holding one signal per subscribed topic or pattern.
        self.namespace = blinker.Namespace()
        self._strict = strict
        self._max_depth = max_depth
        self._subs: dict[str, list[Subscription]] = {}
        self._wildcards: set[str] = set()
        self._by_owner: dict[str, dict[Subscription, None]] = {}
        self._plans: dict[str, _Plan] = {}
        self._sync_chain: _Chain | None = None
        self._seq = itertools.count()
        self._muted: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None
        self._outbox: deque[tuple[Event, _Chain]] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self._drain_error: BaseException | None = None

    def __repr__(self) -> str:
        count = sum(len(subs) for subs in self._subs.values())
        mode = " strict" if self._strict else ""
        return f"<hotbus Bus{mode} subscriptions={count} owners={len(self._by_owner)}>"

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

        Args:
            topic: an exact topic, a pattern (``hotbus.plugin.*``, ``hotbus.>``, ``>``) or an
                event class.
            handler: a function or coroutine function taking the event.
            owner: who subscribes (a plugin name); `unsubscribe_owner` removes all of theirs.
            priority: higher runs first; equal priorities run in subscription order.
            timeout: for async handlers, seconds after which the handler is cancelled and
                reported as failed.

        The handler is held strongly until cancelled: a bound method or a closure stays
        subscribed even when nothing else refers to it.
        """
        if not callable(handler):
            raise BusError(
                f"cannot subscribe {handler!r} to {topic!r}: a handler must be callable "
                "(a function or coroutine function taking the event)"
            )
        if timeout is not None and timeout <= 0:
            raise BusError(f"timeout must be positive seconds or None, got {timeout!r}")
        pattern = _pattern_of(topic, owner=owner)
        self._check_thread("subscribe")
        sub = Subscription(
            self,
            pattern,
            handler,
            owner=owner,
            priority=priority,
            timeout=timeout,
            seq=next(self._seq),
        )
        if timeout is not None and not sub.is_async:
            raise BusError(
                f"timeout={timeout!r} given for sync handler {sub.name}: only async handlers can "
                "be timed out; make it async or drop the timeout"
            )
        self._subs.setdefault(pattern, []).append(sub)
        if is_pattern(pattern):
            self._wildcards.add(pattern)
        self._by_owner.setdefault(owner, {})[sub] = None
        self.namespace.signal(pattern).connect(sub, sender=blinker.ANY, weak=False)
        self._plans.clear()
        return sub

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
        """End ``subscription``; returns whether it was still active. Safe during dispatch."""
        if not subscription.active:
            return False
        self._check_thread("unsubscribe")
        subscription.active = False
        pattern = subscription.pattern
        subs = self._subs.get(pattern)
        if subs is not None:
            subs.remove(subscription)
            if not subs:
                del self._subs[pattern]
                self._wildcards.discard(pattern)
        owned = self._by_owner.get(subscription.owner)
        if owned is not None:
            owned.pop(subscription, None)
            if not owned:
                del self._by_owner[subscription.owner]
        signal = self.namespace.get(pattern)
        if signal is not None:
            signal.disconnect(subscription)
            if not signal.receivers:
                del self.namespace[pattern]
        self._plans.clear()
        return True

    def unsubscribe_owner(self, owner: str) -> int:
        """End every subscription of ``owner``; returns how many there were."""
        owned = list(self._by_owner.get(owner, ()))
        for sub in owned:
            self.unsubscribe(sub)
        return len(owned)

    def subscriptions(self, owner: str | None = None) -> list[Subscription]:
        """Active subscriptions (of ``owner``, if given) in subscription order."""
        if owner is not None:
            return list(self._by_owner.get(owner, ()))
        return sorted((s for subs in self._subs.values() for s in subs), key=lambda s: s.seq)

    def owners(self) -> list[str]:
        """Every owner that has at least one subscription."""
        return sorted(self._by_owner)

    def has_subscribers(self, topic: str) -> bool:
        """Whether publishing ``topic`` now would reach any handler (cheap: plans are cached)."""
        plan = self._plans.get(topic)
        if plan is None:
            plan = self._plan(topic)
        return bool(plan[0])

    def _plan(self, topic: str) -> _Plan:
        """The ordered handlers for ``topic``; cached until the subscriptions change.

        Whether each handler is awaited (and with a timeout) is decided here, once, so that
        dispatch does no inspection.
        """
        found: list[Subscription] = []
        if not (self._muted and any(topic_matches(p, topic) or p == topic for p in self._muted)):
            found.extend(self._subs.get(topic, ()))
            for pattern in self._wildcards:
                if topic_matches(pattern, topic):
                    found.extend(self._subs[pattern])
            found.sort(key=lambda s: (-s.priority, s.seq))
        entries = tuple((sub.handler, _call_kind(sub), sub) for sub in found)
        plan = (entries, any(sub.is_async for sub in found))
        self._plans[topic] = plan
        return plan

    # -- publishing ------------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to every matching handler, in order; return when all are done.

        A handler's exception is reported as `HandlerFailed` and the others still run (in
        strict mode it propagates). Publishing from a handler is allowed; a chain nested deeper
        than ``max_depth`` raises `PublishDepthError` inside the handler that tried.
        """
        topic = event.topic
        plan = self._plans.get(topic)
        if plan is None:
            plan = self._plan(topic)
        entries, has_async = plan
        if not entries:
            return
        if self._loop is None:
            self.bind()
        chain = _chain.get()
        depth = chain[0]
        if depth >= self._max_depth and topic != _FAILED_TOPIC:
            raise PublishDepthError(topic, _topics(chain), self._max_depth)
        here = (depth + 1, topic, chain)
        # Sync handlers cannot await, so while one runs no other task can: the chain they see
        # (for publish_nowait) lives on the bus. Async handlers get it through the context.
        token = _chain.set(here) if has_async else None
        self._sync_chain = here
        try:
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

    async def _failed(
        self, sub: Subscription, event: Event, error: Exception, chain: _Chain
    ) -> None:
        self._sync_chain = None
        if self._strict:
            raise error
        await self._report(sub, event, error)
        self._sync_chain = chain

    async def deliver(self, event: Event, *, owner: str) -> int:
        """Deliver ``event`` to ``owner``'s matching subscriptions only; returns how many.

        Same order and isolation as `publish`. The runtime uses it to hand events held during a
        reload to the plugin version that now serves.
        """
        topic = event.topic
        subs = sorted(
            (
                sub
                for sub in self._by_owner.get(owner, ())
                if sub.pattern == topic or topic_matches(sub.pattern, topic)
            ),
            key=lambda s: (-s.priority, s.seq),
        )
        token = _chain.set((_chain.get()[0] + 1, topic, _chain.get()))
        try:
            for sub in subs:
                if not sub.active:
                    continue
                try:
                    if not sub.is_async:
                        sub.handler(event)
                    elif sub.timeout is None:
                        await sub.handler(event)
                    else:
                        await self._call_with_timeout(sub, event)
                except Exception as error:
                    if self._strict:
                        raise
                    await self._report(sub, event, error)
        finally:
            _chain.reset(token)
        return len(subs)

    async def _call_with_timeout(self, sub: Subscription, event: Event) -> None:
        assert sub.timeout is not None
        try:
            async with asyncio.timeout(sub.timeout) as scope:
                await sub.handler(event)
        except TimeoutError:
            if scope.expired():
                raise HandlerTimeoutError(sub.name, event.topic, sub.timeout) from None
            raise

    async def _report(self, sub: Subscription, event: Event, error: Exception) -> None:
        if event.topic == _FAILED_TOPIC or not self.has_subscribers(_FAILED_TOPIC):
            # A failing failure handler must not loop; with no listener, never stay silent.
            logger.error(
                "handler %s (owner %s) failed on %s: %s: %s",
                sub.name,
                sub.owner,
                event.topic,
                type(error).__name__,
                error,
                exc_info=error,
            )
            if event.topic == _FAILED_TOPIC:
                return
        await self.publish(
            HandlerFailed(
                handler=sub.name,
                owner=sub.owner,
                event_topic=event.topic,
                failed_event_id=event.event_id,
                error=ErrorInfo.from_exception(error),
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
        """Wait until every event queued by `publish_nowait` or `post` has been delivered.

        In strict mode, re-raises the first handler exception met while draining.
        """
        while self._drainer is not None:
            await asyncio.shield(self._drainer)
        error, self._drain_error = self._drain_error, None
        if error is not None:
            raise error

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


def _call_kind(sub: Subscription) -> int:
    if not sub.is_async:
        return _SYNC
    return _ASYNC if sub.timeout is None else _TIMED
