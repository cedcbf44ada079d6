"""The lifecycle engine: moves plugins through their states, publishing every transition.

`Runtime` (whole-runtime start, stop, check and the host API), the scheduler, the reloader and
a reload transaction all drive plugins through this one engine, with its public methods: it
loads, validates, starts and stops plugins, runs their hooks under time limits, and hands their
state across versions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Final, final

from hotbus.bus import Bus
from hotbus.runtime._config.settings import validate_plugin_config
from hotbus.runtime._engine.dependencies import MISSING, unmet
from hotbus.runtime._engine.graph import cycles_by_member, topological_order
from hotbus.runtime._engine.lifecycle import check_transition
from hotbus.runtime._engine.records import Record, Records
from hotbus.runtime._loading.loader import Loaded, PluginSource, load
from hotbus.runtime._loading.paths import files_in_traceback
from hotbus.runtime._loading.phase_error import PhaseError
from hotbus.runtime._loading.validation import validate_plugin_class
from hotbus.runtime._plugins.context import Context, Holdings
from hotbus.runtime._plugins.handoff import Handoff, pack, unpack
from hotbus.runtime._plugins.plugin import Plugin, subscribe_markers
from hotbus.schemas import (
    ErrorInfo,
    HotbusError,
    ManifestError,
    Phase,
    PluginDiscovered,
    PluginError,
    PluginFailed,
    PluginManifest,
    PluginState,
    PluginStateChanged,
    Settings,
    StateDiscarded,
    UnknownPluginError,
)
from pydantic import BaseModel

__all__ = ["Engine"]

S = PluginState
#: The setting that limits each hook, named in the error when the hook runs past it.
_TIMEOUT_SETTING: Final = {
    "setup": "setup_timeout_s",
    "teardown": "teardown_timeout_s",
    "export_state": "setup_timeout_s",
    "import_state": "setup_timeout_s",
}


@final
class Engine:
    """Moves the plugins of `records` through their lifecycle, publishing on `bus`.

    Callers hold `lock` around every change, so that one change runs at a time.
    """

    __slots__ = ("bus", "lock", "records", "settings")

    def __init__(self, bus: Bus, settings: Settings) -> None:
        self.bus = bus
        #: The settings in force (replaced, never mutated, when they change).
        self.settings = settings
        self.records = Records()
        self.lock = asyncio.Lock()

    def plugin(self, name: str) -> Plugin:
        """The running instance of plugin ``name``.

        Raises:
            UnknownPluginError: when no plugin of that name is active.
        """
        rec = self.records.find(name)
        if rec is None or rec.instance is None or rec.state is not S.ACTIVE:
            raise UnknownPluginError(name, self.records.in_state(S.ACTIVE))
        return rec.instance

    # -- transitions ------------------------------------------------------------------------------

    async def transition(
        self, rec: Record, target: PluginState, reason: str = "", version: str | None = None
    ) -> None:
        """Move ``rec`` to ``target`` (checked against the transition table) and publish it."""
        check_transition(rec.name, rec.state, target)
        previous, rec.state, rec.reason = rec.state, target, reason
        await self.bus.publish(
            PluginStateChanged(
                plugin=rec.name,
                previous=previous,
                state=target,
                version=version or rec.version,
                reason=reason,
            )
        )

    async def fail(
        self, rec: Record, phase: Phase, error: BaseException, *, state: bool = True
    ) -> None:
        """Publish ``rec``'s failure at ``phase``; with ``state``, it becomes failed too."""
        info = ErrorInfo.from_exception(error, file=rec.source.main_file)
        if state:
            rec.error = info
            await self.transition(rec, S.FAILED, f"{phase} failed: {info.type}: {info.message}")
        await self.bus.publish(
            PluginFailed(plugin=rec.name, phase=phase, version=rec.version, error=info)
        )

    # -- knowing and loading ----------------------------------------------------------------------

    async def discover(self, source: PluginSource) -> Record:
        """A new record for ``source``, published as discovered."""
        rec = self.records.add(source)
        await self.bus.publish(
            PluginDiscovered(
                plugin=source.name,
                kind=source.kind,
                path=source.path,
                entry_point=source.entry_point.value if source.entry_point else None,
            )
        )
        await self.transition(rec, S.DISCOVERED, source.describe())
        return rec

    async def load(self, rec: Record) -> None:
        """discovered/failed/loaded -> loading -> loaded (or failed, or gone if a helper)."""
        await self.transition(rec, S.LOADING, rec.source.describe())
        rec.error = None
        try:
            loaded = load(rec.source)
        except PhaseError as error:
            rec.loaded = None
            rec.extra_files = files_in_traceback(error.error, self.settings.plugin_dirs)
            await self.fail(rec, error.phase, error.error)
            return
        if loaded is None:  # a helper after all
            rec.loaded = None
            await self.transition(rec, S.UNLOADED, "defines no plugin class (a helper module)")
            self.forget(rec)
            return
        rec.loaded = loaded
        try:
            manifest = self.validate(rec, loaded)
        except ManifestError as error:
            await self.fail(rec, Phase.VALIDATE, error)
            rec.release()
            return
        self.records.rename(rec, manifest.name)
        rec.manifest = manifest
        rec.requires = [r.name for r in manifest.requires]
        try:
            rec.config = self.config_for(rec.name, loaded)
        except HotbusError as error:
            await self.fail(rec, Phase.CONFIG, error)
            rec.release()
            return
        await self.transition(rec, S.LOADED, "loaded")

    def validate(self, rec: Record, loaded: Loaded) -> PluginManifest:
        """The manifest of ``loaded``'s plugin class, validated (as ``rec``'s next version).

        Raises:
            ManifestError: naming what is wrong and where.
        """

        def taken_by(name: str) -> PluginSource | None:
            other = self.records.find(name)
            return other.source if other is not None and other is not rec else None

        return validate_plugin_class(loaded.plugin_class, rec.source, taken_by)

    def config_for(self, name: str, loaded: Loaded) -> BaseModel | None:
        """Plugin ``name``'s config section, validated against ``loaded``'s model."""
        return validate_plugin_config(
            name,
            loaded.plugin_class.config_model,
            self.settings.plugins.get(name),
            path=self.settings.config_file,
        )

    def forget(self, rec: Record) -> None:
        """Drop ``rec`` and its loaded version."""
        rec.release()
        rec.instance = rec.holdings = None
        self.records.remove(rec)

    async def unload(self, rec: Record) -> list[Loaded]:
        """Stop ``rec`` (active dependents first: they become blocked) and forget it.

        Returns the version it ran, for the caller to check that it is collected.
        """
        await self.stop_dependents({rec.name}, f"dependency {rec.name} was unloaded")
        old = [rec.loaded] if rec.loaded is not None else []
        if rec.state is S.ACTIVE:
            await self.stop(rec, S.UNLOADED, "unloaded")
        else:
            await self.transition(rec, S.UNLOADED, "unloaded")
        self.forget(rec)
        return old

    # -- dependencies -----------------------------------------------------------------------------

    def blocker(self, rec: Record, cycles: dict[str, list[str]], *, staged: bool = False) -> str:
        """Why ``rec`` cannot start now, or ``""`` if it can.

        With ``staged`` (`Runtime.check`), dependencies only need to have loaded, not to run.
        """

        def available(name: str) -> PluginManifest | str:
            dep = self.records.find(name)
            if dep is None:
                return MISSING
            if dep.state is S.FAILED or dep.manifest is None:
                return "failed"
            if staged and dep.state is S.BLOCKED:
                return "is blocked"
            if not staged and dep.state is not S.ACTIVE:
                return "is disabled" if not dep.enabled else f"is {dep.state}"
            return dep.manifest

        assert rec.manifest is not None
        problem = unmet(rec.name, rec.manifest, cycles, available)
        return problem.reason() if problem is not None else ""

    async def block_unmet(self, *, staged: bool = False) -> None:
        """Move every loaded plugin whose dependencies are unmet to blocked (`Runtime.check`)."""
        graph = self.records.graph(loaded_only=True)
        cycles = cycles_by_member(graph)
        for name in topological_order(graph):
            rec = self.records.get(name)
            reason = self.blocker(rec, cycles, staged=staged)
            if reason:
                await self.transition(rec, S.BLOCKED, reason)

    # -- starting and stopping --------------------------------------------------------------------

    async def start_ready(self) -> None:
        """Start every loaded or blocked plugin whose dependencies are all active."""
        progress = True
        while progress:
            progress = False
            graph = self.records.graph(loaded_only=True)
            cycles = cycles_by_member(graph)
            for name in topological_order(graph):
                rec = self.records.find(name)
                if rec is None or rec.state not in (S.LOADED, S.BLOCKED) or not rec.enabled:
                    continue
                reason = self.blocker(rec, cycles)
                if reason:
                    if rec.state is not S.BLOCKED:
                        await self.transition(rec, S.BLOCKED, reason)
                    rec.reason = reason
                    continue
                progress = await self.start(rec) or progress

    async def start(self, rec: Record) -> bool:
        """loaded/blocked -> starting -> active (or failed). Returns whether it is active."""
        assert rec.loaded is not None
        await self.transition(rec, S.STARTING, "starting")
        try:
            await self.bring_up(rec, rec.loaded, rec.config, None)
        except PhaseError as failure:
            await self.fail(rec, failure.phase, failure.error)
            return False
        await self.transition(rec, S.ACTIVE, "started")
        return True

    async def stop(self, rec: Record, target: PluginState, reason: str) -> None:
        """active -> stopping -> ``target``; the runtime cleans up whatever teardown does.

        The delivery under way to the plugin finishes first (cancelled past the quiesce limit);
        what still waits in its mailbox is dropped with its subscriptions.
        """
        await self.transition(rec, S.STOPPING, reason)
        await self.bus.pause(rec.name, self.settings.quiesce_timeout_s)
        try:
            error = await self.bring_down(rec)
        finally:
            self.bus.resume(rec.name)
        if error is not None:
            await self.fail(rec, Phase.TEARDOWN, error, state=False)
        await self.transition(rec, target, reason)

    async def stop_dependents(self, names: set[str], reason: str) -> None:
        """Stop the active plugins depending on ``names`` (reverse order); they become blocked."""
        closure = self.records.dependents(names)
        for name in reversed(self.records.order()):
            rec = self.records.get(name)
            if name in closure and rec.state is S.ACTIVE:
                await self.stop(rec, S.BLOCKED, reason)

    # -- hooks ------------------------------------------------------------------------------------

    async def run_hook(self, rec: Record, hook: str, call: Awaitable[Any], timeout: float) -> Any:
        """Await ``call``, a hook of ``rec``'s plugin, cancelling it past ``timeout`` seconds.

        Raises:
            PluginError: when the hook ran out of time, naming the setting to raise.
        """
        try:
            async with asyncio.timeout(timeout) as scope:
                return await call
        except TimeoutError:
            if not scope.expired():
                raise
            raise PluginError(
                rec.name,
                f"{hook} did not finish within {timeout:g} s and was cancelled: make it faster, "
                f"start slow work with ctx.start_task(), or raise {_TIMEOUT_SETTING[hook]}",
                path=rec.source.main_file,
            ) from None

    async def bring_up(
        self,
        rec: Record,
        loaded: Loaded,
        config: BaseModel | None,
        handoff: Handoff | None,
    ) -> None:
        """Create an instance of ``loaded``, set it up, hand it the state, subscribe it.

        Raises:
            PhaseError: with the phase; whatever the instance acquired is released first.
        """
        holdings = Holdings()
        ctx = Context(rec.name, self.bus, config, self.plugin, holdings=holdings)
        phase = Phase.SETUP
        timeout = self.settings.setup_timeout_s
        try:
            instance = loaded.plugin_class(ctx)
            await self.run_hook(rec, "setup", instance.setup(), timeout)
            if handoff is not None:
                phase = Phase.HANDOFF
                await self.import_state(rec, instance, handoff)
            phase = Phase.ENABLE
            subscribe_markers(instance, ctx)
        except (Exception, SystemExit) as error:
            await holdings.release(self.settings.teardown_timeout_s)
            raise PhaseError(phase, error, plugin=rec.name) from error
        rec.instance, rec.holdings = instance, holdings

    async def bring_down(self, rec: Record) -> BaseException | None:
        """Tear the running instance down; the runtime releases what it acquired regardless.

        Returns the teardown's error, if any (problems releasing are published directly).
        """
        instance, holdings = rec.instance, rec.holdings
        assert instance is not None
        assert holdings is not None
        timeout = self.settings.teardown_timeout_s
        failure: BaseException | None = None
        try:
            await self.run_hook(rec, "teardown", instance.teardown(), timeout)
        except (Exception, SystemExit) as error:
            failure = error
        for problem in await holdings.release(timeout):
            await self.bus.publish(
                PluginFailed(
                    plugin=rec.name, phase=Phase.TEARDOWN, version=rec.version, error=problem
                )
            )
        rec.instance = rec.holdings = None
        return failure

    async def export_state(self, rec: Record) -> Handoff | None:
        """Ask the running instance for its state (raises on failure)."""
        instance = rec.instance
        assert instance is not None
        state = await self.run_hook(
            rec, "export_state", instance.export_state(), self.settings.setup_timeout_s
        )
        return pack(rec.name, state, rec.source.main_file)

    async def import_state(self, rec: Record, instance: Plugin, handoff: Handoff) -> None:
        """Give ``instance`` the state of the previous version, migrating it if it is older."""
        state, reason = unpack(instance, handoff)
        if state is None:
            model = type(instance).state_model
            await self.bus.publish(
                StateDiscarded(
                    plugin=rec.name,
                    old_schema_version=handoff.schema_version,
                    new_schema_version=model.schema_version if model is not None else None,
                    reason=reason,
                )
            )
            return
        await self.run_hook(
            rec, "import_state", instance.import_state(state), self.settings.setup_timeout_s
        )
