"""One reload transaction: stage every member, quiesce, swap with hand-off, commit or roll back.

The members are the plugins asked for plus every active plugin that depends on them, directly
or transitively, so that no dependent keeps running against an old version. The whole closure
moves together: if any member fails staging nothing is touched; if any member fails during the
swap every member goes back to its old version and state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hotbus.runtime._engine.graph import dependents_closure, find_cycles, topological_order
from hotbus.runtime._loading.loader import Loaded, LoadError, load, purge, source_line
from hotbus.runtime._loading.paths import files_in_traceback
from hotbus.runtime._plugins.handoff import Handoff
from hotbus.runtime._runtime import StepFailed, _Record
from hotbus.schemas import (
    DependencyError,
    ErrorInfo,
    Event,
    HandlersCancelled,
    HotbusError,
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
from pydantic import BaseModel

if TYPE_CHECKING:
    from hotbus.runtime._runtime import Runtime

__all__ = ["Member", "Transaction"]

S = PluginState


class _MemberFailed(Exception):
    """A member failed at a phase of staging or swapping."""

    def __init__(self, member: Member, phase: Phase, error: BaseException) -> None:
        super().__init__(str(error))
        self.member = member
        self.phase = phase
        self.error = error


@dataclass(eq=False, slots=True)
class Member:
    """One plugin of the transaction, with its old and staged versions."""

    rec: _Record
    was_active: bool
    old_loaded: Loaded | None
    old_manifest: PluginManifest | None
    old_config: BaseModel | None
    staged: Loaded | None = None
    manifest: PluginManifest | None = None
    config: BaseModel | None = None
    handoff: Handoff | None = None
    old_error: ErrorInfo | None = None
    up: bool = False

    @property
    def name(self) -> str:
        return self.rec.name


@dataclass(eq=False, slots=True)
class Transaction:
    """Reload ``triggers`` (and their active dependents) in one transaction."""

    runtime: Runtime
    plan_id: str
    triggers: list[_Record]
    members: list[Member] = field(default_factory=list)
    outcome: Event | None = None
    #: The versions a commit replaced: the planner checks they are collected, once the
    #: transaction itself (which holds them) is gone.
    retired: list[Loaded] = field(default_factory=list)

    async def run(self) -> Event | None:
        """Plan, stage, quiesce, swap, commit. Returns the outcome event."""
        rt = self.runtime
        begin = time.perf_counter()
        self._plan()
        names = [m.name for m in self.members]
        await rt.bus.publish(
            ReloadPlanned(
                plan_id=self.plan_id,
                triggers=[r.name for r in self.triggers],
                members=names,
                joining=self._joining(),
            )
        )
        try:
            self._stage()
            await self._check_dependencies()
        except _MemberFailed as rejected:
            await self._reject(rejected)
            return self.outcome
        staged_at = time.perf_counter()
        for member in self.members:
            if member.was_active:
                cancelled = await member.rec.gate.close(rt.bus, rt.settings.quiesce_timeout_s)
                if cancelled:
                    await rt.bus.publish(
                        HandlersCancelled(
                            plugin=member.name,
                            cancelled=cancelled,
                            timeout_s=rt.settings.quiesce_timeout_s,
                        )
                    )
        quiesced_at = time.perf_counter()
        try:
            try:
                await self._swap()
            except _MemberFailed as failure:
                await self._roll_back(failure)
                return self.outcome
            swapped_at = time.perf_counter()
            old = [m.old_loaded for m in self.members if m.old_loaded is not None]
            for loaded in old:
                if loaded.generation is not None:
                    purge(loaded.generation)
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
            await rt.bus.publish(self.outcome)
            self.retired = old
            return self.outcome
        finally:
            for member in self.members:
                await member.rec.gate.open(rt.bus)

    # -- planning ---------------------------------------------------------------------------------

    def _plan(self) -> None:
        rt = self.runtime
        graph = {n: r.requires for n, r in rt._records.items()}
        closure = dependents_closure(graph, {r.name for r in self.triggers})
        wanted = {r.name for r in self.triggers} | {
            n for n in closure if rt._records[n].state is S.ACTIVE
        }
        for name in topological_order({n: graph[n] for n in wanted}):
            rec = rt._records[name]
            self.members.append(
                Member(
                    rec=rec,
                    was_active=rec.state is S.ACTIVE,
                    old_loaded=rec.loaded,
                    old_manifest=rec.manifest,
                    old_config=rec.config,
                    old_error=rec.error,
                )
            )

    def _joining(self) -> list[str]:
        rt = self.runtime
        graph = {n: r.requires for n, r in rt._records.items()}
        closure = dependents_closure(graph, {m.name for m in self.members})
        return [
            n
            for n in topological_order(graph)
            if n in closure and rt._records[n].state is S.BLOCKED
        ]

    # -- staging ----------------------------------------------------------------------------------

    def _stage(self) -> None:
        """Execute every member's source anew and validate it; touch nothing running."""
        rt = self.runtime
        for member in self.members:
            rec = member.rec
            try:
                staged = load(rec.source)
            except LoadError as error:
                raise _MemberFailed(member, error.phase, error.error) from None
            if staged is None:
                raise _MemberFailed(
                    member,
                    Phase.VALIDATE,
                    ManifestError(
                        rec.name,
                        "no longer defines a Plugin subclass: restore the class, or delete the "
                        "file to unload the plugin",
                        path=rec.source.main_file,
                    ),
                )
            member.staged = staged
            try:
                manifest = rt._validate(rec, staged)
                if rec.manifest is not None and manifest.name != rec.name:
                    raise ManifestError(
                        rec.name,
                        f"the new version is named {manifest.name!r}: a reload keeps the name; "
                        f"rename it back to {rec.name!r}, or unload it and load it as a new plugin",
                        path=rec.source.main_file,
                        line=source_line(staged.plugin_class),
                    )
            except ManifestError as error:
                raise _MemberFailed(member, Phase.VALIDATE, error) from None
            member.manifest = manifest
            try:
                member.config = rt._config_for(manifest.name, staged)
            except HotbusError as error:
                raise _MemberFailed(member, Phase.CONFIG, error) from None

    async def _check_dependencies(self) -> None:
        """Reject an active member whose new version needs what is missing or forms a cycle."""
        rt = self.runtime
        new = {m.name: m.manifest for m in self.members if m.manifest is not None}
        graph: dict[str, list[str]] = {}
        for name, rec in rt._records.items():
            manifest = new.get(name, rec.manifest)
            graph[name] = [r.name for r in manifest.requires] if manifest else []
        for name, manifest in new.items():
            graph[name] = [r.name for r in manifest.requires]
        cycles = {n: cycle for cycle in find_cycles(graph) for n in cycle}
        for member in self.members:
            manifest = member.manifest
            if manifest is None or not member.was_active:
                continue
            rec = member.rec
            if member.name in cycles:
                cycle = cycles[member.name]
                raise _MemberFailed(
                    member,
                    Phase.DEPENDENCY,
                    DependencyError(
                        member.name,
                        f"the new version forms a dependency cycle {' -> '.join(cycle)}: "
                        "remove one of the requirements",
                        cycle=cycle,
                        path=rec.source.main_file,
                    ),
                )
            for requirement in manifest.requires:
                dep_manifest = new.get(requirement.name)
                dep = rt._records.get(requirement.name)
                if dep_manifest is None and dep is not None and dep.state is S.ACTIVE:
                    dep_manifest = dep.manifest
                if dep_manifest is None:
                    raise _MemberFailed(
                        member,
                        Phase.DEPENDENCY,
                        DependencyError(
                            member.name,
                            f"the new version requires {requirement}, which is not running: "
                            f"load {requirement.name!r} first, or drop the requirement",
                            missing=[requirement.name],
                            path=rec.source.main_file,
                        ),
                    )
                if not requirement.satisfied_by(dep_manifest.version):
                    raise _MemberFailed(
                        member,
                        Phase.DEPENDENCY,
                        DependencyError(
                            member.name,
                            f"the new version requires {requirement}, but {requirement.name} is "
                            f"{dep_manifest.version}: update {requirement.name} or relax the "
                            "requirement",
                            missing=[requirement.name],
                            path=rec.source.main_file,
                        ),
                    )

    async def _reject(self, rejected: _MemberFailed) -> None:
        rt = self.runtime
        for member in self.members:
            if member.staged is not None and member.staged.generation is not None:
                purge(member.staged.generation)
            member.staged = None
        culprit = rejected.member
        info = ErrorInfo.from_exception(rejected.error, file=culprit.rec.source.main_file)
        culprit.rec.extra_files = files_in_traceback(rejected.error, rt.settings.plugin_dirs)
        if culprit.was_active:
            await rt.bus.publish(
                PluginFailed(
                    plugin=culprit.name,
                    phase=rejected.phase,
                    version=culprit.rec.version,
                    error=info,
                )
            )
        else:  # nothing was serving: the plugin is failed now, with the new error
            rec = culprit.rec
            await rt._transition(rec, S.LOADING, "retrying")
            if rec.loaded is not None and rec.loaded.generation is not None:
                purge(rec.loaded.generation)
            rec.loaded = None
            await rt._fail(rec, rejected.phase, rejected.error)
        self.outcome = ReloadRejected(
            plan_id=self.plan_id,
            plugin=culprit.name,
            phase=rejected.phase,
            error=info,
            members=[m.name for m in self.members],
        )
        await rt.bus.publish(self.outcome)

    # -- swapping ---------------------------------------------------------------------------------

    def _order(self, *, new: bool) -> list[Member]:
        """Members in dependency order, by the new versions' requirements or the old ones'.

        Old versions come down in reverse of the order they run in; new versions go up in the
        order they will run in (a new version may reverse a dependency).
        """
        by_name = {m.name: m for m in self.members}
        graph = {m.name: _requires(m.manifest if new else m.old_manifest) for m in self.members}
        return [by_name[n] for n in topological_order(graph)]

    async def _swap(self) -> None:
        """Down in reverse order (export, teardown), up in order (setup, import)."""
        rt = self.runtime
        old_order, order = self._order(new=False), self._order(new=True)
        for member in reversed(old_order):
            if not member.was_active:
                continue
            rec = member.rec
            try:
                member.handoff = await rt._export_state(rec)
            except (Exception, SystemExit) as error:
                raise _MemberFailed(member, Phase.EXPORT, error) from error
            await rt._transition(rec, S.STOPPING, "reloading")
            problem = await rt._bring_down(rec)
            await rt._transition(rec, S.LOADED, "reloading")
            if problem is not None:
                raise _MemberFailed(member, Phase.TEARDOWN, problem) from problem
        for member in order:
            rec = member.rec
            assert member.staged is not None
            if rec.state is not S.LOADED:
                await rt._transition(rec, S.LOADING, "reloading")
            assert member.manifest is not None
            if not member.was_active and member.manifest.name != rec.name:
                rt._rename(rec, member.manifest.name)  # a new plugin, known by its file so far
            rec.loaded, rec.manifest, rec.config = member.staged, member.manifest, member.config
            rec.requires = [r.name for r in member.manifest.requires]
            rec.error = None
            rec.extra_files = set()
            if rec.state is S.LOADING:
                await rt._transition(rec, S.LOADED, "loaded")
            if not rec.enabled:
                continue
            blocker = rt._blocker(rec, {})
            if blocker:
                await rt._transition(rec, S.BLOCKED, blocker)
                continue
            await rt._transition(rec, S.STARTING, "reloading")
            try:
                await rt._bring_up(rec, member.staged, member.config, member.handoff)
            except StepFailed as failure:
                raise _MemberFailed(member, failure.phase, failure.error) from failure.error
            member.up = True
            await rt._transition(rec, S.ACTIVE, "reloaded")

    async def _roll_back(self, failure: _MemberFailed) -> None:
        """Put every member back on its old version and state."""
        rt = self.runtime
        culprit = failure.member
        info = ErrorInfo.from_exception(failure.error, file=culprit.rec.source.main_file)
        await rt.bus.publish(
            PluginFailed(
                plugin=culprit.name,
                phase=failure.phase,
                version=culprit.staged.version if culprit.staged else culprit.rec.version,
                error=info,
            )
        )
        for member in reversed(self._order(new=True)):
            if member.up:
                await rt._transition(member.rec, S.STOPPING, "rolling back")
                await rt._bring_down(member.rec)
                await rt._transition(member.rec, S.LOADED, "rolling back")
                member.up = False
        restored: list[str] = []
        for member in self._order(new=False):
            rec = member.rec
            if member.staged is not None and member.staged.generation is not None:
                purge(member.staged.generation)
            if rec.state is S.STARTING:  # the culprit's new version failed to start
                await rt._transition(rec, S.FAILED, f"new version failed at {failure.phase}")
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
                        await rt._transition(rec, S.LOADING, "rolled back")
                    await rt._transition(rec, S.FAILED, "rolled back")
                elif rec.state is S.FAILED and member.old_loaded is not None:
                    await rt._transition(rec, S.LOADING, "rolled back")
                    await rt._transition(rec, S.LOADED, "rolled back")
                continue
            if rec.state is S.ACTIVE:  # never taken down: the failure came before its turn
                restored.append(rec.name)
                continue
            if rec.state is S.FAILED:
                await rt._transition(rec, S.LOADING, "rolling back")
                await rt._transition(rec, S.LOADED, "rolled back")
            assert member.old_loaded is not None
            await rt._transition(rec, S.STARTING, "rolling back")
            try:
                await rt._bring_up(rec, member.old_loaded, member.old_config, member.handoff)
            except StepFailed as again:
                await rt._fail(rec, again.phase, again.error)
                continue
            await rt._transition(rec, S.ACTIVE, "rolled back")
            restored.append(rec.name)
        culprit.rec.extra_files = files_in_traceback(failure.error, rt.settings.plugin_dirs)
        self.outcome = ReloadRolledBack(
            plan_id=self.plan_id,
            plugin=culprit.name,
            phase=failure.phase,
            error=info,
            members=restored,
        )
        await rt.bus.publish(self.outcome)


def _requires(manifest: PluginManifest | None) -> list[str]:
    return [r.name for r in manifest.requires] if manifest is not None else []
