"""Checking, off the critical path, that an unloaded plugin version was really freed."""

from __future__ import annotations

import asyncio
import gc
import sys
import types
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, final

from hotbus.schemas import PluginLeaked

if TYPE_CHECKING:
    from hotbus.bus import Bus
    from hotbus.runtime._loading.loader import Loaded

__all__ = ["LeakChecker", "describe_referrer"]


def describe_referrer(obj: Any) -> str:
    """A short description of something that holds a reference."""
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    if isinstance(obj, types.FrameType):
        return f"frame of {obj.f_code.co_qualname} ({obj.f_code.co_filename}:{obj.f_lineno})"
    if isinstance(obj, types.FunctionType):
        return f"function {obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, type):
        return f"class {obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, dict):
        for owner in gc.get_referrers(obj):
            if getattr(owner, "__dict__", None) is obj:
                return f"attributes of {type(owner).__qualname__} object"
            if isinstance(owner, types.ModuleType):
                return f"globals of module {owner.__name__}"
        return f"dict with keys {sorted(map(str, obj))[:5]}"
    if isinstance(obj, list | tuple | set):
        return f"{type(obj).__name__} of {len(obj)} items"
    return f"{type(obj).__module__}.{type(obj).__qualname__} object"


@final
class LeakChecker:
    """Holds weak references to old plugin versions and reports the ones that stay alive.

    The check runs in a task after the transaction has committed: a garbage collection, then a
    `PluginLeaked` event for every version whose plugin class is still referenced.
    """

    __slots__ = ("_bus", "_tasks")

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._tasks: set[asyncio.Task[int]] = set()

    def watch(self, versions: Iterable[Loaded]) -> None:
        """Check ``versions`` soon; only weak references are kept."""
        refs = [
            (loaded.plugin_class.name, loaded.version, weakref.ref(loaded.plugin_class))
            for loaded in versions
            if loaded.generation is not None  # installed entry points are never unloaded
        ]
        if not refs:
            return
        task = asyncio.get_running_loop().create_task(self._check(refs), name="hotbus-leaks")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def join(self) -> None:
        """Wait for the checks under way (and for those they start)."""
        # Only unfinished tasks: a finished one leaves the set in a done callback that has not run
        # yet, and since 3.12 waiting on finished tasks returns without yielding to the loop.
        while pending := [task for task in self._tasks if not task.done()]:
            await asyncio.wait(pending)

    async def _check(self, refs: list[tuple[str, str, weakref.ref[type]]]) -> int:
        await asyncio.sleep(0)
        gc.collect()
        leaked = 0
        for plugin, version, ref in refs:
            cls = ref()
            if cls is None:
                continue
            leaked += 1
            holders = [
                describe_referrer(r)
                for r in gc.get_referrers(cls)
                if r is not sys._getframe() and not isinstance(r, weakref.ReferenceType)
            ]
            del cls
            await self._bus.publish(
                PluginLeaked(plugin=plugin, version=version, referrers=holders[:10])
            )
        return leaked
