"""One reload transaction: stage every member, quiesce, swap with hand-off, commit or roll back.

The members (see `plan`) move together: if any member fails staging nothing is touched; if any
member fails during the swap every member goes back to its old version and state.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from hotbus.runtime._engine.dependencies import MISSING, unmet
from hotbus.runtime._engine.engine import Engine
from hotbus.runtime._engine.graph import cycles_by_member
from hotbus.runtime._engine.records import Record
from hotbus.runtime._loading.importer import Job
from hotbus.runtime._loading.interrupt import contain
from hotbus.runtime._loading.loader import Loaded, source_line
from hotbus.runtime._loading.paths import files_in_traceback
from hotbus.runtime._loading.phase_error import PhaseError
from hotbus.runtime._reload.plan import Member, joining, members, swap_order
from hotbus.schemas import (
    DependencyError,
    Event,
    HandlersCancelled,
    ManifestError,
    Phase,
    PhaseDurations,
    PluginFailed,
    PluginManifest,
    PluginState,
    ReloadCommitted,
    ReloadPlanned,
    ReloadRejected,
    ReloadRolledBack,
    VersionChange,
)

__all__ = ["Transaction"]

S = PluginState


@dataclass(eq=False, slots=True)
class Transaction:
    """Reload ``triggers`` (and their active dependents) in one transaction."""

    engine: Engine
    plan_id: str
    triggers: list[Record]
    members: list[Member] = field(default_factory=list)
    outcome: Event | None = None
    #: The versions a commit replaced: the planner checks they are collected, once the
    #: transaction itself (which holds them) is gone.
    retired: list[Loaded] = field(default_factory=list)

    async def run(self) -> Event | None:
        """Plan, stage, quiesce, swap, commit. Returns the outcome event."""
        engine = self.engine
        begin = time.perf_counter()
        self.members = members(engine.records, self.triggers)
        names = [m.name for m in self.members]
        await engine.bus.publish(
            ReloadPlanned(
                plan_id=self.plan_id,
                triggers=[r.name for r in self.triggers],
                members=names,
                joining=joining(engine.records, set(names)),
            )
        )
        try:
            await self._stage()
            self._check_dependencies()
        except PhaseError as rejected:
            await self._reject(rejected)
            return self.outcome
        staged_at = time.perf_counter()
        limit = engine.settings.quiesce_timeout_s
        running = [m.name for m in self.members if m.was_active]
        # Every member's mailbox holds new events from here; what each has under way finishes
        # on the old version (all at once: the limit is the transaction's, not each member's).
        paused = await asyncio.gather(*(engine.bus.pause(name, limit) for name in running))
        for name, cancelled in zip(running, paused, strict=True):
            if cancelled:
                await engine.bus.publish(
                    HandlersCancelled(plugin=name, cancelled=cancelled, timeout_s=limit)
                )
        quiesced_at = time.perf_counter()
        try:
            try:
                await self._swap()
            except PhaseError as failure:
                await self._roll_back(failure)
                return self.outcome
            swapped_at = time.perf_counter()
            old = [m.old_loaded for m in self.members if m.old_loaded is not None]
            for loaded in old:
                loaded.release()
            self.outcome = ReloadCommitted(
                plan_id=self.plan_id,
                changes=[
                    VersionChange(
                        plugin=m.name,
                        old_version=m.old_loaded.version if m.old_loaded else None,
                        new_version=m.rec.version,
                    )
                    for m in self.members
                ],
                durations=PhaseDurations(
                    stage=(staged_at - begin) * 1000,
                    quiesce=(quiesced_at - staged_at) * 1000,
                    swap=(swapped_at - quiesced_at) * 1000,
                    total=(swapped_at - begin) * 1000,
                ),
            )
            await engine.bus.publish(self.outcome)
            self.retired = old
            return self.outcome
        finally:
            for member in self.members:
                engine.bus.resume(member.name)

    # -- staging ----------------------------------------------------------------------------------

    def _member(self, failure: PhaseError) -> Member:
        """The member that ``failure`` names."""
        return next(m for m in self.members if m.name == failure.plugin)

    async def _stage(self) -> None:
        """Execute every member's source anew and validate it; touch nothing running.

        The members' module code runs on the loader thread (submitted at once), each under
        ``import_timeout_s``: the loop, and every plugin, serves meanwhile.

        Raises:
            PhaseError: naming the first member that failed, and the phase.
        """
        engine = self.engine
        jobs = engine.importer.submit(m.rec.source for m in self.members)
        try:
            await engine.importer.wait(jobs, engine.settings.import_timeout_s)
            for member, job in zip(self.members, jobs, strict=True):
                await self._stage_one(member, job)
        finally:
            engine.importer.discard(jobs)  # loads after a failing member: never taken

    async def _stage_one(self, member: Member, job: Job) -> None:
        """Take ``member``'s load from the loader, validate it and its config."""
        engine = self.engine
        rec = member.rec
        try:
            staged = await engine.importer.result(job, engine.settings.import_timeout_s)
        except PhaseError as error:
            raise PhaseError(error.phase, error.error, plugin=member.name) from None
        if staged is None:
            raise PhaseError(
                Phase.VALIDATE,
                ManifestError(
                    rec.name,
                    "no longer defines a Plugin subclass: restore the class, or delete the "
                    "file to unload the plugin",
                    path=rec.source.main_file,
                ),
                plugin=member.name,
            )
        member.staged = staged
        try:
            manifest = engine.validate(rec, staged)
            if rec.manifest is not None and manifest.name != rec.name:
                raise ManifestError(
                    rec.name,
                    f"the new version is named {manifest.name!r}: a reload keeps the name; "
                    f"rename it back to {rec.name!r}, or unload it and load it as a new plugin",
                    path=rec.source.main_file,
                    line=source_line(staged.plugin_class),
                )
        except BaseException as error:  # a ManifestError, or plugin code (class attributes)
            contain(error)
            raise PhaseError(Phase.VALIDATE, error, plugin=member.name) from None
        member.manifest = manifest
        try:
            member.config = engine.config_for(manifest.name, staged)
        except BaseException as error:  # a ConfigError, or the config model's own code
            contain(error)
            raise PhaseError(Phase.CONFIG, error, plugin=member.name) from None

    def _check_dependencies(self) -> None:
        """Reject an active member whose new version needs what is missing or forms a cycle.

        Raises:
            PhaseError: at the dependency phase, naming the member.
        """
        records = self.engine.records
        new = {m.name: m.manifest for m in self.members if m.manifest is not None}
        graph = records.graph()
        for name, manifest in new.items():
            graph[name] = [r.name for r in manifest.requires]
        cycles = cycles_by_member(graph)

        def available(name: str) -> PluginManifest | str:
            found = new.get(name)
            if found is None:
                dep = records.find(name)
                if dep is not None and dep.state is S.ACTIVE:
                    found = dep.manifest
            return found if found is not None else MISSING

        for member in self.members:
            if member.manifest is None or not member.was_active:
                continue
            problem = unmet(member.name, member.manifest, cycles, available)
            if problem is None:
                continue
            requirement = problem.requirement
            if requirement is None:
                message = (
                    f"the new version forms a dependency cycle {' -> '.join(problem.cycle)}: "
                    "remove one of the requirements"
                )
            elif problem.unavailable:
                message = (
                    f"the new version requires {requirement}, which is not running: "
                    f"load {requirement.name!r} first, or drop the requirement"
                )
            else:
                message = (
                    f"the new version requires {requirement}, but {requirement.name} is "
                    f"{problem.found_version}: update {requirement.name} or relax the "
                    "requirement"
                )
            raise PhaseError(
                Phase.DEPENDENCY,
                DependencyError(
                    member.name,
                    message,
                    cycle=problem.cycle,
                    missing=[requirement.name] if requirement is not None else (),
                    path=member.rec.source.main_file,
                ),
                plugin=member.name,
            )

    async def _reject(self, rejected: PhaseError) -> None:
        engine = self.engine
        for member in self.members:
            if member.staged is not None:
                member.staged.release()
            member.staged = None
        culprit = self._member(rejected)
        info = engine.describe(culprit.rec, rejected.error, culprit.config)
        culprit.rec.extra_files = files_in_traceback(rejected.error, engine.settings.plugin_dirs)
        if culprit.was_active:
            await engine.bus.publish(
                PluginFailed(
                    plugin=culprit.name,
                    phase=rejected.phase,
                    version=culprit.rec.version,
                    error=info,
                )
            )
        else:  # nothing was serving: the plugin is failed now, with the new error
            rec = culprit.rec
            await engine.transition(rec, S.LOADING, "retrying")
            rec.release()
            await engine.fail(rec, rejected.phase, rejected.error)
        self.outcome = ReloadRejected(
            plan_id=self.plan_id,
            plugin=culprit.name,
            phase=rejected.phase,
            error=info,
            members=[m.name for m in self.members],
        )
        await engine.bus.publish(self.outcome)

    # -- swapping ---------------------------------------------------------------------------------

    async def _swap(self) -> None:
        """Down in reverse order (export, teardown), up in order (setup, import).

        Raises:
            PhaseError: naming the member that failed, and the phase.
        """
        engine = self.engine
        for member in reversed(swap_order(self.members, new=False)):
            if not member.was_active:
                continue
            rec = member.rec
            try:
                member.handoff = await engine.export_state(rec)
            except PhaseError as error:
                raise PhaseError(Phase.EXPORT, error.error, plugin=member.name) from error.error
            await engine.transition(rec, S.STOPPING, "reloading")
            problem = await engine.bring_down(rec)
            await engine.transition(rec, S.LOADED, "reloading")
            if problem is not None:
                raise PhaseError(Phase.TEARDOWN, problem, plugin=member.name) from problem
        for member in swap_order(self.members, new=True):
            rec = member.rec
            assert member.staged is not None
            if rec.state is not S.LOADED:
                await engine.transition(rec, S.LOADING, "reloading")
            assert member.manifest is not None
            if not member.was_active and member.manifest.name != rec.name:
                # a new plugin, known by its file so far
                engine.records.rename(rec, member.manifest.name)
            rec.loaded, rec.manifest, rec.config = member.staged, member.manifest, member.config
            rec.requires = [r.name for r in member.manifest.requires]
            rec.error = None
            rec.extra_files = set()
            if rec.state is S.LOADING:
                await engine.transition(rec, S.LOADED, "loaded")
            if not rec.enabled:
                continue
            blocker = engine.blocker(rec, {})
            if blocker:
                await engine.transition(rec, S.BLOCKED, blocker)
                continue
            await engine.transition(rec, S.STARTING, "reloading")
            await engine.bring_up(rec, member.staged, member.config, member.handoff)
            member.up = True
            await engine.transition(rec, S.ACTIVE, "reloaded")

    async def _roll_back(self, failure: PhaseError) -> None:
        """Put every member back on its old version and state."""
        engine = self.engine
        culprit = self._member(failure)
        info = engine.describe(culprit.rec, failure.error, culprit.config)
        await engine.bus.publish(
            PluginFailed(
                plugin=culprit.name,
                phase=failure.phase,
                version=culprit.staged.version if culprit.staged else culprit.rec.version,
                error=info,
            )
        )
        for member in reversed(swap_order(self.members, new=True)):
            if member.up:
                await engine.transition(member.rec, S.STOPPING, "rolling back")
                await engine.bring_down(member.rec)
                await engine.transition(member.rec, S.LOADED, "rolling back")
                member.up = False
        restored: list[str] = []
        for member in swap_order(self.members, new=False):
            rec = member.rec
            if member.staged is not None:
                member.staged.release()
            if rec.state is S.STARTING:  # the culprit's new version failed to start
                await engine.transition(rec, S.FAILED, f"new version failed at {failure.phase}")
            rec.loaded, rec.manifest, rec.config = (
                member.old_loaded,
                member.old_manifest,
                member.old_config,
            )
            old = member.old_manifest
            rec.requires = [r.name for r in old.requires] if old is not None else []
            if not member.was_active:
                rec.error = info if member is culprit else member.old_error
                if rec.state is not S.FAILED and member.old_loaded is None:
                    if rec.state is not S.LOADING:
                        await engine.transition(rec, S.LOADING, "rolled back")
                    await engine.transition(rec, S.FAILED, "rolled back")
                elif rec.state is S.FAILED and member.old_loaded is not None:
                    await engine.transition(rec, S.LOADING, "rolled back")
                    await engine.transition(rec, S.LOADED, "rolled back")
                continue
            if rec.state is S.ACTIVE:  # never taken down: the failure came before its turn
                restored.append(rec.name)
                continue
            if rec.state is S.FAILED:
                await engine.transition(rec, S.LOADING, "rolling back")
                await engine.transition(rec, S.LOADED, "rolled back")
            assert member.old_loaded is not None
            await engine.transition(rec, S.STARTING, "rolling back")
            try:
                await engine.bring_up(rec, member.old_loaded, member.old_config, member.handoff)
            except PhaseError as again:
                await engine.fail(rec, again.phase, again.error)
                continue
            await engine.transition(rec, S.ACTIVE, "rolled back")
            restored.append(rec.name)
        culprit.rec.extra_files = files_in_traceback(failure.error, engine.settings.plugin_dirs)
        self.outcome = ReloadRolledBack(
            plan_id=self.plan_id,
            plugin=culprit.name,
            phase=failure.phase,
            error=info,
            members=restored,
        )
        await engine.bus.publish(self.outcome)
