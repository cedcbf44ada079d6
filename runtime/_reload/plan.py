"""The cascade plan of a reload: which plugins move together, and in which order.

The members are the plugins asked for plus every active plugin that depends on them, directly
or transitively, so that no dependent keeps running against an old version. Old versions come
down in reverse of the order they run in; new versions go up in the order they will run in (a
new version may reverse a dependency).
"""

from __future__ import annotations

from dataclasses import dataclass

from hotbus.runtime._engine.graph import topological_order
from hotbus.runtime._engine.records import Record, Records
from hotbus.runtime._loading.loader import Loaded
from hotbus.runtime._loading.phase_error import PhaseError
from hotbus.runtime._plugins.handoff import Handoff
from hotbus.runtime._reload.patch import Patch
from hotbus.schemas import ErrorInfo, PluginManifest, PluginState
from pydantic import BaseModel

__all__ = ["Member", "joining", "members", "swap_order"]

S = PluginState


@dataclass(eq=False, slots=True)
class Member:
    """One plugin of a transaction, with its old and staged versions."""

    rec: Record
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
    #: Why its new version cannot go ahead (staging, dependencies, or a remembered failure).
    failure: PhaseError | None = None
    #: The failure is one remembered from an earlier transaction (already reported then).
    recalled: bool = False
    #: It stays on its running version but restarts, since something it requires moves.
    rebound: bool = False
    #: The config its rejected new version validated, when it was rebound (for masking).
    staged_config: BaseModel | None = None
    #: Its change is applied to the running version in place (see `_reload.patch`).
    patch: Patch | None = None
    #: Why its change of source takes the full transaction rather than a patch.
    not_patched: str | None = None

    @property
    def name(self) -> str:
        """The plugin's name."""
        return self.rec.name


def members(records: Records, triggers: list[Record]) -> list[Member]:
    """``triggers`` and their active dependents, in dependency order."""
    asked = {rec.name for rec in triggers}
    wanted = asked | {
        name for name in records.dependents(asked) if records.get(name).state is S.ACTIVE
    }
    found: list[Member] = []
    for name in topological_order({n: records.get(n).requires for n in wanted}):
        rec = records.get(name)
        found.append(
            Member(
                rec=rec,
                was_active=rec.state is S.ACTIVE,
                old_loaded=rec.loaded,
                old_manifest=rec.manifest,
                old_config=rec.config,
                old_error=rec.error,
            )
        )
    return found


def joining(records: Records, names: set[str]) -> list[str]:
    """The blocked plugins depending on ``names``: they may start once the plan commits."""
    closure = records.dependents(names)
    return [name for name in records.order_of(closure) if records.get(name).state is S.BLOCKED]


def swap_order(plan: list[Member], *, new: bool) -> list[Member]:
    """``plan`` in dependency order, by the new versions' requirements or the old ones'."""
    by_name = {m.name: m for m in plan}
    graph = {m.name: _requires(m.manifest if new else m.old_manifest) for m in plan}
    return [by_name[n] for n in topological_order(graph)]


def _requires(manifest: PluginManifest | None) -> list[str]:
    return [r.name for r in manifest.requires] if manifest is not None else []
