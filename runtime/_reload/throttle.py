"""Holding back the reloads of a plugin that keeps rewriting its own files.

A plugin whose setup (or a task it starts) writes its own source changes the file it was just
loaded from: the change settles, the plugin reloads, its setup writes again, and so on forever.
`Throttle` tells such a change from an edit by when the file changed: a file of the plugin that
changed during one of its start-ups (from ``starting`` until its reload committed or rolled
back) was written by the plugin's own code, whoever else saves how often. It compares each file's
inode, size and modification time when the start-up begins and when it ends (the modification
time alone is too coarse: the kernel stamps files a tick or two behind). Edits, however fast
(an editor saving every second, a script saving right after each reload), are never held back.

After ``reload_loop_limit`` such changes in a row, the plugin's next reload waits: 1 s, then
twice as long at each further round of the loop, up to ``reload_backoff_max_s``, announced by
``hotbus.reload.throttled`` each time. Changes meanwhile join the waiting reload, which loads
what is on disk when it runs; a change made at any other time (an edit) reloads at once and
starts the count again.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, final

from hotbus.bus import Bus
from hotbus.runtime._listener import Listener
from hotbus.schemas import (
    PluginState,
    PluginStateChanged,
    ReloadAction,
    ReloadCommitted,
    ReloadReason,
    ReloadRequested,
    ReloadRolledBack,
    ReloadThrottled,
    Settings,
)

__all__ = ["Throttle"]

#: The first delay of a throttled reload; it doubles at each further round.
_FIRST_DELAY_S: Final = 1.0
#: How many recent start-ups of a plugin a change is compared with.
_STARTS_KEPT: Final = 4
#: What causes a throttled reload, and the fix.
HINT: Final = (
    "a plugin that writes its own source reloads forever: write data elsewhere, "
    "outside the plugin directory"
)

#: What tells one state of a file from another: inode, size, modification time (None: absent).
_Stamp = tuple[int, int, int] | None


def _stamp(path: Path) -> _Stamp:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@dataclass(slots=True)
class _StartUp:
    """One start-up of a plugin: its files as it began, and those changed by its end."""

    before: dict[Path, _Stamp]
    #: The files changed since it began: None while it runs; grows until its reload ended.
    changed: set[Path] | None = None
    #: Whether its reload committed or rolled back (nothing more is its doing after that).
    over: bool = False

    def end(self, *, over: bool) -> None:
        """Note the files changed so far (again at the end of its reload: tasks write late)."""
        changed = {path for path, stamp in self.before.items() if _stamp(path) != stamp}
        self.changed = changed if self.changed is None else self.changed | changed
        self.over = over


@dataclass(slots=True)
class _Waiting:
    """A reload held back: the files that changed meanwhile, and the task that will ask."""

    paths: list[Path]
    task: asyncio.Task[None] | None = None


@dataclass(slots=True)
class _Loop:
    """What the throttle knows of one plugin."""

    starts: deque[_StartUp] = field(default_factory=lambda: deque(maxlen=_STARTS_KEPT))
    #: Changes in a row that the plugin wrote while starting.
    streak: int = 0
    #: Rounds of the backoff so far (0: not throttled).
    rounds: int = 0
    waiting: _Waiting | None = None


@final
class Throttle:
    """Publishes the reload requests of changed files, holding back those of a reload loop.

    Args:
        bus: where requests, and `ReloadThrottled`, are published.
        settings: the settings in force (read at each change).
        files: the files a plugin owns, by its name.
    """

    __slots__ = ("_bus", "_files", "_listeners", "_loops", "_settings")

    def __init__(
        self,
        bus: Bus,
        settings: Callable[[], Settings],
        files: Callable[[str], Iterable[Path]],
    ) -> None:
        self._bus = bus
        self._settings = settings
        self._files = files
        self._loops: dict[str, _Loop] = {}
        self._listeners = (
            Listener(bus, PluginStateChanged, self._on_state),
            Listener(bus, ReloadCommitted, self._on_committed),
            Listener(bus, ReloadRolledBack, self._on_rolled_back),
        )

    def attach(self) -> None:
        """Follow the plugins' start-ups (idempotent)."""
        for listener in self._listeners:
            listener.attach()

    def detach(self) -> None:
        """Stop following them, and drop the reloads held back."""
        for listener in self._listeners:
            listener.detach()
        for loop in self._loops.values():
            if loop.waiting is not None and loop.waiting.task is not None:
                loop.waiting.task.cancel()
        self._loops.clear()

    @property
    def waiting(self) -> int:
        """How many plugins have a reload held back."""
        return sum(loop.waiting is not None for loop in self._loops.values())

    async def idle(self) -> None:
        """Wait until no reload is held back (each is asked for when its delay ends)."""
        while tasks := [
            loop.waiting.task
            for loop in self._loops.values()
            if loop.waiting is not None and loop.waiting.task is not None
        ]:
            await asyncio.wait(tasks)

    async def request(self, request: ReloadRequested) -> None:
        """Publish ``request``, a reload asked for by changed files, now or after a delay."""
        loop = self._loops.setdefault(request.plugin, _Loop())
        limit = self._settings().reload_loop_limit
        if not (limit and self._written_while_starting(loop, request.paths)):
            loop.streak = loop.rounds = 0
            waiting, loop.waiting = loop.waiting, None
            if waiting is not None:  # an edit: the reload held back happens now, with it
                if waiting.task is not None:
                    waiting.task.cancel()
                request = request.model_copy(update={"paths": _joined(waiting.paths, request)})
            await self._bus.publish(request)
            return
        if loop.waiting is not None:
            loop.waiting.paths = _joined(loop.waiting.paths, request)
            return
        loop.streak += 1
        if loop.streak < limit:
            await self._bus.publish(request)
            return
        loop.rounds += 1
        delay = min(
            _FIRST_DELAY_S * 2.0 ** min(loop.rounds - 1, 32),
            self._settings().reload_backoff_max_s,
        )
        waiting = loop.waiting = _Waiting(list(request.paths))
        waiting.task = asyncio.get_running_loop().create_task(
            self._later(request.plugin, waiting, delay), name=f"hotbus-throttle-{request.plugin}"
        )
        await self._bus.publish(
            ReloadThrottled(
                plugin=request.plugin,
                reloads=loop.streak,
                delay_s=delay,
                paths=list(request.paths),
                hint=HINT,
            )
        )

    async def _later(self, plugin: str, waiting: _Waiting, delay: float) -> None:
        await asyncio.sleep(delay)
        loop = self._loops.get(plugin)
        if loop is None or loop.waiting is not waiting:
            return
        loop.waiting = None
        await self._bus.publish(
            ReloadRequested(
                plugin=plugin,
                action=ReloadAction.RELOAD,
                reason=ReloadReason.FILE,
                paths=waiting.paths,
            )
        )

    def _written_while_starting(self, loop: _Loop, paths: list[Path]) -> bool:
        """Whether one of ``paths`` changed during a recent start-up of the plugin.

        A change is matched once: a later change of the same file is someone else's.
        """
        for start in reversed(loop.starts):
            for path in paths:
                if start.changed is None:  # still starting: compare with how it began
                    if _stamp(path) != start.before.get(path, _stamp(path)):
                        return True
                elif path in start.changed:
                    start.changed.discard(path)
                    return True
        return False

    def _on_state(self, event: PluginStateChanged) -> None:
        if event.state is PluginState.STARTING:
            files = self._files(event.plugin)
            start = _StartUp({path: _stamp(path) for path in files})
            self._loops.setdefault(event.plugin, _Loop()).starts.append(start)
        elif event.previous is PluginState.STARTING:
            self._end(event.plugin, over=False)
        elif event.state is PluginState.UNLOADED:
            loop = self._loops.pop(event.plugin, None)
            if loop is not None and loop.waiting is not None and loop.waiting.task is not None:
                loop.waiting.task.cancel()

    def _on_committed(self, event: ReloadCommitted) -> None:
        for change in event.changes:
            self._end(change.plugin, over=True)

    def _on_rolled_back(self, event: ReloadRolledBack) -> None:
        for name in {event.plugin, *event.members}:
            self._end(name, over=True)

    def _end(self, plugin: str, *, over: bool) -> None:
        loop = self._loops.get(plugin)
        if loop is not None and loop.starts and not loop.starts[-1].over:
            loop.starts[-1].end(over=over)


def _joined(paths: list[Path], request: ReloadRequested) -> list[Path]:
    """``paths`` and those of ``request``, each once, in order."""
    return list(dict.fromkeys([*paths, *request.paths]))
