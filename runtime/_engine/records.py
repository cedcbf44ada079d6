"""The plugin record table: everything the runtime knows about each plugin, by name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, final

from hotbus.runtime._engine.graph import cycles_by_member, reachable, topological_order
from hotbus.runtime._loading.loader import Loaded, PluginSource
from hotbus.runtime._plugins.context import Holdings
from hotbus.runtime._plugins.plugin import Plugin
from hotbus.schemas import (
    ErrorInfo,
    PluginManifest,
    PluginState,
    PluginStatus,
    SourceKind,
    UnknownPluginError,
)
from pydantic import BaseModel

__all__ = ["Record", "Records"]


#: The fields a status row shows: changing one drops the row made of them.
_ROW_FIELDS: Final = frozenset(
    {"name", "source", "state", "loaded", "enabled", "reason", "error", "requires"}
)
#: The fields the table indexes (see `Records`): changing one updates the indexes.
_INDEXED_FIELDS: Final = frozenset(
    {"name", "state", "loaded", "manifest", "requires", "extra_files"}
)
#: The states a plugin waits in until `Engine.start_ready` starts it.
_WAITING: Final = frozenset({PluginState.LOADED, PluginState.BLOCKED})


@dataclass(eq=False, slots=True)
class Record:
    """Everything the runtime knows about one plugin.

    Its table (`Records`) keeps indexes of some fields (its requirements, its state, its
    files): assigning one of them updates them, so that no query has to walk every record.
    """

    name: str
    source: PluginSource
    state: PluginState | None = None
    loaded: Loaded | None = None
    manifest: PluginManifest | None = None
    config: BaseModel | None = None
    instance: Plugin | None = None
    #: What the running instance acquired through its context, released when it stops.
    holdings: Holdings | None = None
    error: ErrorInfo | None = None
    reason: str = ""
    enabled: bool = True
    requires: list[str] = field(default_factory=list)
    #: Files named in the traceback of the last failure: saving one retries the plugin.
    extra_files: set[Path] = field(default_factory=set)
    #: The table that indexes this record, while it is in one.
    table: Records | None = field(default=None, init=False, repr=False)
    #: The status row, until a field it shows changes.
    row: PluginStatus | None = field(default=None, init=False, repr=False)

    def __setattr__(self, key: str, value: object) -> None:
        if key in _ROW_FIELDS:
            object.__setattr__(self, "row", None)
        if key in _INDEXED_FIELDS:
            table = getattr(self, "table", None)  # unset while __init__ runs
            if table is not None:
                old = getattr(self, key)
                object.__setattr__(self, key, value)
                table.changed(self, key, old)
                return
        object.__setattr__(self, key, value)

    @property
    def version(self) -> str | None:
        """The loaded version, if a version is loaded."""
        return self.loaded.version if self.loaded is not None else None

    def release(self) -> None:
        """Purge the loaded version's modules and forget it."""
        if self.loaded is not None:
            self.loaded.release()
        self.loaded = None

    def paths(self) -> set[Path]:
        """The files this plugin owns (see `Records.files`)."""
        paths = set(self.extra_files)
        if self.source.main_file is not None:
            paths.add(self.source.main_file)
        if self.loaded is not None:
            paths.update(self.loaded.files)
        return paths

    def status(self) -> PluginStatus:
        """This plugin as a status row (made again only when a field it shows changed)."""
        row = self.row
        if row is not None:
            return row
        assert self.state is not None
        row = PluginStatus(
            name=self.name,
            state=self.state,
            version=self.version,
            source=self.source.describe(),
            kind=self.source.kind,
            enabled=self.enabled,
            reason=self.reason,
            error=self.error,
            requires=list(self.requires),
            files=sorted(self.loaded.files) if self.loaded is not None else [],
        )
        object.__setattr__(self, "row", row)
        return row


