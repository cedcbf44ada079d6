"""The `Runtime`: discovers, loads, starts and stops plugins, publishing every step.

It wires the rooms together: the lifecycle engine (`_engine`) moves plugins through their
states, and the reload pipeline (`_reload`: watcher, debouncer, reloader, scheduler,
transaction, leak check) drives the engine when files change.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, final

from hotbus.bus import Bus
from hotbus.runtime._config.settings import load_settings, replace_settings
from hotbus.runtime._engine.engine import Engine
from hotbus.runtime._eventlog import EventLogger
from hotbus.runtime._listener import Listener
from hotbus.runtime._loading.loader import discover, generation_of, source_for
from hotbus.runtime._monitor import LoopMonitor
from hotbus.runtime._persistence import Persistence
from hotbus.runtime._plugins.plugin import Plugin
from hotbus.runtime._reload.debouncer import Debouncer
from hotbus.runtime._reload.leaks import LeakChecker, freeze_startup_heap
from hotbus.runtime._reload.reloader import Reloader
from hotbus.runtime._reload.scheduler import Scheduler
from hotbus.runtime._reload.watcher import Watcher
from hotbus.schemas import (
    Event,
    PluginError,
    PluginState,
    PluginStatus,
    ReloadAction,
    ReloadReason,
    ReloadRequested,
    RuntimeStarted,
    RuntimeStopped,
    RuntimeStopping,
    Settings,
    WatcherFellBack,
    WatcherFound,
    WatcherLost,
    WatcherRestarted,
    use_source,
)

__all__ = ["Runtime"]

S = PluginState


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
        "_engine",
        "_event_logger",
        "_fixed",
        "_leaks",
        "_monitor",
        "_persistence",
        "_reloader",
        "_rescans",
        "_scheduler",
        "_started",
        "_watcher",
        "bus",
        "id",
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
        # What the host set itself: an edit of the config file does not change it.
        self._fixed = {name for name, value in overrides.items() if value is not None}
        if plugin_dirs is not None:
            self._fixed.add("plugin_dirs")
        if settings is None:
            dirs = None if plugin_dirs is None else [Path(p) for p in plugin_dirs]
            settings = load_settings(config_file, plugin_dirs=dirs, **overrides)
        elif config_file is not None:
            raise PluginError(
                "*", "give either settings or a config_file: settings are already resolved"
            )
        elif plugin_dirs is not None or overrides:
            if plugin_dirs is not None:
                overrides["plugin_dirs"] = tuple(Path(p) for p in plugin_dirs)
            settings = replace_settings(settings, **overrides)
        #: The bus every event goes through; hosts publish their own events on it too.
        self.bus = bus if bus is not None else Bus()
        #: This runtime's id, stamped as ``source`` on the events it publishes.
        self.id = f"hotbus-{uuid.uuid4().hex[:8]}@{socket.gethostname()}:{os.getpid()}"
        self._engine = Engine(self.bus, settings)
        self._started = False
        self._event_logger = EventLogger(self.bus) if log_events else None
        self._leaks = LeakChecker(self.bus)
        self._debouncer = Debouncer(
            self.bus,
            write_window_ms=settings.debounce_ms,
            modified_window_ms=settings.modified_debounce_ms,
            delete_window_ms=settings.delete_window_ms,
            max_wait_windows=settings.max_wait_windows,
            interesting=self._interesting,
            written=self._stage_ahead,  # loaded while it settles
        )
        self._scheduler = Scheduler(
            self._engine, self.id, self._files_settled, self._leaks, self._debouncer.staged
        )
        self._reloader = Reloader(self._engine, fixed=self._fixed, configure=self._configure)
        self._watcher = Watcher(self.bus, settings.plugin_dirs, config_file=settings.config_file)
        # Whatever changed while the watcher could not see it settles like any save.
        self._rescans = (
            Listener(self.bus, WatcherRestarted, self._rescan),
            Listener(self.bus, WatcherFellBack, self._rescan),
            Listener(self.bus, WatcherFound, self._rescan_found),
            Listener(self.bus, WatcherLost, self._rescan_lost),
        )
        self._monitor = LoopMonitor(self.bus, lambda: self._engine.settings, self._owner_of)
        self._persistence = Persistence(self._engine)
        self._engine.keep_state = self._persistence.keep

    def __repr__(self) -> str:
        active = len(self._engine.records.in_state(S.ACTIVE))
        return f"<hotbus Runtime {self.id} plugins={len(self._engine.records)} active={active}>"

    @property
    def settings(self) -> Settings:
        """The settings in force (they change with `watch` and with the config file)."""
        return self._engine.settings

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
        records = self._engine.records
        return [records.get(name).status() for name in records.order()]

    def plugin(self, name: str) -> Plugin:
        """The running instance of plugin ``name``.

        Raises:
            UnknownPluginError: when no plugin of that name is active.
        """
        return self._engine.plugin(name)

    def files(self) -> dict[Path, list[str]]:
        """Every file a plugin owns, with its owners.

        A plugin owns its module or package, every helper module it imported, and while it is
        failed, the files named in its traceback: saving any of them reloads (or retries) it.
        """
        return self._engine.records.files()

    def owners(self, path: Path) -> list[str]:
        """The plugins that own ``path`` (see `files`); a package owns everything inside it."""
        return self._engine.records.owners(path)

    # -- whole-runtime lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Discover, load and start every plugin (idempotent)."""
        if self._started:
            return
        begin = time.perf_counter()
        if self.settings.leak_check:  # its collections then walk what came after start-up only
            freeze_startup_heap()
        self.bus.bind()
        if self._event_logger is not None:
            self._event_logger.attach()
        self._started = True
        engine = self._engine
        with use_source(self.id):
            self._monitor.start()
            async with engine.lock:
                await self._persistence.open()
                await self._load_all()
                await engine.start_ready()
                self._scheduler.attach()
                self._reloader.attach()
            self._persistence.start()
            if self.settings.watch:
                await self._start_watching()
            async with engine.lock:
                active = set(engine.records.in_state(S.ACTIVE))
                await self.bus.publish(
                    RuntimeStarted(
                        plugin_dirs=[Path(p).resolve() for p in self.settings.plugin_dirs],
                        plugins=[n for n in engine.records.order() if n in active],
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
        engine = self._engine
        with use_source(self.id):
            async with engine.lock:
                try:
                    await self._load_all()
                    await engine.block_unmet(staged=True)
                    rows = self.status()
                finally:
                    for rec in engine.records:
                        engine.forget(rec)
                    engine.importer.close()
        return rows

    async def _load_all(self) -> None:
        sources = discover(self.settings.plugin_dirs, entry_points=self.settings.entry_points)
        records = [await self._engine.discover(source) for source in sources]
        await self._engine.load_all(records)

    async def stop(self, reason: str = "") -> None:
        """Stop every plugin in reverse dependency order; returns when all teardown is done.

        It returns in bounded time whatever plugins do: what a plugin's handlers have under
        way gets ``quiesce_timeout_s`` to finish (then it is cancelled, and abandoned if it
        ignores that), each teardown gets ``teardown_timeout_s`` (likewise), and events still
        queued for hung handlers are not waited for past ``quiesce_timeout_s``.
        """
        if not self._started:
            return
        begin = time.perf_counter()
        with use_source(self.id):
            # A reload under way (and the plugins it starts) finishes first: its hooks run as
            # tasks, and stopping must not begin between two of its steps.
            self._reloader.detach()
            self._scheduler.detach()
            await self._scheduler.idle()
            await self._persistence.pause()
            await self.bus.publish(RuntimeStopping(reason=reason))
            await self._stop_watching("runtime stopping")
            engine = self._engine
            async with engine.lock:
                for name in reversed(engine.records.order()):
                    rec = engine.records.get(name)
                    if rec.state is S.ACTIVE:  # what is under way ends first (bounded)
                        await engine.stop(
                            rec,
                            S.UNLOADED,
                            "runtime stopping",
                            before_down=self._persistence.take,
                        )
                    elif rec.state is not S.UNLOADED:
                        await engine.transition(rec, S.UNLOADED, "runtime stopping")
                    engine.forget(rec)
                await self._persistence.close()
                self._monitor.stop()
                engine.importer.close()
                await self.bus.publish(
                    RuntimeStopped(duration_ms=(time.perf_counter() - begin) * 1000)
                )
        await self._join_bus()
        await self._leaks.join()
        self._started = False
        if self._event_logger is not None:
            self._event_logger.detach()

    # -- watching -----------------------------------------------------------------------------

    @property
    def state_db(self) -> Path | None:
        """The state database plugins' state is saved in, or None when it is not saved."""
        return self._persistence.path

    async def save_state(self) -> None:
        """Write the state of every running plugin that changed, now (as a period does)."""
        with use_source(self.id):
            await self._persistence.save("manual")

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
        self._engine.settings = replace_settings(self.settings, **update)
        self._fixed.update(update)
        self._configure()
        with use_source(self.id):
            if enabled and self._started:
                await self._start_watching()
            elif not enabled:
                await self._stop_watching("switched off")
                await self._scheduler.idle()

    def _configure(self) -> None:
        """Hand the settings in force to the parts that keep a copy (the debouncer's windows)."""
        settings = self.settings
        self._debouncer.configure(
            write_window_ms=settings.debounce_ms,
            delete_window_ms=settings.delete_window_ms,
            modified_window_ms=settings.modified_debounce_ms,
            max_wait_windows=settings.max_wait_windows,
        )
        self._persistence.configure()

    @property
    def observer(self) -> str | None:
        """Which file observer watches: ``"native"``, ``"polling"``, or None when none does."""
        return self._watcher.kind or None

    async def idle(self) -> None:
        """Wait until no file waits to settle, no reload runs or waits (one held back by the
        throttle included), no event is queued, and no leak check runs."""
        while True:
            await self._files_settled()
            await self._reloader.idle()  # reloads held back by the throttle, when they end
            await self._scheduler.idle()
            await self.bus.join()
            await self._leaks.join()
            if (
                not self._scheduler.busy
                and self._debouncer.pending == 0
                and self._reloader.waiting == 0
            ):
                return
            await asyncio.sleep(0)

    async def _files_settled(self) -> None:
        """Wait (boundedly) until no changed file waits to settle, then let its request in.

        For ``max_wait_windows`` write windows, and at least until a tentative delete has
        settled (``delete_window_ms``, and a write window): a file renamed back to its
        plugin's name loads only once the plugin's old path has unloaded.
        """
        settings = self.settings
        limit = (
            max(
                settings.max_wait_windows * settings.debounce_ms,
                settings.delete_window_ms + settings.debounce_ms,
            )
            / 1000
        )
        if await self._debouncer.quiet(limit):
            await asyncio.sleep(0)  # the settled files' events reach the reloader and planner

    def _stage_ahead(self, path: Path) -> None:
        """A write to ``path`` completed a save: load the plugins that own it, or the new
        plugin it is, while it settles (their reload takes those loads if the files are
        unchanged by then)."""
        engine = self._engine
        importer, limit = engine.importer, engine.settings.import_timeout_s
        staged = False
        if engine.settings.stage_ahead:
            owners = engine.records.owners(path)
            for name in owners:
                rec = engine.records.get(name)
                if rec.state is not S.UNLOADED and rec.source.path is not None:
                    staged = importer.stage_ahead(rec.source, path, limit) or staged
            candidate = None if owners else self._reloader.source_path(path)
            source = source_for(candidate) if candidate is not None else None
            if source is not None:  # as the load its settling asks for will find it
                staged = importer.stage_ahead(source, path, limit)
        if not staged:
            importer.precompile(path)  # a helper of none, or one is staged ahead already

    def _interesting(self, path: Path) -> bool:
        return path.suffix == ".py" or path == self.settings.config_file

    async def _start_watching(self) -> None:
        # What was loaded is what the runtime acted on: those files are known by what was read
        # (and compared with the disk once watching runs, below); the others by their content.
        loaded: dict[Path, str] = {}
        for rec in self._engine.records:
            if rec.loaded is not None and rec.loaded.generation is not None:
                loaded.update(rec.loaded.generation.files)
        known = [p for d in self.settings.plugin_dirs for p in Path(d).resolve().rglob("*.py")]
        if self.settings.config_file is not None:
            known.append(self.settings.config_file)
        self._debouncer.remember(p for p in known if p not in loaded)
        self._debouncer.attach()
        for listener in self._rescans:
            listener.attach()
        await self._watcher.start()
        self._debouncer.configure_closed(self._watcher.reports_closed)
        self._debouncer.staged(loaded)  # a file changed since it was loaded settles now

    async def _stop_watching(self, reason: str) -> None:
        await self._watcher.stop(reason)
        for listener in self._rescans:
            listener.detach()
        self._debouncer.detach()
        await self.bus.flush()

    def _rescan(self, event: Event) -> None:
        """After the watcher restarted or fell back: settle what changed while it was blind."""
        self._settle_unseen(self._watcher.roots)

    def _settle_unseen(self, roots: Iterable[Path]) -> None:
        """Settle what changed under ``roots`` (and in the config file) that no event told."""
        self._debouncer.configure_closed(self._watcher.reports_closed)
        config = self.settings.config_file
        self._debouncer.rescan(roots, [config] if config is not None else [])

    def _rescan_found(self, event: WatcherFound) -> None:
        """A lost directory is back: settle what differs in it from what runs."""
        self._rescan_directory(event.path)

    def _rescan_lost(self, event: WatcherLost) -> None:
        """A deleted directory's files are gone: they settle as deleted (a move keeps them)."""
        if event.deleted:
            self._rescan_directory(event.path)

    def _rescan_directory(self, path: Path) -> None:
        plugin_dirs = {Path(d).resolve() for d in self.settings.plugin_dirs}
        self._settle_unseen([path] if path in plugin_dirs else [])

    async def _join_bus(self) -> None:
        """`Bus.join`, for at most ``quiesce_timeout_s``: a hung handler is not waited for."""
        joining = asyncio.ensure_future(self.bus.join())
        done, _ = await asyncio.wait((joining,), timeout=self.settings.quiesce_timeout_s)
        if done:
            joining.result()  # strict mode: a handler's exception
        else:
            joining.cancel()

    def _owner_of(self, module: str) -> str:
        """The plugin that plugin module ``module`` belongs to (called from other threads)."""
        generation = generation_of(module)
        if generation is None:
            return module.rsplit(".", 1)[-1]
        try:
            for rec in list(self._engine.records):
                loaded = rec.loaded
                if loaded is not None and loaded.generation is generation:
                    return rec.name
        except RuntimeError:  # pragma: no cover - the table changed while being read
            pass
        return generation.source or module.rsplit(".", 1)[-1]

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
        engine = self._engine
        with use_source(self.id):
            async with engine.lock:
                existing = engine.records.by_source(source)
                if existing is not None and existing.state not in (S.FAILED, S.UNLOADED):
                    return existing.name
                rec = existing or await engine.discover(source)
                await engine.load(rec)
                await engine.start_ready()
                return rec.name if engine.records.find(rec.name) is rec else None

    async def unload(self, name: str) -> None:
        """Stop plugin ``name`` (active dependents first: they become blocked) and unload it."""
        engine = self._engine
        with use_source(self.id):
            async with engine.lock:
                self._scheduler.retire(await engine.unload(engine.records.get(name)))

    async def disable(self, name: str) -> None:
        """Stop plugin ``name`` (dependents first) and keep it stopped until `enable`."""
        engine = self._engine
        with use_source(self.id):
            async with engine.lock:
                rec = engine.records.get(name)
                rec.enabled = False
                await engine.stop_dependents({name}, f"dependency {name} was disabled")
                if rec.state is S.ACTIVE:
                    await engine.stop(rec, S.LOADED, "disabled")

    async def enable(self, name: str) -> None:
        """Start plugin ``name`` again (and whatever was blocked on it)."""
        engine = self._engine
        with use_source(self.id):
            async with engine.lock:
                engine.records.get(name).enabled = True
                await engine.start_ready()

    async def reload(
        self, name: str, *, reason: ReloadReason = ReloadReason.MANUAL
    ) -> Event | None:
        """Reload plugin ``name`` and its active dependents as one transaction.

        The same transaction a file change triggers: it publishes ``hotbus.reload.requested``
        and returns the outcome, a `ReloadCommitted`, `ReloadRejected` or `ReloadRolledBack`;
        or `ReloadPatched` when its source changed only in function bodies (with ``hot_patch``
        on). Unchanged source restarts it. ``reason`` is what the request says (a fleet reload
        asks with ``remote``).
        """
        self._engine.records.get(name)
        if not self._started:
            raise PluginError(name, "cannot reload before the runtime has started")
        with use_source(self.id):
            request = ReloadRequested(plugin=name, action=ReloadAction.RELOAD, reason=reason)
            outcome = self._scheduler.expect(request)
            await self.bus.publish(request)
        result: Event | None = await outcome
        return result
