"""`LoopMonitor`: sees plugin code holding the event loop, reports it, and interrupts it.

Plugin code runs on the loop's thread; code that does not return to the loop (a blocking
``time.sleep`` in a sync handler, a ``while True`` in a hook) holds up every other plugin. The
monitor watches a heartbeat that the loop updates every few milliseconds, from a thread of its
own. When the heartbeat is late past ``stall_threshold_ms`` and plugin code is on the loop
thread's stack, it logs a warning at once (the loop, and so every subscriber, is stuck) and
posts `LoopStalled`, delivered when the loop runs again. Past ``stall_limit_s`` it raises
`PluginInterrupted` into the loop thread, but only while the innermost frames are plugin code
(or code it called), never hotbus's own; it checks again right before, and interrupts only if
the loop thread's innermost frame is still the one it found. The interrupted code fails as any
error of that plugin: a handler's is a ``hotbus.handler.failed``, a hook's fails the plugin at
that phase.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from typing import Final, final

from hotbus.bus import Bus
from hotbus.runtime._loading.interrupt import (
    Culprit,
    culprit,
    interrupt_if_at,
    may_interrupt,
    stack_of,
)
from hotbus.schemas import LoopStalled, PluginInterrupted, Settings

__all__ = ["LoopMonitor", "describe_loop"]

logger = logging.getLogger("hotbus.loop")

#: The heartbeat's period, as a share of the threshold, and its bounds in seconds.
_BEATS_PER_THRESHOLD: Final = 4
_MIN_PERIOD_S: Final = 0.005
_MAX_PERIOD_S: Final = 0.05
#: Task names that say what plugin code was doing.
_HOOK_TASK: Final = "hotbus:hook:"
_MAILBOX_TASK: Final = "hotbus-mailbox:"


def _doing(task_name: str, found: Culprit, plugin: str) -> str:
    """What the plugin was doing, from the name of the task running and its outermost code."""
    if task_name.startswith(_HOOK_TASK):
        return task_name.rsplit(":", 1)[-1]
    if task_name.startswith(_MAILBOX_TASK):
        return f"handler {found.entry}"
    if task_name.startswith(f"hotbus:{plugin}:"):
        return f"task {found.entry}"
    return found.entry


def describe_loop(
    loop: asyncio.AbstractEventLoop, thread_id: int, owner_of: Callable[[str], str]
) -> tuple[str, str, Culprit] | None:
    """``(plugin, doing, where)`` for plugin code on the loop thread's stack now, else None.

    Safe to call from any thread.
    """
    found = culprit(stack_of(thread_id))
    if found is None:
        return None
    plugin = owner_of(found.module)
    try:
        task = asyncio.current_task(loop)
    except RuntimeError:  # pragma: no cover - the loop is gone
        task = None
    return plugin, _doing(task.get_name() if task is not None else "", found, plugin), found


@final
class LoopMonitor:
    """Watches the loop's heartbeat from a thread; see the module's documentation.

    Args:
        bus: where `LoopStalled` is posted.
        settings: the settings in force (read at each check: they may change while running).
        owner_of: the plugin that a plugin module (``_hotbus_plugins.g<N>.<name>``) belongs to.
    """

    __slots__ = (
        "_beat",
        "_beats",
        "_bus",
        "_handle",
        "_interrupted_at",
        "_loop",
        "_loop_thread",
        "_owner_of",
        "_period",
        "_reported",
        "_settings",
        "_stopping",
        "_thread",
        "stalls",
    )

    def __init__(
        self, bus: Bus, settings: Callable[[], Settings], owner_of: Callable[[str], str]
    ) -> None:
        self._bus = bus
        self._settings = settings
        self._owner_of = owner_of
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._beat = 0.0
        self._beats = 0
        self._period = _MAX_PERIOD_S
        self._handle: asyncio.TimerHandle | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: The heartbeat count of the stall last reported, and when it was last interrupted.
        self._reported = -1
        self._interrupted_at = 0.0
        #: How many stalls it has seen (each reported once).
        self.stalls = 0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<hotbus LoopMonitor {state} stalls={self.stalls}>"

    @property
    def running(self) -> bool:
        """Whether it watches the loop now."""
        return self._thread is not None

    def start(self) -> None:
        """Start watching the running loop (idempotent); call it on the loop's thread."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopping.clear()
        self._tick()
        context = contextvars.copy_context()  # events it posts carry the runtime's source
        self._thread = threading.Thread(
            target=context.run, args=(self._watch,), name="hotbus-loop-monitor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (idempotent)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join(timeout=1.0)

    def _tick(self) -> None:
        """The heartbeat: runs on the loop every period, while the loop is free to run it."""
        self._beat = time.monotonic()
        self._beats += 1
        threshold = self._settings().stall_threshold_ms / 1000
        self._period = min(_MAX_PERIOD_S, max(_MIN_PERIOD_S, threshold / _BEATS_PER_THRESHOLD))
        assert self._loop is not None
        self._handle = self._loop.call_later(self._period, self._tick)

    def _watch(self) -> None:
        while not self._stopping.wait(self._period):
            self._check()

    def _check(self) -> None:
        """One look at the heartbeat. Keeps no frame once it returns (a frame would keep a
        retired plugin version alive)."""
        beats = self._beats
        # How late the next heartbeat is: at least that long nothing else ran on the loop.
        held = time.monotonic() - self._beat - self._period
        settings = self._settings()
        if held * 1000 < settings.stall_threshold_ms:
            return
        seen = self._describe()
        if seen is None:
            return  # hotbus's own work, or the host's: not a plugin's stall
        plugin, doing, where = seen
        if self._reported != beats:
            self._reported, self._interrupted_at = beats, 0.0
            self.stalls += 1
            self._report(plugin, doing, where, held, interrupted=False)
        limit = settings.stall_limit_s
        if not limit or held < limit or not where.interruptible:
            return
        if self._interrupted_at and time.monotonic() - self._interrupted_at < limit:
            return  # interrupted already; give it another limit before trying again
        again = bool(self._interrupted_at)
        if self._interrupt(plugin, doing, where, held, beats):
            self._interrupted_at = time.monotonic()
            if not again:  # a call that cannot be interrupted: said once, retried quietly
                self._report(plugin, doing, where, held, interrupted=True)

    def _describe(self) -> tuple[str, str, Culprit] | None:
        assert self._loop is not None
        return describe_loop(self._loop, self._loop_thread, self._owner_of)

    def _interrupt(self, plugin: str, doing: str, where: Culprit, held: float, beats: int) -> bool:
        """Raise `PluginInterrupted` in the loop thread if it still runs that plugin code."""
        detail = (
            f"held the event loop for {held:.1f} s in {doing} (nothing else ran meanwhile) and "
            "was interrupted: do blocking work with asyncio.to_thread() or in a task that "
            "awaits, or raise stall_limit_s"
        )
        error = PluginInterrupted.bound(plugin, detail, path=where.file, line=where.line)
        frames = stack_of(self._loop_thread)
        before = culprit(frames)
        if self._beats != beats or before is None or before.frame is not where.frame:
            return False  # it moved on
        if not before.interruptible or not may_interrupt(self._loop_thread):
            return False
        return interrupt_if_at(self._loop_thread, frames[0], error)

    def _report(
        self, plugin: str, doing: str, where: Culprit, held: float, *, interrupted: bool
    ) -> None:
        place = f"{where.file.name}:{where.line}"
        if interrupted:
            logger.warning(
                "⛔ %s held the event loop %.0f ms in %s at %s: interrupting it",
                plugin,
                held * 1000,
                doing,
                place,
            )
        else:
            logger.warning(
                "⏳ %s has held the event loop %.0f ms in %s at %s: every other plugin waits",
                plugin,
                held * 1000,
                doing,
                place,
            )
        self._bus.post(
            LoopStalled(
                plugin=plugin,
                doing=doing,
                held_ms=held * 1000,
                file=where.file,
                line=where.line,
                interrupted=interrupted,
            )
        )
