"""The `Context` handed to each plugin instance: its door to the bus and to the runtime."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, final

from hotbus.bus import Bus, Handler, Subscription, TopicLike
from hotbus.schemas import ErrorInfo, Event, PluginError

if TYPE_CHECKING:
    from hotbus.runtime._plugins.plugin import Plugin

__all__ = ["Context", "Disposer", "Holdings"]

T = TypeVar("T")
#: A cleanup callback registered with `Context.on_unload`: sync or async, no arguments.
Disposer = Callable[[], Awaitable[None] | None]


@final
class Holdings:
    """What a plugin instance acquired through its `Context`; the runtime releases it all.

    The runtime keeps the holdings and hands the plugin only the context, so that releasing
    never depends on the plugin's cooperation.
    """

    __slots__ = ("closed", "disposers", "subscriptions", "tasks")

    def __init__(self) -> None:
        #: Whether released: the context refuses new work.
        self.closed = False
        self.subscriptions: list[Subscription] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.disposers: list[Disposer] = []

    async def release(self, timeout: float) -> list[ErrorInfo]:
        """Release everything: subscriptions, tasks, disposers. Returns the errors met."""
        self.closed = True
        errors: list[ErrorInfo] = []
        for sub in self.subscriptions:
            sub.cancel()
        self.subscriptions.clear()
        tasks = [task for task in self.tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                errors.append(
                    ErrorInfo(
                        type="TimeoutError",
                        message=f"background task {task.get_name()} ignored cancellation for "
                        f"{timeout:g} s and was abandoned",
                    )
                )
        self.tasks.clear()
        while self.disposers:
            problem = await _dispose(self.disposers.pop(), timeout)
            if problem is not None:
                errors.append(problem)
        return errors


async def _caught(awaitable: Awaitable[None]) -> BaseException | None:
    """Await plugin code on a task of its own: what it raised, ``BaseException`` included (a
    task must not let a plugin's ``KeyboardInterrupt`` or ``SystemExit`` out of the loop)."""
    try:
        await awaitable
    except BaseException as error:
        return error
    return None


async def _dispose(disposer: Disposer, timeout: float) -> ErrorInfo | None:
    """Run one disposer under ``timeout``; what went wrong, if anything.

    An async disposer runs as a task: past the limit it is cancelled, and if it ignores that
    for a moment it is abandoned (left running), so that no disposer holds up a stop.
    """
    name = getattr(disposer, "__qualname__", repr(disposer))
    try:
        result = disposer()
    except BaseException as error:  # plugin code, run here: every exception is its own
        return ErrorInfo.from_exception(error)
    if not inspect.isawaitable(result):
        return None
    task = asyncio.ensure_future(_caught(result))
    try:
        done, _ = await asyncio.wait((task,), timeout=timeout)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait((task,), timeout=min(1.0, timeout))
            fate = "was cancelled" if done else "ignored cancellation and was abandoned"
            return ErrorInfo(
                type="TimeoutError",
                message=f"disposer {name} did not finish within {timeout:g} s and {fate}",
            )
    except asyncio.CancelledError:  # the caller was cancelled: so is the disposer
        task.cancel()
        raise
    raised = task.result()
    return ErrorInfo.from_exception(raised) if raised is not None else None


async def _contained(plugin: str, coro: Coroutine[Any, Any, T]) -> T:
    """Run a plugin's background task; its ``KeyboardInterrupt`` or ``SystemExit`` becomes a
    failure of the task (asyncio would let them out of the event loop, ending the runtime)."""
    try:
        return await coro
    except (KeyboardInterrupt, SystemExit) as error:
        raise PluginError(
            plugin, f"background task raised {type(error).__name__}: {error}"
        ) from error


@final
class Context:
    """What a plugin instance gets from the runtime.

    Everything a plugin acquires through its context (subscriptions, tasks, disposers) is
    released by the runtime when the plugin stops, whether or not the plugin's own ``teardown``
    remembers to.
    """

    __slots__ = ("_bus", "_holdings", "_lookup", "config", "logger", "plugin")

    def __init__(
        self,
        plugin: str,
        bus: Bus,
        config: Any,
        lookup: Callable[[str], Plugin],
        *,
        holdings: Holdings | None = None,
    ) -> None:
        #: The plugin's name.
        self.plugin = plugin
        #: The plugin's validated config (an instance of its ``config_model``, or None).
        self.config = config
        #: A logger named ``hotbus.plugins.<name>``.
        self.logger = logging.getLogger(f"hotbus.plugins.{plugin}")
        self._bus = bus
        self._lookup = lookup
        self._holdings = holdings if holdings is not None else Holdings()

    def __repr__(self) -> str:
        return (
            f"<hotbus Context {self.plugin!r} subscriptions={len(self._holdings.subscriptions)} "
            f"tasks={len(self._holdings.tasks)} disposers={len(self._holdings.disposers)}>"
        )

    @property
    def closed(self) -> bool:
        """Whether the plugin has stopped (the context refuses new work)."""
        return self._holdings.closed

    def _check_open(self, action: str) -> None:
        if self._holdings.closed:
            raise PluginError(
                self.plugin,
                f"cannot {action}: this plugin instance has stopped (a reload or unload replaced "
                "it); keep no references to it in tasks or callbacks that outlive it",
            )

    async def publish(self, event: Event) -> None:
        """Publish ``event`` on the bus and wait until every handler is done."""
        self._check_open("publish")
        await self._bus.publish(event)

    def publish_nowait(self, event: Event) -> None:
        """Queue ``event`` for delivery and return at once (for sync code)."""
        self._check_open("publish")
        self._bus.publish_nowait(event)

    def subscribe(
        self,
        topic: TopicLike,
        handler: Handler,
        *,
        priority: int = 0,
        timeout: float | None = None,
    ) -> Subscription:
        """Subscribe ``handler`` while the plugin runs (the runtime cancels it on stop)."""
        self._check_open("subscribe")
        sub = self._bus.subscribe(
            topic, handler, owner=self.plugin, priority=priority, timeout=timeout
        )
        self._holdings.subscriptions.append(sub)
        return sub

    def start_task(
        self, coro: Coroutine[Any, Any, T], *, name: str | None = None
    ) -> asyncio.Task[T]:
        """Run ``coro`` in the background while the plugin runs (cancelled on stop).

        A task that fails is logged on the plugin's logger; it does not stop the plugin.
        """
        if self._holdings.closed:
            coro.close()
            self._check_open("start a task")
        task = asyncio.get_running_loop().create_task(
            _contained(self.plugin, coro),
            name=name or f"hotbus:{self.plugin}:{getattr(coro, '__qualname__', 'task')}",
        )
        self._holdings.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._holdings.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            self.logger.error(
                "background task %s of %s failed: %s",
                task.get_name(),
                self.plugin,
                error,
                exc_info=error,
            )

    def on_unload(self, disposer: Disposer) -> Disposer:
        """Register ``disposer`` to run when the plugin stops (last registered runs first)."""
        self._check_open("register a disposer")
        self._holdings.disposers.append(disposer)
        return disposer

    async def request(self, event: Event, *, timeout: float = 5.0) -> Event:
        """Publish ``event`` as a request; the reply of the plugin that serves its topic.

        The responder is a plugin with a ``@subscribe`` handler of the topic that returns an
        event: that event is the reply (handed back here, not published). A responder that
        reloads meanwhile answers exactly once, by its old version or its new one. Read what
        you need from the reply and keep no reference to it: it is an instance of the
        responder's class, of the version that answered.

        Raises:
            NoResponderError: no plugin serves the topic (or none that received it replied).
            ResponderError: the responder's handler raised instead of replying.
            RequestTimeoutError: no reply within ``timeout`` seconds.
        """
        self._check_open("request")
        return await self._bus.request(event, timeout=timeout, owner=self.plugin)

    def get_plugin(self, name: str) -> Plugin:
        """The running instance of plugin ``name`` (look it up again after each reload).

        Raises:
            UnknownPluginError: when no such plugin is active.
        """
        return self._lookup(name)