@final
class Records:
    """Every plugin the runtime knows, by name, with the queries the pipeline asks of them.

    The dependency graph's queries cost what they touch, not what the table holds: who depends
    on a plugin is kept in a reverse index, the plugins waiting to start in a set, the files'
    owners in an index (all updated as records change), and the dependency order is computed
    once per change of the graph (O(N log N)), not once per query.
    """

    __slots__ = (
        "_by_name",
        "_dependents",
        "_graph_version",
        "_loaded_order",
        "_order",
        "_owned",
        "_packages",
        "_paths",
        "_seq",
        "_serial",
        "_waiting",
    )

    def __init__(self) -> None:
        self._by_name: dict[str, Record] = {}
        #: A required name -> the names of the plugins requiring it.
        self._dependents: dict[str, set[str]] = {}
        #: Bumped on every change of the graph (names, requirements, which are loaded).
        self._graph_version = 0
        #: The dependency order with each name's place, and the graph version it is of.
        self._order: tuple[int, list[str], dict[str, int]] | None = None
        self._loaded_order: tuple[int, list[str], dict[str, int]] | None = None
        #: The plugins loaded or blocked (those `Engine.start_ready` may start).
        self._waiting: set[str] = set()
        #: A file -> the names of the plugins owning it; a name -> the files it owns.
        self._owned: dict[Path, set[str]] = {}
        self._paths: dict[str, set[Path]] = {}
        #: The package plugins (they own everything inside their directory).
        self._packages: set[str] = set()
        #: Each name's rank in `_by_name`'s order (the order they became known).
        self._seq: dict[str, int] = {}
        self._serial = 0

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[Record]:
        return iter(list(self._by_name.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        """Every plugin's name, in the order they became known."""
        return list(self._by_name)

    def find(self, name: str) -> Record | None:
        """The record of plugin ``name``, or None."""
        return self._by_name.get(name)

    def get(self, name: str) -> Record:
        """The record of plugin ``name``.

        Raises:
            UnknownPluginError: when no plugin has that name.
        """
        rec = self._by_name.get(name)
        if rec is None:
            raise UnknownPluginError(name, list(self._by_name))
        return rec

    def by_source(self, source: PluginSource) -> Record | None:
        """The record of the plugin loaded from ``source``, or None."""
        for rec in self._by_name.values():
            if rec.source.key == source.key:
                return rec
        return None

    def in_state(self, state: PluginState) -> list[str]:
        """The names of the plugins in ``state``."""
        return [name for name, rec in self._by_name.items() if rec.state is state]

    def waiting(self) -> set[str]:
        """The names of the plugins loaded or blocked: those that may start."""
        return set(self._waiting)

    def add(self, source: PluginSource) -> Record:
        """A new record for ``source``, named after it (with a suffix if the name is taken)."""
        name = source.name
        if name in self._by_name:  # two sources, one name so far: keep both visible
            name = f"{name}@{len(self._by_name)}"
        rec = Record(name=name, source=source)
        self._enter(rec)
        return rec

    def rename(self, rec: Record, name: str) -> None:
        """Give ``rec`` the name its plugin class declares."""
        if rec.name == name:
            return
        known = rec.table is self
        rec.name = name  # a record of the table is re-indexed under its new name
        if not known:
            self._enter(rec)

    def remove(self, rec: Record) -> None:
        """Forget ``rec`` (if it is still the record of its name)."""
        if self._by_name.get(rec.name) is rec:
            self._leave(rec)

    # -- the indexes ------------------------------------------------------------------------------

    def _enter(self, rec: Record) -> None:
        """Index ``rec`` under its name (replacing a record of that name)."""
        other = self._by_name.get(rec.name)
        if other is not None and other is not rec:
            self._leave(other)
        self._by_name[rec.name] = rec
        self._serial += 1
        self._seq[rec.name] = self._serial
        object.__setattr__(rec, "table", self)
        self._require(rec.name, rec.requires)
        if rec.state in _WAITING:
            self._waiting.add(rec.name)
        if rec.source.kind is SourceKind.PACKAGE and rec.source.path is not None:
            self._packages.add(rec.name)
        self._own(rec)
        self._graph_version += 1

    def _leave(self, rec: Record, name: str | None = None) -> None:
        """Drop ``rec`` (indexed under ``name``, by default its name) from every index."""
        name = rec.name if name is None else name
        del self._by_name[name]
        del self._seq[name]
        object.__setattr__(rec, "table", None)
        self._unrequire(name, rec.requires)
        self._waiting.discard(name)
        self._packages.discard(name)
        self._unown(name)
        self._graph_version += 1

    def changed(self, rec: Record, key: str, old: object) -> None:
        """``rec``'s field ``key`` changed from ``old``: update the indexes (`Record` calls it)."""
        if key == "state":
            if rec.state in _WAITING:
                self._waiting.add(rec.name)
            else:
                self._waiting.discard(rec.name)
        elif key == "requires":
            assert isinstance(old, list)
            if old != rec.requires:
                self._unrequire(rec.name, old)
                self._require(rec.name, rec.requires)
                self._graph_version += 1
        elif key == "manifest":
            if (old is None) != (rec.manifest is None):
                self._graph_version += 1
        elif key == "name":
            assert isinstance(old, str)
            if self._by_name.get(old) is rec:
                self._leave(rec, old)
                self._enter(rec)
        else:  # loaded, extra_files
            self._unown(rec.name)
            self._own(rec)

    def _require(self, name: str, requires: list[str]) -> None:
        for dep in requires:
            self._dependents.setdefault(dep, set()).add(name)

    def _unrequire(self, name: str, requires: list[str]) -> None:
        for dep in requires:
            names = self._dependents.get(dep)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._dependents[dep]

    def _own(self, rec: Record) -> None:
        paths = rec.paths()
        self._paths[rec.name] = paths
        for path in paths:
            self._owned.setdefault(path, set()).add(rec.name)

    def _unown(self, name: str) -> None:
        for path in self._paths.pop(name, ()):
            names = self._owned.get(path)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._owned[path]

    # -- the dependency graph ---------------------------------------------------------------------

    def graph(self, *, loaded_only: bool = False) -> dict[str, list[str]]:
        """Each plugin's requirements; ``loaded_only`` leaves out plugins with no manifest."""
        return {
            name: rec.requires
            for name, rec in self._by_name.items()
            if not loaded_only or rec.manifest is not None
        }

    def order(self) -> list[str]:
        """Every plugin's name in dependency order."""
        return list(self._ordered(loaded_only=False)[0])

    def order_of(self, names: Iterable[str], *, loaded_only: bool = False) -> list[str]:
        """Those of ``names`` in the graph, in the order of `order` (with ``loaded_only``: of
        the loaded plugins' graph), in O(k log k) for k names once the order is known."""
        place = self._ordered(loaded_only=loaded_only)[1]
        return sorted((name for name in names if name in place), key=place.__getitem__)

    def _ordered(self, *, loaded_only: bool) -> tuple[list[str], dict[str, int]]:
        """The dependency order and each name's place in it, computed once per graph change."""
        cached = self._loaded_order if loaded_only else self._order
        if cached is not None and cached[0] == self._graph_version:
            return cached[1], cached[2]
        order = topological_order(self.graph(loaded_only=loaded_only))
        place = {name: index for index, name in enumerate(order)}
        cached = (self._graph_version, order, place)
        if loaded_only:
            self._loaded_order = cached
        else:
            self._order = cached
        return order, place

    def dependents(self, names: set[str]) -> set[str]:
        """Every plugin depending on one of ``names``, directly or transitively.

        It follows the reverse index: the cost is that of the dependents found.
        """
        found: set[str] = set()
        todo = list(names)
        while todo:
            for dependent in self._dependents.get(todo.pop(), ()):
                if dependent not in found and dependent not in names:
                    found.add(dependent)
                    todo.append(dependent)
        return found

    def cycles(self, names: Iterable[str], *, loaded_only: bool = False) -> dict[str, list[str]]:
        """Each plugin on a dependency cycle through what ``names`` require, directly or
        transitively, with its cycle (see `cycles_by_member`); with ``loaded_only``, of the
        loaded plugins' graph. Only that part of the graph is walked."""

        def requires(name: str) -> list[str] | None:
            rec = self._by_name.get(name)
            if rec is None or (loaded_only and rec.manifest is None):
                return None
            return rec.requires

        return cycles_by_member(reachable(requires, names))

    # -- files ------------------------------------------------------------------------------------

    def files(self) -> dict[Path, list[str]]:
        """Every file a plugin owns, with its owners (see `Runtime.files`)."""
        owned: dict[Path, list[str]] = {}
        for rec in self._by_name.values():
            for path in rec.paths():
                owned.setdefault(path, []).append(rec.name)
        return owned

    def owners(self, path: Path) -> list[str]:
        """The plugins that own ``path``; a package owns everything inside it."""
        found = sorted(self._owned.get(path, ()), key=self._seq.__getitem__)
        for name in sorted(self._packages, key=self._seq.__getitem__):
            src = self._by_name[name].source
            assert src.path is not None
            if path.is_relative_to(src.path) and name not in found:
                found.append(name)
        return found
