"""One reload transaction: stage every member, partition, quiesce, swap with hand-off, commit.

Staging executes every member's new source without touching anything running. The plan is then
partitioned: a member that failed staging (or needs what is missing) is rejected and keeps its
running version, if it has one; every other member goes ahead and commits on its own, against
that running version (a member that depends on a failed member without one is blocked until it
runs: the rejection names it as waiting). A member that neither changed nor requires a member
that moves stays untouched. A running member that keeps its version but depends on a member that
moves is restarted on its own code (*rebound*), so that it never holds a retired version.

During the swap, the running versions come down: if one's ``export_state`` or ``teardown``
fails, that is reported and the runtime releases what it held regardless (its state is
discarded); the old version's cooperation is never required. If a new version fails to come
up, every moving member goes back to its old version and state; the failing version is
remembered (by its content and its dependencies' versions), so that the transaction runs again
without it and the other members' changes are not lost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from hotbus.runtime._engine.dependencies import MISSING, unmet
from hotbus.runtime._engine.engine import Engine
from hotbus.runtime._engine.graph import cycles_by_member, reachable
from hotbus.runtime._engine.records import Record
from hotbus.runtime._loading.importer import Job
from hotbus.runtime._loading.interrupt import contain
from hotbus.runtime._loading.loader import Loaded, source_line
from hotbus.runtime._loading.paths import files_in_traceback
from hotbus.runtime._loading.phase_error import PhaseError
from hotbus.runtime._reload.patch import Patch
from hotbus.runtime._reload.patch import apply as apply_patch
from hotbus.runtime._reload.patch import plan as plan_patch
from hotbus.runtime._reload.plan import Member, joining, members, swap_order
from hotbus.schemas import (
    DependencyError,
    ErrorInfo,
    Event,
    HandlersCancelled,
    ManifestError,
    Phase,
    PhaseDurations,
    PluginFailed,
    PluginManifest,
    PluginState,
    ReloadCommitted,
    ReloadPatched,
    ReloadPlanned,
    ReloadRejected,
    ReloadRolledBack,
    StateDiscarded,
    VersionChange,
)
from pydantic import BaseModel

__all__ = ["FailedVersions", "Transaction"]

S = PluginState
#: A version in its context: plugin, its version, and the versions of what it requires.
_Key = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass(eq=False, slots=True)
class FailedVersions:
    """New versions that failed to come up, against the versions of their dependencies.

    A transaction that rolled back runs again without them; a save of the same bytes (or the
    same dependencies) fails the same way without another swap. Forgotten for a plugin when a
    version of it commits, or when it is reloaded by hand.
    """

    failures: dict[_Key, PhaseError] = field(default_factory=dict)
    #: Plugins whose patch failed to apply, and why: their change takes the full transaction.
    unpatchable: dict[str, str] = field(default_factory=dict)

    def forget(self, plugin: str) -> None:
        """Drop what is remembered of ``plugin``."""
        for key in [k for k in self.failures if k[0] == plugin]:
            del self.failures[key]
        self.unpatchable.pop(plugin, None)


@dataclass(eq=False, slots=True)
class Transaction:
    """Reload ``triggers`` (and their active dependents) in one transaction."""

    engine: Engine
    plan_id: str
    triggers: list[Record]
    failed_versions: FailedVersions = field(default_factory=FailedVersions)
    members: list[Member] = field(default_factory=list)
    #: The members that move: those going ahead, and those rebound.
    moving: list[Member] = field(default_factory=list)
    #: The outcome of the moving part (commit or roll back), else the first rejection.
    outcome: Event | None = None
    #: Each member's outcome: the rejection that names or holds it, or the commit/roll back.
    outcomes: dict[str, Event] = field(default_factory=dict)
    #: The versions a commit replaced: the planner checks they are collected, once the
    #: transaction itself (which holds them) is gone.
    retired: list[Loaded] = field(default_factory=list)
    #: What staging read, path to content hash.
    seen: dict[Path, str] = field(default_factory=dict)
    #: A new version failed to come up and was remembered: run the plan again without it.
    retry: bool = False
    #: Members rejected with a remembered failure (and those held by them).
    recalled: set[str] = field(default_factory=set)
    #: Members going ahead that wait for a failed member without a running version (they are
    #: blocked until it runs), by that member.
    held: dict[str, str] = field(default_factory=dict)

    def outcome_for(self, plugin: str) -> Event | None:
        """The outcome for a request naming ``plugin``."""
        return self.outcomes.get(plugin, self.outcome)

    async def run(self) -> Event | None:
        """Plan, stage, partition, quiesce, swap, commit. Returns the outcome event."""
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
        await self._stage()
        self._partition()
        await self._reject()
        await self._patch()
        if not self.moving:
            return self.outcome
        staged_at = time.perf_counter()
        limit = engine.settings.quiesce_timeout_s
        running = [m.name for m in self.moving if m.was_active]
        # Every member's mailbox holds new events from here; what each has under way finishes
        # on the old version (all at once: the limit is the transaction's, not each member's).
        if len(running) == 1:  # awaited in place: gather would wrap it in a task of its own
            paused, again = [await engine.bus.pause(running[0], limit)], [0]
        else:
            paused = await asyncio.gather(*(engine.bus.pause(name, limit) for name in running))
            # A request between two members, from one being drained, is served even by a
            # member already holding its events (else the drain would wait for itself): those
            # finish too.
            again = await asyncio.gather(*(engine.bus.pause(name, limit) for name in running))
        for name, cancelled, later in zip(running, paused, again, strict=True):
            if cancelled + later:
                await engine.bus.publish(
                    HandlersCancelled(plugin=name, cancelled=cancelled + later, timeout_s=limit)
                )
        quiesced_at = time.perf_counter()
        try:
            try:
                await self._swap()
            except PhaseError as failure:
                await self._roll_back(failure)
                return self.outcome
            swapped_at = time.perf_counter()
            old = [m.old_loaded for m in self.moving if m.old_loaded is not None and not m.rebound]
            for loaded in old:
                loaded.release()
            for member in self.moving:
                if not member.rebound:
                    self.failed_versions.forget(member.name)
            self.outcome = ReloadCommitted(
                plan_id=self.plan_id,
                changes=[
                    VersionChange(
                        plugin=m.name,
                        old_version=m.old_loaded.version if m.old_loaded else None,
                        new_version=m.rec.version,
                        not_patched=m.not_patched,
                    )
                    for m in self.moving
                ],
                durations=PhaseDurations(
                    stage=(staged_at - begin) * 1000,
                    quiesce=(quiesced_at - staged_at) * 1000,
                    swap=(swapped_at - quiesced_at) * 1000,
                    total=(swapped_at - begin) * 1000,
                ),
            )
            for member in self.moving:
                self.outcomes[member.name] = self.outcome
            await engine.bus.publish(self.outcome)
            # A rebound member's code still holds what it imported of the versions retired
            # here, until it reloads itself: those are not expected to be collected yet.
            self.retired = [] if any(m.rebound for m in self.moving) else old
            return self.outcome
        finally:
            for member in self.moving:
                engine.bus.resume(member.name)

    # -- staging ----------------------------------------------------------------------------------

    async def _stage(self) -> None:
        """Execute every member's source anew and validate it; touch nothing running.

        The members' module code runs on the loader thread (submitted at once; a load staged
        ahead while the save settled is taken if its files are unchanged), each under
        ``import_timeout_s``: the loop, and every plugin, serves meanwhile. A member that fails
        keeps its failure (`Member.failure`); the others are staged regardless.
        """
        engine = self.engine
        jobs: list[Job] = []
        try:
            jobs = await engine.importer.stage(
                [m.rec.source for m in self.members], engine.settings.import_timeout_s
            )
            for member, job in zip(self.members, jobs, strict=True):
                try:
                    await self._stage_one(member, job)
                except PhaseError as failure:
                    member.failure = failure
                if job.done.is_set() and not job.interrupted:
                    self.seen.update(job.seen)
        finally:
            engine.importer.discard(jobs)  # what a cancellation left untaken

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

    # -- partitioning -----------------------------------------------------------------------------

    def _partition(self) -> None:
        """Split the members into failed, rebound and going (see the module's docstring).

        Repeated until nothing more fails: a version that failed before fails again, and a
        member going ahead may need what turned out not to move.
        """
        while self._check_dependencies() or self._recall():
            pass
        self._rebind()
        self._name_waiting()

    def _name_waiting(self) -> None:
        """Name the members going ahead that will wait for a failed member: they depend on
        it, in the plan, and it has no running version to depend on (they are blocked)."""
        by_name = {m.name: m for m in self.members}
        self.held = {}
        for member in self.members:  # dependency order: what it requires came first
            if member.failure is not None:
                continue
            for name in _requires(member):
                dep = by_name.get(name)
                if dep is not None and dep.failure is not None and not dep.was_active:
                    self.held[member.name] = dep.name
                    break
                if name in self.held:
                    self.held[member.name] = self.held[name]
                    break

    def _going(self) -> list[Member]:
        return [m for m in self.members if m.failure is None]

    def _check_dependencies(self) -> bool:
        """Fail each active member going ahead whose new version needs what is missing, or
        forms a cycle, against what will run. Returns whether any failed."""
        records = self.engine.records
        going = self._going()
        new = {m.name: m.manifest for m in going if m.manifest is not None}

        def requires(name: str) -> list[str] | None:
            manifest = new.get(name)
            if manifest is not None:
                return [r.name for r in manifest.requires]
            rec = records.find(name)
            return rec.requires if rec is not None else None

        # The cycles through what the members checked require: only that part of the graph.
        checked = [m.name for m in going if m.manifest is not None and m.was_active]
        cycles = cycles_by_member(reachable(requires, checked))

        def available(name: str) -> PluginManifest | str:
            found = new.get(name)
            if found is None:
                dep = records.find(name)
                if dep is not None and dep.state is S.ACTIVE:
                    found = dep.manifest  # running, and staying on its version
            return found if found is not None else MISSING

        failed = False
        for member in going:
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
                    f"load {requirement.name!r} first (it reloads then), or drop the "
                    "requirement"
                )
            else:
                message = (
                    f"the new version requires {requirement}, but {requirement.name} is "
                    f"{problem.found_version}: update {requirement.name} or relax the "
                    "requirement"
                )
            member.failure = PhaseError(
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
            failed = True
        return failed

    def _key(self, member: Member, ahead: dict[str, Member] | None = None) -> _Key | None:
        """``member``'s staged version in the context of what it requires, once it moves
        (``ahead``: the members going ahead, by name, when the caller has them)."""
        if member.staged is None or member.manifest is None:
            return None
        by_name = ahead if ahead is not None else {m.name: m for m in self._going()}
        versions: dict[str, str] = {}
        todo = [r.name for r in member.manifest.requires]
        while todo:
            name = todo.pop()
            if name in versions:
                continue
            going = by_name.get(name)
            if going is not None and going.staged is not None and going.manifest is not None:
                versions[name] = going.staged.version
                todo.extend(r.name for r in going.manifest.requires)
                continue
            dep = self.engine.records.find(name)
            versions[name] = (dep.version or "") if dep is not None else ""
            if dep is not None:
                todo.extend(dep.requires)
        return member.name, member.staged.version, tuple(sorted(versions.items()))

    def _recall(self) -> bool:
        """Fail each member going ahead with a version that failed to come up before, in the
        same context. Returns whether any failed."""
        remembered = {key[0] for key in self.failed_versions.failures}
        going = {m.name: m for m in self._going()}
        recalled = False
        for member in list(going.values()):
            if member.name not in remembered:
                continue
            key = self._key(member, going)
            known = self.failed_versions.failures.get(key) if key is not None else None
            if known is not None:
                member.failure = known
                member.recalled = True
                recalled = True
        return recalled

    def _rebind(self) -> None:
        """Choose the members that move, in dependency order.

        A member going ahead moves if it was asked for, is new, changed (its source or its
        config), or requires a member that moves; otherwise it stays untouched (a dependent of
        a trigger that failed). A failed member that runs and requires a member that moves is
        restarted on its own code (rebound); other failed members stay untouched.
        """
        triggers = {rec.name for rec in self.triggers}
        moving: set[str] = set()
        for member in self.members:
            needs = any(name in moving for name in _requires(member))
            old, staged = member.old_loaded, member.staged
            if member.failure is None:
                assert staged is not None
                changed = (
                    member.name in triggers
                    or not member.was_active
                    or old is None
                    or old.version != staged.version
                    or member.config != member.old_config
                )
                if changed and not needs and self._patchable(member):
                    continue  # patched in place: it, and what depends on it, stay
                if changed or needs:
                    moving.add(member.name)
                else:  # nothing of it, nor of what it requires, changes
                    staged.release()
                    member.staged = None
                continue
            if member.was_active and old is not None and needs:
                if staged is not None:
                    staged.release()
                member.staged_config = member.config
                member.staged, member.manifest, member.config = (
                    old,
                    member.old_manifest,
                    member.old_config,
                )
                member.rebound = True
                moving.add(member.name)
        self.moving = [m for m in self.members if m.name in moving]

    def _patchable(self, member: Member) -> bool:
        """Whether ``member``'s change is applied in place; else says why not, if its source
        changed (`Member.not_patched`)."""
        old, staged = member.old_loaded, member.staged
        assert staged is not None
        if not member.was_active or old is None or old.version == staged.version:
            return False  # new, or a restart of the same source
        reason = None
        if not self.engine.settings.hot_patch:
            reason = "hot patch is off (setting hot_patch)"
        elif not (_hot_patch(old.plugin_class) and _hot_patch(staged.plugin_class)):
            reason = "hot patch is off for this plugin (hot_patch = False)"
        elif not _same_config(member.old_config, member.config):
            reason = "its config changed"
        elif member.manifest != member.old_manifest:
            reason = _manifest_change(member.old_manifest, member.manifest)
        elif member.name in self.failed_versions.unpatchable:
            reason = self.failed_versions.unpatchable[member.name]
        if reason is None:
            began = time.perf_counter()
            found = plan_patch(old, staged)
            if isinstance(found, Patch):
                found.planned_ms = (time.perf_counter() - began) * 1000
                member.patch = found
                return True
            reason = found
        member.not_patched = reason
        return False

    async def _patch(self) -> None:
        """Apply each member's patch to its running version, and say so."""
        engine = self.engine
        for member in self.members:
            patch, staged, old = member.patch, member.staged, member.old_loaded
            if patch is None:
                continue
            assert staged is not None and old is not None
            rec = member.rec
            began = time.perf_counter()
            old_version = old.version
            error: ErrorInfo | None = None
            try:
                apply_patch(patch)
            except BaseException as failure:  # what a function object refused
                contain(failure)
                error = engine.describe(rec, failure)
                reason = f"patching failed ({error.type}: {error.message})"
                self.failed_versions.unpatchable[member.name] = reason
                self.retry = True  # again, as a full reload
            else:
                old.adopt(staged)
                rec.error = None
                rec.extra_files = set()
                self.failed_versions.forget(member.name)
            staged.release()
            member.staged = None
            dependents = [
                name
                for name in engine.records.order_of(engine.records.dependents({member.name}))
                if engine.records.get(name).state is S.ACTIVE
            ]
            event = ReloadPatched(
                plan_id=self.plan_id,
                plugin=member.name,
                old_version=old_version,
                new_version=old.version,
                functions=patch.functions,
                relocated=patch.relocated,
                dependents=dependents,
                duration_ms=patch.planned_ms + (time.perf_counter() - began) * 1000,
                restored=error is not None,
                error=error,
            )
            self.outcomes[member.name] = event
            if self.outcome is None:
                self.outcome = event
            await engine.bus.publish(event)

    def _stayed_with(self, culprit: Member) -> list[str]:
        """The members that stay untouched and depend, in the plan, on ``culprit``."""
        moving = {m.name for m in self.moving}
        behind = {culprit.name}
        for member in self.members:  # dependency order
            stays = member.name not in moving and member.failure is None
            if stays and any(name in behind for name in _requires(member)):
                behind.add(member.name)
        return [m.name for m in self.members if m.name in behind and m is not culprit]

    async def _reject(self) -> None:
        """Report each failed member (with the members that wait for it), and release the
        versions it staged."""
        engine = self.engine
        for culprit in self.members:
            failure = culprit.failure
            if failure is None:
                continue
            if not culprit.rebound and culprit.staged is not None:
                culprit.staged.release()
                culprit.staged = None
            rec = culprit.rec
            info = engine.describe(rec, failure.error, culprit.config, culprit.staged_config)
            rec.extra_files = files_in_traceback(failure.error, engine.settings.plugin_dirs)
            if culprit.was_active:  # the running version keeps serving, and says why
                rec.error = info
                if not culprit.recalled:
                    await engine.bus.publish(
                        PluginFailed(
                            plugin=culprit.name,
                            phase=failure.phase,
                            version=rec.version,
                            error=info,
                            plan_id=self.plan_id,
                        )
                    )
            else:  # nothing was serving: the plugin is failed now, with the new error
                engine.name_unloaded(rec)
                await engine.transition(rec, S.LOADING, "retrying")
                rec.release()
                await engine.fail(rec, failure.phase, failure.error, plan_id=self.plan_id)
            held = [name for name, by in self.held.items() if by == culprit.name]
            rejected = ReloadRejected(
                plan_id=self.plan_id,
                plugin=culprit.name,
                phase=failure.phase,
                error=info,
                members=[culprit.name, *self._stayed_with(culprit)],
                held=held,
                serving=culprit.was_active,
            )
            for name in rejected.members:
                self.outcomes[name] = rejected
                if culprit.recalled:  # the outcome of the transaction that found it stands
                    self.recalled.add(name)
            if self.outcome is None:
                self.outcome = rejected
            await engine.bus.publish(rejected)
        if self.moving:
            self.outcome = None

    # -- swapping ---------------------------------------------------------------------------------

    async def _retire_failed(self, member: Member, phase: Phase, error: BaseException) -> None:
        """The running version of ``member`` failed to export or tear down: say so; the swap
        goes on (the runtime releases what that version held regardless)."""
        engine = self.engine
        rec = member.rec
        info = engine.describe(rec, error)
        await engine.bus.publish(
            PluginFailed(plugin=rec.name, phase=phase, version=rec.version, error=info)
        )
        if phase is Phase.EXPORT:
            old = member.old_manifest
            await engine.bus.publish(
                StateDiscarded(
                    plugin=rec.name,
                    old_schema_version=None,
                    new_schema_version=None,
                    reason=(
                        f"export_state of version {rec.version} failed ({info.type}: "
                        f"{info.message}): the new version starts with fresh state"
                    )
                    if old is not None
                    else "export_state failed",
                )
            )

    async def _swap(self) -> None:
        """Down in reverse order (export, teardown), up in order (setup, import).

        Raises:
            PhaseError: naming the member whose new version failed to come up, and the phase.
        """
        engine = self.engine
        for member in reversed(swap_order(self.moving, new=False)):
            if not member.was_active:
                continue
            rec = member.rec
            try:
                member.handoff = await engine.export_state(rec)
            except PhaseError as error:
                member.handoff = None
                await self._retire_failed(member, Phase.EXPORT, error.error)
            await engine.transition(rec, S.STOPPING, "reloading")
            problem = await engine.bring_down(rec)
            await engine.transition(rec, S.LOADED, "reloading")
            if problem is not None:
                await self._retire_failed(member, Phase.TEARDOWN, problem)
        for member in swap_order(self.moving, new=True):
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
            if not member.rebound:
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
            if member.rebound:
                reason = "restarted on its own version"
            else:
                reason = "reloaded" if member.old_loaded is not None else "loaded"
            await engine.transition(rec, S.ACTIVE, reason)

    def _remember(self, culprit: Member, failure: PhaseError) -> None:
        """Remember the new version that failed to come up: the plan runs again without it."""
        old, new = culprit.old_loaded, culprit.staged
        if culprit.rebound or (old is not None and new is not None and old.version == new.version):
            return  # its running code refused the others' new versions: nothing to leave out
        key = self._key(culprit)
        if key is None or key in self.failed_versions.failures:
            return
        self.failed_versions.failures[key] = failure
        # Again without it, if that leaves another member's change to commit.
        self.retry = self.retry or any(
            m is not culprit
            and not m.rebound
            and m.staged is not None
            and (m.old_loaded is None or m.old_loaded.version != m.staged.version)
            for m in self.moving
        )

    async def _restore_idle(self, member: Member, error: ErrorInfo | None) -> None:
        """Put ``member``, which was not running, back in its state (failed, or loaded)."""
        engine = self.engine
        rec = member.rec
        rec.error = error
        if rec.state is not S.FAILED and member.old_loaded is None:
            if rec.state is not S.LOADING:
                await engine.transition(rec, S.LOADING, "rolled back")
            await engine.transition(rec, S.FAILED, "rolled back")
        elif rec.state is S.FAILED and member.old_loaded is not None:
            await engine.transition(rec, S.LOADING, "rolled back")
            await engine.transition(rec, S.LOADED, "rolled back")

    async def _roll_back(self, failure: PhaseError) -> None:
        """Put every moving member back on its old version and state."""
        engine = self.engine
        culprit = next(m for m in self.moving if m.name == failure.plugin)
        info = engine.describe(culprit.rec, failure.error, culprit.config)
        await engine.bus.publish(
            PluginFailed(
                plugin=culprit.name,
                phase=failure.phase,
                version=culprit.staged.version if culprit.staged else culprit.rec.version,
                error=info,
                plan_id=self.plan_id,
            )
        )
        self._remember(culprit, failure)
        for member in reversed(swap_order(self.moving, new=True)):
            if member.up:
                await engine.transition(member.rec, S.STOPPING, "rolling back")
                await engine.bring_down(member.rec)
                await engine.transition(member.rec, S.LOADED, "rolling back")
                member.up = False
        restored: list[str] = []
        for member in swap_order(self.moving, new=False):
            rec = member.rec
            if member.staged is not None and not member.rebound:
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
                await self._restore_idle(member, info if member is culprit else member.old_error)
                continue
            if member is culprit:
                rec.error = info
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
        for member in self.moving:
            self.outcomes[member.name] = self.outcome
        await engine.bus.publish(self.outcome)


def _requires(member: Member) -> set[str]:
    """What ``member`` requires, by its new version and its running one."""
    names: set[str] = set()
    for manifest in (member.manifest, member.old_manifest):
        if manifest is not None:
            names.update(r.name for r in manifest.requires)
    return names


def _hot_patch(plugin_class: type) -> bool:
    """The plugin class's ``hot_patch``, read from the class dictionaries (no plugin code)."""
    for klass in plugin_class.__mro__:
        if "hot_patch" in vars(klass):
            return bool(vars(klass)["hot_patch"] is not False)
    return True


def _manifest_change(old: PluginManifest | None, new: PluginManifest | None) -> str:
    """``its manifest changed (version 1.0.0 -> 1.1.0)``: which fields, old and new."""
    before = old.model_dump() if old is not None else {}
    after = new.model_dump() if new is not None else {}
    fields = [
        f"{name} {before.get(name)!r} -> {after.get(name)!r}"
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]
    return f"its manifest changed ({'; '.join(fields)})" if fields else "its manifest changed"


def _same_config(old: BaseModel | None, new: BaseModel | None) -> bool:
    """Whether two validated configs hold the same values (their models may be classes of two
    versions of one module: compared by name and values, not by identity)."""
    if old is None or new is None:
        return old is new
    if type(old).__qualname__ != type(new).__qualname__:
        return False
    try:
        return bool(old.model_dump() == new.model_dump())
    except BaseException as error:  # the models' own serializers are plugin code
        contain(error)
        return False
