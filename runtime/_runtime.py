"""The `Runtime`: discovers, loads, starts and stops plugins, publishing every step."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, final

from hotbus.bus import Bus
from hotbus.runtime._config.settings import load_settings, validate_plugin_config
from hotbus.runtime._console.eventlog import EventLogger
from hotbus.runtime._engine.graph import dependents_closure, find_cycles, topological_order
from hotbus.runtime._engine.lifecycle import check_transition
from hotbus.runtime._loading.loader import (
    Loaded,
    LoadError,
    PluginSource,
    discover,
    load,
    purge,
    source_for,
)
from hotbus.runtime._loading.paths import files_in_traceback
from hotbus.runtime._loading.validation import validate_plugin_class
from hotbus.runtime._plugins.context import Context
from hotbus.runtime._plugins.gate import Gate
from hotbus.runtime._plugins.handoff import Handoff, pack, unpack
from hotbus.runtime._plugins.plugin import Plugin
from hotbus.runtime._reload.debouncer import Debouncer
from hotbus.runtime._reload.leaks import LeakChecker
from hotbus.runtime._reload.watcher import Watcher
from hotbus.schemas import (
    ErrorInfo,
    Event,
    HotbusError,
    ManifestError,
    Phase,
    PluginDiscovered,
    PluginError,
    PluginFailed,
    PluginManifest,
    PluginState,
    PluginStateChanged,
    PluginStatus,
    ReloadAction,
    ReloadReason,
    ReloadRequested,
    RuntimeStarted,
    RuntimeStopped,
    RuntimeStopping,
    Settings,
    SourceKind,
    StateDiscarded,
    UnknownPluginError,
    use_source,
)
from pydantic import BaseModel

__all__ = ["Runtime", "StepFailed"]

S = PluginState
_TIMEOUT_SETTING = {
    "setup": "setup_timeout_s",
    "teardown": "teardown_timeout_s",
    "export_state": "setup_timeout_s",
    "import_state": "setup_timeout_s",
}


@dataclass(eq=False, slots=True)
class _Record:
    """Everything the runtime knows about one plugin."""

    name: str
    source: PluginSource
    state: PluginState | None = None
    loaded: Loaded | None = None
    manifest: PluginManifest | None = None
    config: BaseModel | None = None
    instance: Plugin | None = None
    ctx: Context | None = None
    error: ErrorInfo | None = None
    reason: str = ""
    enabled: bool = True
    requires: list[str] = field(default_factory=list)
    gate: Gate = field(init=False)
    #: Files named in the traceback of the last failure: saving one retries the plugin.
    extra_files: set[Path] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.gate = Gate(self.name)

    @property
    def version(self) -> str | None:
        return self.loaded.version if self.loaded is not None else None


class StepFailed(Exception):
    """A plugin step (setup, hand-off, teardown, ...) failed; carries the phase and the error."""

    def __init__(self, phase: Phase, error: BaseException) -> None:
        super().__init__(f"{phase}: {error}")
        self.phase = phase
        self.error = error


@final
class Runtime:
    """Hosts plugins: an async context manager that starts them all and stops them all.

    Entering discovers every plugin source, loads each from its source bytes, and starts them
    in dependency order; leaving stops them in reverse order and returns once every teardown is
    done. Every step is an event on `bus`::

        async with Runtime(["plugins"]) as runtime:
            await runtime.bus.publish(ChatMessage(user="ann", text="!roll 2d6"))

    A plugin failing at any phase never takes the runtime down: it is marked failed (or, when a
    dependency is what is missing, blocked) and every other plugin goes on.
    """

    __slots__ = (
        "_debouncer",
        "_event_logger",
        "_leaks",
        "_lock",
        "_planner",
        "_records",
        "_reloader",
        "_started",
        "_watcher",
        "bus",
        "id",
        "settings",
    )

    def __init__(
        self,
        plugin_dirs: Iterable[str | Path] | None = None,
        *,
        config_file: str | Path | None = None,
        settings: Settings | None = None,
        bus: Bus | None = None,
        log_events: bool = True,
        **overrides: Any,
    ) -> None:
        if settings is None:
            dirs = None if plugin_dirs is None else [Path(p) for p in plugin_dirs]
            settings = load_settings(config_file, plugin_dirs=dirs, **overrides)
        elif plugin_dirs is not None or config_file is not None or overrides:
            settings = settings.model_copy(
                update={
                    **overrides,
                    **({"plugin_dirs": tuple(Path(p) for p in plugin_dirs)} if plugin_dirs else {}),
                }
            )
        #: The resolved settings.
        self.settings = settings
        #: The bus every event goes through; hosts publish their own events on it too.
        self.bus = bus if bus is not None else Bus()
        #: This runtime's id, stamped as ``source`` on the events it publishes.
        self.id = f"hotbus-{uuid.uuid4().hex[:8]}@{socket.gethostname()}:{os.getpid()}"
        self._records: dict[str, _Record] = {}
        self._lock = asyncio.Lock()
        self._started = False
        self._event_logger = EventLogger(self.bus) if log_events else None
        self._leaks = LeakChecker(self.bus)
        self._planner = Planner(self)
        self._reloader = Reloader(self)
        self._debouncer = Debouncer(
            self.bus,
            write_window_ms=settings.debounce_ms,
            modified_window_ms=settings.modified_debounce_ms,
            delete_window_ms=settings.delete_window_ms,
            max_wait_windows=settings.max_wait_windows,
            interesting=self._interesting,
        )
        self._watcher = Watcher(self.bus, settings.plugin_dirs, config_file=settings.config_file)

    def __repr__(self) -> str:
        active = sum(1 for r in self._records.values() if r.state is S.ACTIVE)
        return f"<hotbus Runtime {self.id} plugins={len(self._records)} active={active}>"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop(reason="exit" if exc is None else f"error: {type(exc).__name__}")

    # -- queries -----------------------------------------------------------------------------

    def status(self) -> list[PluginStatus]:
        """One row per plugin, in dependency order."""
        rows = []
        for name in self._order():
            rec = self._records[name]
            assert rec.state is not None
            rows.append(
                PluginStatus(
                    name=rec.name,
                    state=rec.state,
                    version=rec.version,
                    source=rec.source.describe(),
                    kind=rec.source.kind,
                    enabled=rec.enabled,
                    reason=rec.reason,
                    error=rec.error,
                    requires=list(rec.requires),
                    files=sorted(rec.loaded.files) if rec.loaded is not None else [],
                )
            )
        return rows

    def plugin(self, name: str) -> Plugin:
        """The running instance of plugin ``name``.

        Raises:
            UnknownPluginError: when no plugin of that name is active.
        """
        rec = self._records.get(name)
        if rec is None or rec.instance is None or rec.state is not S.ACTIVE:
            active = [n for n, r in self._records.items() if r.state is S.ACTIVE]
            raise UnknownPluginError(name, active)
        return rec.instance

    def files(self) -> dict[Path, list[str]]:
        """Every file a plugin owns, with its owners.

        A plugin owns its module or package, every helper module it imported, and while it is
        failed, the files named in its traceback: saving any of them reloads (or retries) it.
        """
        owned: dict[Path, list[str]] = {}
        for rec in self._records.values():
            paths = set(rec.extra_files)
            if rec.source.main_file is not None:
                paths.add(rec.source.main_file)
            if rec.loaded is not None:
                paths.update(rec.loaded.files)
            for path in paths:
                owned.setdefault(path, []).append(rec.name)
        return owned

    def owners(self, path: Path) -> list[str]:
        """The plugins that own ``path`` (see `files`); a package owns everything inside it."""
        found = list(self.files().get(path, ()))
        for rec in self._records.values():
            src = rec.source
            if (
                src.kind is SourceKind.PACKAGE
                and src.path is not None
                and path.is_relative_to(src.path)
                and rec.name not in found
            ):
                found.append(rec.name)
        return found

    # -- whole-runtime lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Discover, load and start every plugin (idempotent)."""
        if self._started:
            return
        begin = time.perf_counter()
        self.bus.bind()
        if self._event_logger is not None:
            self._event_logger.attach()
        self._started = True
        with use_source(self.id):
            async with self._lock:
                sources = discover(
                    self.settings.plugin_dirs, entry_points=self.settings.entry_points
                )
                records = [await self._discovered(source) for source in sources]
                for rec in records:
                    await self._load(rec)
                await self._start_ready()
                self._planner.attach()
                self._reloader.attach()
            if self.settings.watch:
                await self._start_watching()
            async with self._lock:
                await self.bus.publish(
                    RuntimeStarted(
                        plugin_dirs=[Path(p).resolve() for p in self.settings.plugin_dirs],
                        plugins=[n for n in self._order() if self._records[n].state is S.ACTIVE],
                        watching=self.watching,
                        duration_ms=(time.perf_counter() - begin) * 1000,
                    )
                )

    async def check(self) -> list[PluginStatus]:
        """Stage every plugin without starting any: compile, manifest, dependencies, config.

        Returns one row per plugin: ``loaded`` when it would start, ``failed`` with the error,
        ``blocked`` with the dependency problem. Nothing stays loaded afterwards.
        """
        if self._started:
            raise PluginError("*", "check() stages plugins of a runtime that has not started")
        with use_source(self.id):
            async with self._lock:
                sources = discover(
                    self.settings.plugin_dirs, entry_points=self.settings.entry_points
                )
                records = [await self._discovered(source) for source in sources]
                for rec in records:
                    await self._load(rec)
                graph = {n: r.requires for n, r in self._records.items() if r.manifest}
                cycles = {m: cycle for cycle in find_cycles(graph) for m in cycle}
                for name in topological_order(graph):
                    rec = self._records[name]
                    reason = self._blocker(rec, cycles, staged=True)
                    if reason:
                        await self._transition(rec, S.BLOCKED, reason)
                rows = self.status()
                for rec in list(self._records.values()):
                    self._forget(rec)
        return rows

    async def stop(self, reason: str = "") -> None:
        """Stop every plugin in reverse dependency order; returns when all teardown is done."""
        if not self._started:
            return
        begin = time.perf_counter()
        with use_source(self.id):
            await self.bus.publish(RuntimeStopping(reason=reason))
            await self._stop_watching("runtime stopping")
            self._reloader.detach()
            self._planner.detach()
            await self._planner.idle()
            async with self._lock:
                for name in reversed(self._order()):
                    rec = self._records[name]
                    if rec.state is S.ACTIVE:
                        await self._stop(rec, S.UNLOADED, "runtime stopping")
                    elif rec.state is not S.UNLOADED:
                        await self._transition(rec, S.UNLOADED, "runtime stopping")
                    self._forget(rec)
                await self.bus.publish(
                    RuntimeStopped(duration_ms=(time.perf_counter() - begin) * 1000)
                )
        await self.bus.join()
        await self._leaks.join()
        self._started = False
        if self._event_logger is not None:
            self._event_logger.detach()

    # -- watching -----------------------------------------------------------------------------

    @property
    def watching(self) -> bool:
        """Whether file changes reload plugins now."""
        return self._watcher.running

    async def watch(
        self,
        enabled: bool = True,
        *,
        debounce_ms: float | None = None,
        delete_window_ms: float | None = None,
    ) -> None:
        """Switch watching on or off while running, optionally with new windows.

        Switching off returns only when no watcher thread and no reload is running. Switching
        on (or off) twice is harmless.
        """
        update: dict[str, Any] = {"watch": enabled}
        if debounce_ms is not None:
            update["debounce_ms"] = debounce_ms
        if delete_window_ms is not None:
            update["delete_window_ms"] = delete_window_ms
        self.settings = Settings.model_validate({**self.settings.model_dump(), **update})
        self._debouncer.configure(
            write_window_ms=self.settings.debounce_ms,
            delete_window_ms=self.settings.delete_window_ms,
        )
        with use_source(self.id):
            if enabled and self._started:
                await self._start_watching()
            elif not enabled:
                await self._stop_watching("switched off")
                await self._planner.idle()

    async def _files_settled(self) -> None:
        """Wait (boundedly) until no changed file waits to settle, then let its request in."""
        limit = self.settings.max_wait_windows * self.settings.debounce_ms / 1000
        if await self._debouncer.quiet(limit):
            await asyncio.sleep(0)  # the settled files' events reach the reloader and planner

    def _interesting(self, path: Path) -> bool:
        return path.suffix == ".py" or path == self.settings.config_file

    async def _start_watching(self) -> None:
        known = [p for d in self.settings.plugin_dirs for p in Path(d).resolve().rglob("*.py")]
        if self.settings.config_file is not None:
            known.append(self.settings.config_file)
        self._debouncer.remember(known)
        self._debouncer.attach()
        await self._watcher.start()
        self._debouncer.configure_closed(self._watcher.reports_closed)

    async def _stop_watching(self, reason: str) -> None:
        await self._watcher.stop(reason)
        self._debouncer.detach()
        await self.bus.join()

    # -- one plugin by hand ---------------------------------------------------------------------

    async def load(self, path: str | Path) -> str | None:
        """Load and start the plugin at ``path`` (a module file or package directory).

        Returns the plugin's name, or None when executing the source found no plugin class
        in it (a helper).

        Raises:
            PluginError: when ``path`` is no plugin source at all (not a ``.py`` module or
                package, or a module that never mentions a Plugin base).
        """
        source = source_for(Path(path))
        if source is None:
            raise PluginError(
                Path(path).stem,
                "is not a plugin source: give a .py module or a package directory that defines "
                "a Plugin subclass",
                path=path,
            )
        with use_source(self.id):
            async with self._lock:
                existing = self._by_source(source)
                if existing is not None and existing.state not in (S.FAILED, S.UNLOADED):
                    return existing.name
                rec = existing or await self._discovered(source)
                await self._load(rec)
                await self._start_ready()
                return rec.name if rec.name in self._records else None

    async def unload(self, name: str) -> None:
        """Stop plugin ``name`` (active dependents first: they become blocked) and unload it."""
        with use_source(self.id):
            async with self._lock:
                await self._unload(self._get(name))

    async def disable(self, name: str) -> None:
        """Stop plugin ``name`` (dependents first) and keep it stopped until `enable`."""
        with use_source(self.id):
            async with self._lock:
                rec = self._get(name)
                rec.enabled = False
                await self._stop_dependents({name}, f"dependency {name} was disabled")
                if rec.state is S.ACTIVE:
                    await self._stop(rec, S.LOADED, "disabled")

    async def enable(self, name: str) -> None:
        """Start plugin ``name`` again (and whatever was blocked on it)."""
        with use_source(self.id):
            async with self._lock:
                rec = self._get(name)
                rec.enabled = True
                await self._start_ready()

    async def reload(self, name: str) -> Event | None:
        """Reload plugin ``name`` and its active dependents as one transaction.

        The same transaction a file change triggers: it publishes ``hotbus.reload.requested``
        and returns the outcome, a `ReloadCommitted`, `ReloadRejected` or `ReloadRolledBack`.
        """
        self._get(name)
        if not self._started:
            raise PluginError(name, "cannot reload before the runtime has started")
        with use_source(self.id):
            request = ReloadRequested(
                plugin=name, action=ReloadAction.RELOAD, reason=ReloadReason.MANUAL
            )
            outcome = self._planner.expect(request)
            await self.bus.publish(request)
        result: Event | None = await outcome
        return result

    # -- internals: records and transitions --------------------------------------------------------

    async def _unload(self, rec: _Record) -> None:
        await self._stop_dependents({rec.name}, f"dependency {rec.name} was unloaded")
        old = [rec.loaded] if rec.loaded is not None else []
        if rec.state is S.ACTIVE:
            await self._stop(rec, S.UNLOADED, "unloaded")
        else:
            await self._transition(rec, S.UNLOADED, "unloaded")
        self._forget(rec)
        self._watch_for_leaks(old)

    def _config_for(self, name: str, loaded: Loaded) -> BaseModel | None:
        """Validate plugin ``name``'s config section against ``loaded``'s model."""
        return validate_plugin_config(
            name,
            loaded.plugin_class.config_model,
            self.settings.plugins.get(name),
            path=self.settings.config_file,
        )

    def _watch_for_leaks(self, old: list[Loaded]) -> None:
        if self.settings.leak_check and old:
            self._leaks.watch(old)

    def _get(self, name: str) -> _Record:
        rec = self._records.get(name)
        if rec is None:
            raise UnknownPluginError(name, list(self._records))
        return rec

    def _by_source(self, source: PluginSource) -> _Record | None:
        for rec in self._records.values():
            if rec.source.key == source.key:
                return rec
        return None

    def _order(self) -> list[str]:
        return topological_order({n: r.requires for n, r in self._records.items()})

    def _forget(self, rec: _Record) -> None:
        self._drop_generation(rec)
        rec.instance = rec.ctx = None
        if self._records.get(rec.name) is rec:
            del self._records[rec.name]

    async def _transition(
        self, rec: _Record, target: PluginState, reason: str = "", version: str | None = None
    ) -> None:
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

    async def _fail(
        self, rec: _Record, phase: Phase, error: BaseException, *, state: bool = True
    ) -> None:
        info = ErrorInfo.from_exception(error, file=rec.source.main_file)
        if state:
            rec.error = info
            await self._transition(rec, S.FAILED, f"{phase} failed: {info.type}: {info.message}")
        await self.bus.publish(
            PluginFailed(plugin=rec.name, phase=phase, version=rec.version, error=info)
        )

    async def _discovered(self, source: PluginSource) -> _Record:
        name = source.name
        if name in self._records:  # two sources, one name so far: keep both visible
            name = f"{name}@{len(self._records)}"
        rec = _Record(name=name, source=source)
        self._records[name] = rec
        await self.bus.publish(
            PluginDiscovered(
                plugin=source.name,
                kind=source.kind,
                path=source.path,
                entry_point=source.entry_point.value if source.entry_point else None,
            )
        )
        await self._transition(rec, S.DISCOVERED, source.describe())
        return rec

    # -- internals: loading ----------------------------------------------------------------------

    async def _load(self, rec: _Record) -> None:
        """discovered/failed/loaded -> loading -> loaded (or failed, or gone if a helper)."""
        await self._transition(rec, S.LOADING, rec.source.describe())
        rec.error = None
        try:
            loaded = load(rec.source)
        except LoadError as error:
            rec.loaded = None
            rec.extra_files = files_in_traceback(error.error, self.settings.plugin_dirs)
            await self._fail(rec, error.phase, error.error)
            return
        if loaded is None:  # a helper after all
            rec.loaded = None
            await self._transition(rec, S.UNLOADED, "defines no plugin class (a helper module)")
            self._forget(rec)
            return
        rec.loaded = loaded
        try:
            manifest = self._validate(rec, loaded)
        except ManifestError as error:
            await self._fail(rec, Phase.VALIDATE, error)
            self._drop_generation(rec)
            return
        self._rename(rec, manifest.name)
        rec.manifest = manifest
        rec.requires = [r.name for r in manifest.requires]
        try:
            rec.config = self._config_for(rec.name, loaded)
        except HotbusError as error:
            await self._fail(rec, Phase.CONFIG, error)
            self._drop_generation(rec)
            return
        await self._transition(rec, S.LOADED, "loaded")

    def _drop_generation(self, rec: _Record) -> None:
        if rec.loaded is not None and rec.loaded.generation is not None:
            purge(rec.loaded.generation)
        rec.loaded = None

    def _rename(self, rec: _Record, name: str) -> None:
        if rec.name == name:
            return
        if self._records.get(rec.name) is rec:
            del self._records[rec.name]
        rec.name = name
        rec.gate.plugin = name
        self._records[name] = rec

    def _validate(self, rec: _Record, loaded: Loaded) -> PluginManifest:
        def taken_by(name: str) -> PluginSource | None:
            other = self._records.get(name)
            return other.source if other is not None and other is not rec else None

        return validate_plugin_class(loaded.plugin_class, rec.source, taken_by)

    # -- internals: starting and stopping -------------------------------------------------------

    def _blocker(self, rec: _Record, cycles: dict[str, list[str]], *, staged: bool = False) -> str:
        """Why ``rec`` cannot start now, or ``""`` if it can.

        With ``staged`` (`check`), dependencies only need to have loaded, not to be active.
        """
        if rec.name in cycles:
            return "dependency cycle " + " -> ".join(cycles[rec.name])
        assert rec.manifest is not None
        for requirement in rec.manifest.requires:
            dep = self._records.get(requirement.name)
            if dep is None:
                return f"missing dependency {requirement}"
            if dep.state is S.FAILED or dep.manifest is None:
                return f"dependency {dep.name} failed"
            if staged and dep.state is S.BLOCKED:
                return f"dependency {dep.name} is blocked"
            if not staged and dep.state is not S.ACTIVE:
                state = "disabled" if not dep.enabled else str(dep.state)
                return f"dependency {dep.name} is {state}"
            assert dep.manifest is not None
            if not requirement.satisfied_by(dep.manifest.version):
                return f"needs {requirement}, found {dep.name} {dep.manifest.version}"
        return ""

    async def _start_ready(self) -> None:
        """Start every loaded or blocked plugin whose dependencies are all active."""
        progress = True
        while progress:
            progress = False
            graph = {n: r.requires for n, r in self._records.items() if r.manifest is not None}
            cycles = {m: cycle for cycle in find_cycles(graph) for m in cycle}
            for name in topological_order(graph):
                rec = self._records.get(name)
                if rec is None or rec.state not in (S.LOADED, S.BLOCKED) or not rec.enabled:
                    continue
                reason = self._blocker(rec, cycles)
                if reason:
                    if rec.state is not S.BLOCKED:
                        await self._transition(rec, S.BLOCKED, reason)
                    rec.reason = reason
                    continue
                progress = await self._start(rec) or progress

    async def _start(self, rec: _Record) -> bool:
        """loaded/blocked -> starting -> active (or failed). Returns whether it is active."""
        assert rec.loaded is not None
        await self._transition(rec, S.STARTING, "starting")
        try:
            await self._bring_up(rec, rec.loaded, rec.config, None)
        except StepFailed as failure:
            await self._fail(rec, failure.phase, failure.error)
            return False
        await self._transition(rec, S.ACTIVE, "started")
        return True

    async def _stop(self, rec: _Record, target: PluginState, reason: str) -> None:
        """active -> stopping -> ``target``; the runtime cleans up whatever teardown does."""
        await self._transition(rec, S.STOPPING, reason)
        error = await self._bring_down(rec)
        if error is not None:
            await self._fail(rec, Phase.TEARDOWN, error, state=False)
        await self._transition(rec, target, reason)

    async def _run_hook(self, rec: _Record, hook: str, call: Awaitable[Any], timeout: float) -> Any:
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

    async def _bring_up(
        self,
        rec: _Record,
        loaded: Loaded,
        config: BaseModel | None,
        handoff: Handoff | None,
    ) -> None:
        """Create an instance of ``loaded``, set it up, hand it the state, subscribe it.

        Raises:
            StepFailed: with the phase; whatever the instance acquired is released first.
        """
        ctx = Context(rec.name, self.bus, config, self.plugin, gate=rec.gate)
        phase = Phase.SETUP
        timeout = self.settings.setup_timeout_s
        try:
            instance = loaded.plugin_class(ctx)
            await self._run_hook(rec, "setup", instance.setup(), timeout)
            if handoff is not None:
                phase = Phase.HANDOFF
                await self._import_state(rec, instance, handoff)
            phase = Phase.ENABLE
            ctx._subscribe_markers(instance)
        except (Exception, SystemExit) as error:
            await ctx._close(self.settings.teardown_timeout_s)
            raise StepFailed(phase, error) from error
        rec.instance, rec.ctx = instance, ctx

    async def _bring_down(self, rec: _Record) -> BaseException | None:
        """Tear the running instance down; the runtime releases what it acquired regardless.

        Returns the teardown's error, if any (problems releasing are published directly).
        """
        instance, ctx = rec.instance, rec.ctx
        assert instance is not None
        assert ctx is not None
        timeout = self.settings.teardown_timeout_s
        failure: BaseException | None = None
        try:
            await self._run_hook(rec, "teardown", instance.teardown(), timeout)
        except (Exception, SystemExit) as error:
            failure = error
        for problem in await ctx._close(timeout):
            await self.bus.publish(
                PluginFailed(
                    plugin=rec.name, phase=Phase.TEARDOWN, version=rec.version, error=problem
                )
            )
        rec.instance = rec.ctx = None
        return failure

    async def _export_state(self, rec: _Record) -> Handoff | None:
        """Ask the running instance for its state (raises on failure)."""
        instance = rec.instance
        assert instance is not None
        state = await self._run_hook(
            rec, "export_state", instance.export_state(), self.settings.setup_timeout_s
        )
        return pack(rec.name, state, rec.source.main_file)

    async def _import_state(self, rec: _Record, instance: Plugin, handoff: Handoff) -> None:
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
        await self._run_hook(
            rec, "import_state", instance.import_state(state), self.settings.setup_timeout_s
        )

    async def _stop_dependents(self, names: set[str], reason: str) -> None:
        """Stop the active plugins depending on ``names`` (reverse order); they become blocked."""
        graph = {n: r.requires for n, r in self._records.items()}
        closure = dependents_closure(graph, names)
        for name in reversed(topological_order(graph)):
            rec = self._records[name]
            if name in closure and rec.state is S.ACTIVE:
                await self._stop(rec, S.BLOCKED, reason)


from hotbus.runtime._reload.reloader import Reloader  # noqa: E402
from hotbus.runtime._reload.scheduler import Planner  # noqa: E402 - the planner and reloader drive a Runtime
