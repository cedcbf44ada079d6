"""The lifecycle engine: moves plugins through their states, publishing every transition.

`Runtime` (whole-runtime start, stop, check and the host API), the scheduler, the reloader and
a reload transaction all drive plugins through this one engine, with its public methods: it
loads, validates, starts and stops plugins, runs their hooks under time limits, and hands their
state across versions.

Plugin code is contained here: module code runs on the `Importer`'s loader thread under
``import_timeout_s``; each hook runs as a task of its own under its limit, cancelled past it
and abandoned if it ignores the cancellation; and every exception of plugin code,
``BaseException`` included (``KeyboardInterrupt``, ``SystemExit``, a ``CancelledError`` the
runtime did not ask for), is that plugin's failure at that phase, never the runtime's.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, final

from hotbus.bus import Bus
from hotbus.runtime._config.settings import secret_values, validate_plugin_config
from hotbus.runtime._engine.dependencies import MISSING, unmet
from hotbus.runtime._engine.graph import cycles_by_member, topological_order
from hotbus.runtime._engine.hooks import call_hook
from hotbus.runtime._engine.lifecycle import check_transition
from hotbus.runtime._engine.records import Record, Records
from hotbus.runtime._loading.importer import Importer, Job
from hotbus.runtime._loading.interrupt import contain
from hotbus.runtime._loading.loader import Loaded, PluginSource, declared_name
from hotbus.runtime._loading.paths import files_in_traceback
from hotbus.runtime._loading.phase_error import PhaseError
from hotbus.runtime._loading.validation import validate_plugin_class
from hotbus.runtime._plugins.context import Context, Holdings
from hotbus.runtime._plugins.handoff import Handoff, pack, unpack
from hotbus.runtime._plugins.plugin import Plugin, subscribe_markers
from hotbus.schemas import (
    ErrorInfo,
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
#: How long a hook that ran past its limit gets to end once cancelled, before it is abandoned.
_GRACE_S: Final = 1.0
#: Each hook as `Plugin` defines it: it does nothing (and returns None), so a plugin that keeps
#: it has nothing to run.
_BASE_HOOKS: Final = {name: getattr(Plugin, name) for name in _TIMEOUT_SETTING}


def _does_nothing(hook: str, call: Callable[[], Any]) -> bool:
    """Whether ``call`` calls ``hook`` as `Plugin` defines it (a bound method, or a partial
    of one)."""
    base = _BASE_HOOKS.get(hook)
    method = call.func if isinstance(call, functools.partial) else call
    return base is not None and getattr(method, "__func__", None) is base


@final
class Engine:
    """Moves the plugins of `records` through their lifecycle, publishing on `bus`.

    Callers hold `lock` around every change, so that one change runs at a time.
    """

    __slots__ = (
        "abandoned",
        "bus",
        "imported",
        "importer",
        "keep_state",
        "lock",
        "records",
        "restored",
        "settings",
    )

    def __init__(self, bus: Bus, settings: Settings) -> None:
        self.bus = bus
        #: The settings in force (replaced, never mutated, when they change).
        self.settings = settings
        self.records = Records()
        self.lock = asyncio.Lock()
        #: Executes plugin module code on a loader thread, under ``import_timeout_s``.
        self.importer = Importer()
        #: Hooks that ignored cancellation past their limit, left running (named in errors).
        self.abandoned: set[asyncio.Task[Any]] = set()
        #: State saved by an earlier run, or taken as a plugin stopped while the runtime ran,
        #: by plugin: each plugin gets its own when it next starts, through the hand-off (and
        #: its migration) a reload uses.
        self.restored: dict[str, Handoff] = {}
        #: The state each plugin's running instance was given as it came up, by plugin, when
        #: it took all of it as it was (the same schema version, nothing left out): its state
        #: at that moment, which a save right after a reload writes without asking again
        #: (kept only while state is persisted).
        self.imported: dict[str, Handoff] = {}
        #: Takes the state of a plugin stopped while the runtime runs (disabled, unloaded, or
        #: stopped with a dependency), before its teardown (the runtime sets it).
        self.keep_state: Callable[[Record], Awaitable[None]] | None = None

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
        self,
        rec: Record,
        phase: Phase,
        error: BaseException,
        *,
        state: bool = True,
        plan_id: str | None = None,
    ) -> None:
        """Publish ``rec``'s failure at ``phase``; with ``state``, it becomes failed too.

        ``plan_id`` names the reload transaction whose outcome reports this failure too.
        """
        info = self.describe(rec, error)
        if state:
            rec.error = info
            await self.transition(rec, S.FAILED, f"{phase} failed: {info.type}: {info.message}")
        await self.bus.publish(
            PluginFailed(
                plugin=rec.name, phase=phase, version=rec.version, error=info, plan_id=plan_id
            )
        )

    def describe(self, rec: Record, error: BaseException, *configs: BaseModel | None) -> ErrorInfo:
        """``error`` of ``rec``'s plugin, located in its source, with its config's secrets (and
        those of ``configs``, a version being staged) masked."""
        secrets = [s for c in (rec.config, *configs) for s in secret_values(c)]
        return ErrorInfo.from_exception(error, file=rec.source.main_file).masked(secrets)

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

    async def load_all(self, records: Iterable[Record]) -> None:
        """`load` each of ``records``, their module code submitted to the loader at once."""
        records = list(records)
        jobs: list[Job] = []
        try:
            jobs = await self.importer.stage(
                [rec.source for rec in records], self.settings.import_timeout_s
            )
            for rec, job in zip(records, jobs, strict=True):
                await self.load(rec, job)
        finally:
            self.importer.discard(jobs)  # what an error or a cancellation left untaken

    async def load(self, rec: Record, job: Job | None = None) -> None:
        """discovered/failed/loaded -> loading -> loaded (or failed, or gone if a helper).

        The module code runs on the loader thread (``job``, if already submitted) under
        ``import_timeout_s``; the loop serves meanwhile.
        """
        await self.transition(rec, S.LOADING, rec.source.describe())
        rec.error = None
        if job is None:
            (job,) = self.importer.submit([rec.source])
        try:
            loaded = await self.importer.result(job, self.settings.import_timeout_s)
        except PhaseError as error:
            rec.loaded = None
            rec.extra_files = files_in_traceback(error.error, self.settings.plugin_dirs)
            self.name_unloaded(rec)
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
        except BaseException as error:  # a ManifestError, or plugin code (class attributes) raising
            contain(error)
            await self.fail(rec, Phase.VALIDATE, error)
            rec.release()
            return
        self.records.rename(rec, manifest.name)
        rec.manifest = manifest
        rec.requires = [r.name for r in manifest.requires]
        try:
            rec.config = self.config_for(rec.name, loaded)
        except BaseException as error:  # a ConfigError, or the config model's own code raising
            contain(error)
            await self.fail(rec, Phase.CONFIG, error)
            rec.release()
            return
        await self.transition(rec, S.LOADED, "loaded")

    def name_unloaded(self, rec: Record) -> None:
        """Give ``rec``, which never loaded, the name its source declares (if free), so that its
        failure is reported by the plugin's name rather than by its file's."""
        if rec.manifest is not None:
            return
        name = declared_name(rec.source)
        if name is not None and self.records.find(name) is None:
            self.records.rename(rec, name)

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
        """Start every loaded or blocked plugin whose dependencies are all active.

        Only the plugins waiting (loaded or blocked) are looked at, in dependency order, with
        the cycles through what they require: the cost is that of what waits, not of every
        plugin known.
        """
        records = self.records
        progress = True
        while progress:
            progress = False
            waiting = records.waiting()
            if not waiting:
                return
            cycles = records.cycles(waiting, loaded_only=True)
            for name in records.order_of(waiting, loaded_only=True):
                rec = records.find(name)
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

    async def stop(
        self,
        rec: Record,
        target: PluginState,
        reason: str,
        *,
        before_down: Callable[[Record], Awaitable[None]] | None = None,
    ) -> None:
        """active -> stopping -> ``target``; the runtime cleans up whatever teardown does.

        The delivery under way to the plugin finishes first (cancelled past the quiesce limit);
        what still waits in its mailbox is dropped with its subscriptions. ``before_down`` runs
        then, with nothing delivered to the plugin any more, before its teardown (the runtime
        takes its last state there); without one, `keep_state` does.
        """
        await self.transition(rec, S.STOPPING, reason)
        await self.bus.pause(rec.name, self.settings.quiesce_timeout_s)
        try:
            if before_down is None:
                before_down = self.keep_state
            if before_down is not None:
                await before_down(rec)
            error = await self.bring_down(rec)
        finally:
            self.bus.resume(rec.name)
        if error is not None:
            await self.fail(rec, Phase.TEARDOWN, error, state=False)
        await self.transition(rec, target, reason)

    async def stop_dependents(self, names: set[str], reason: str) -> None:
        """Stop the active plugins depending on ``names`` (reverse order); they become blocked."""
        closure = self.records.dependents(names)
        for name in reversed(self.records.order_of(closure)):
            rec = self.records.get(name)
            if rec.state is S.ACTIVE:
                await self.stop(rec, S.BLOCKED, reason)

    # -- hooks ------------------------------------------------------------------------------------

    async def run_hook(
        self, rec: Record, hook: str, phase: Phase, call: Callable[[], Any], timeout: float
    ) -> Any:
        """Run ``call()`` (a hook of ``rec``'s plugin) as a task of its own; its result.

        A hook the plugin kept as `Plugin` defines it does nothing: it is not run (None).
        Past ``timeout`` seconds the task is cancelled; a hook that ignores the cancellation
        for a short grace is abandoned (left running, remembered in `abandoned`) and named in
        the error, so that no hook can hold up the runtime.

        Raises:
            PhaseError: at ``phase``, for anything the hook raised (``BaseException``s included)
                or for running out of time, naming the setting to raise and where it waited.
            asyncio.CancelledError: only when the caller itself is cancelled (the hook's task
                is cancelled too).
        """
        if _does_nothing(hook, call):
            return None  # no task to run it in: nothing would run
        grace = min(_GRACE_S, timeout)
        outcome = await call_hook(
            call, name=f"hotbus:hook:{rec.name}:{hook}", timeout=timeout, grace=grace
        )
        if outcome.error is not None:
            raise PhaseError(phase, outcome.error, plugin=rec.name)
        if not outcome.timed_out:
            return outcome.value
        advice = (
            f"make it faster, start slow work with ctx.start_task(), or raise "
            f"{_TIMEOUT_SETTING[hook]}"
        )
        if outcome.abandoned:
            assert outcome.task is not None
            self.abandoned.add(outcome.task)
            outcome.task.add_done_callback(self.abandoned.discard)
            message = (
                f"{hook} did not finish within {timeout:g} s and ignored cancellation for "
                f"{grace:g} s: it is abandoned, left running as task "
                f"{outcome.task.get_name()!r} (never catch CancelledError without re-raising "
                f"it); {advice}"
            )
        else:
            message = f"{hook} did not finish within {timeout:g} s and was cancelled: {advice}"
        path = outcome.file or rec.source.main_file
        error = PluginError(rec.name, message, path=path, line=outcome.line)
        raise PhaseError(phase, error, plugin=rec.name)

    async def bring_up(
        self,
        rec: Record,
        loaded: Loaded,
        config: BaseModel | None,
        handoff: Handoff | None,
    ) -> None:
        """Create an instance of ``loaded``, set it up, hand it the state, subscribe it.

        Without a ``handoff``, a plugin that has state saved by an earlier run (`restored`)
        gets that, the first time it comes up, as a reload's new version would. If it does not
        import, the plugin comes up fresh instead, with `StateDiscarded` naming the error (the
        state store then keeps the saved data aside rather than overwriting it unnoticed).

        Raises:
            PhaseError: with the phase; whatever the instance acquired is released first.
        """
        saved = self.restored.pop(rec.name, None) if handoff is None else None
        if saved is None:
            await self._bring_up(rec, loaded, config, handoff)
            return
        try:
            await self._bring_up(rec, loaded, config, saved)
        except PhaseError as failure:
            if failure.phase is not Phase.HANDOFF:
                self.restored[rec.name] = saved  # for its next start
                raise
            await self._discard_restored(rec, loaded, saved, failure.error)
            await self._bring_up(rec, loaded, config, None)

    async def _discard_restored(
        self, rec: Record, loaded: Loaded, saved: Handoff, error: BaseException
    ) -> None:
        """The saved state of ``rec`` did not import: say so; the plugin comes up fresh."""
        info = self.describe(rec, error)
        model = loaded.plugin_class.state_model
        await self.bus.publish(
            StateDiscarded(
                plugin=rec.name,
                old_schema_version=saved.schema_version,
                new_schema_version=model.schema_version if model is not None else None,
                reason=(
                    f"the state saved by an earlier run does not import ({info.type}: "
                    f"{info.message}): it starts fresh, and the saved data is kept aside in "
                    "the state database (table discarded)"
                ),
            )
        )

    async def _bring_up(
        self,
        rec: Record,
        loaded: Loaded,
        config: BaseModel | None,
        handoff: Handoff | None,
    ) -> None:
        self.imported.pop(rec.name, None)
        holdings = Holdings()
        ctx = Context(rec.name, self.bus, config, self.plugin, holdings=holdings)
        timeout = self.settings.setup_timeout_s
        try:
            try:
                instance = loaded.plugin_class(ctx)
            except BaseException as error:  # the plugin's __init__, run here
                contain(error)
                raise PhaseError(Phase.SETUP, error, plugin=rec.name) from error
            await self.run_hook(rec, "setup", Phase.SETUP, instance.setup, timeout)
            if handoff is not None:
                await self.import_state(rec, instance, handoff)
            try:
                subscribe_markers(instance, ctx)
            except BaseException as error:
                contain(error)
                raise PhaseError(Phase.ENABLE, error, plugin=rec.name) from error
        except BaseException:
            await holdings.release(self.settings.teardown_timeout_s)
            raise
        rec.instance, rec.holdings = instance, holdings
        self.bus.redact(rec.name, secret_values(config))  # in its handlers' failures

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
            await self.run_hook(rec, "teardown", Phase.TEARDOWN, instance.teardown, timeout)
        except PhaseError as error:
            failure = error.error
        finally:
            rec.instance = rec.holdings = None
            problems = await holdings.release(timeout)
        secrets = secret_values(rec.config)
        for problem in problems:
            await self.bus.publish(
                PluginFailed(
                    plugin=rec.name,
                    phase=Phase.TEARDOWN,
                    version=rec.version,
                    error=problem.masked(secrets),
                )
            )
        return failure

    async def export_state(self, rec: Record) -> Handoff | None:
        """Ask the running instance for its state.

        Raises:
            PhaseError: at phase export, for whatever went wrong.
        """
        instance = rec.instance
        assert instance is not None
        state = await self.run_hook(
            rec, "export_state", Phase.EXPORT, instance.export_state, self.settings.setup_timeout_s
        )
        try:
            return pack(rec.name, state, rec.source.main_file)
        except BaseException as error:  # the state model's own code, run here
            contain(error)
            raise PhaseError(Phase.EXPORT, error, plugin=rec.name) from error

    async def import_state(self, rec: Record, instance: Plugin, handoff: Handoff) -> None:
        """Give ``instance`` the state of the previous version, migrating it if it is older.

        Keys of the same schema version that the new model does not declare are published as
        `StateMismatch` (their values are lost; the hand-off goes on with the rest).

        Raises:
            PhaseError: at phase handoff, for whatever went wrong.
        """
        try:
            unpacked = unpack(instance, handoff, rec.source.main_file)
        except BaseException as error:  # the state model's own code (validators, migrate)
            contain(error)
            raise PhaseError(Phase.HANDOFF, error, plugin=rec.name) from error
        if unpacked.mismatch is not None:  # values lost: said, and the reload goes on
            await self.bus.publish(unpacked.mismatch)
        state = unpacked.state
        if state is None:
            model = type(instance).state_model
            await self.bus.publish(
                StateDiscarded(
                    plugin=rec.name,
                    old_schema_version=handoff.schema_version,
                    new_schema_version=model.schema_version if model is not None else None,
                    reason=unpacked.reason,
                )
            )
            return
        await self.run_hook(
            rec,
            "import_state",
            Phase.HANDOFF,
            functools.partial(instance.import_state, state),
            self.settings.setup_timeout_s,
        )
        if (
            self.settings.persist_state
            and unpacked.mismatch is None
            and state.schema_version == handoff.schema_version
        ):
            self.imported[rec.name] = handoff
