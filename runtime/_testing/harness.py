"""A runtime on a temporary plugin directory, recording every event: for tests."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar, final, overload

from hotbus.bus import Bus, Recorder
from hotbus.runtime._runtime import Runtime
from hotbus.runtime._testing.plugin_dir import PluginDir
from hotbus.schemas import Event

__all__ = ["Harness"]

E = TypeVar("E", bound=Event)


@final
class Harness:
    """Runs a `Runtime` on ``plugins`` and records every event published on its bus.

    The recording starts before the runtime does, so lifecycle events of the start are in it::

        harness = Harness(PluginDir(tmp_path / "plugins"))
        harness.plugins.write("dice.py", SOURCE)
        runtime = await harness.start()
        await harness.plugins.save("dice.py", NEW_SOURCE, "vim")
        await harness.wait_for("hotbus.reload.committed")
        await harness.stop()
    """

    __slots__ = ("_stack", "bus", "events", "plugins", "runtime")

    def __init__(self, plugins: PluginDir, *, bus: Bus | None = None) -> None:
        self.plugins = plugins
        self.bus = bus if bus is not None else Bus()
        self.runtime: Runtime | None = None
        self._stack = ExitStack()
        #: Every event published on the bus since the harness was made.
        self.events: Recorder = self._stack.enter_context(self.bus.record(">"))

    def __repr__(self) -> str:
        return f"<hotbus Harness {self.plugins!r} events={len(self.events)}>"

    async def start(self, **settings: Any) -> Runtime:
        """Start a runtime on the plugin directory (``entry_points=False`` unless given)."""
        if self.runtime is not None:
            raise RuntimeError("this harness already runs a runtime: stop it first")
        settings.setdefault("entry_points", False)
        self.runtime = Runtime([self.plugins.path], bus=self.bus, **settings)
        await self.runtime.start()
        return self.runtime

    async def stop(self) -> None:
        """Stop the runtime (and every plugin); harmless if none runs."""
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            await runtime.stop()

    def close(self) -> None:
        """Stop recording."""
        self._stack.close()

    @overload
    async def wait_for(
        self, topic: type[E], where: Callable[[E], bool] | None = ..., *, timeout: float = ...
    ) -> E: ...
    @overload
    async def wait_for(
        self, topic: str, where: Callable[[Any], bool] | None = ..., *, timeout: float = ...
    ) -> Event: ...
    async def wait_for(
        self,
        topic: str | type[Event],
        where: Callable[[Any], bool] | None = None,
        *,
        timeout: float = 10.0,
    ) -> Any:
        """The next recorded event matching ``topic`` (and ``where``), waiting up to ``timeout``."""
        return await self.events.wait_for(topic, where, timeout=timeout)
