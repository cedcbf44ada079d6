"""The plugin record table: everything the runtime knows about each plugin, by name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import final

from hotbus.runtime._engine.graph import dependents_closure, topological_order
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


@dataclass(eq=False, slots=True)
class Record:
    """Everything the runtime knows about one plugin."""

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

    @property
    def version(self) -> str | None:
        """The loaded version, if a version is loaded."""
        return self.loaded.version if self.loaded is not None else None

    def release(self) -> None:
        """Purge the loaded version's modules and forget it."""
        if self.loaded is not None:
            self.loaded.release()
        self.loaded = None

    def status(self) -> PluginStatus:
        """This plugin as a status row."""
        assert self.state is not None
        return PluginStatus(
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


@final
class Records:
    """Every plugin the runtime knows, by name, with the queries the pipeline asks of them."""

    __slots__ = ("_by_name",)

    def __init__(self) -> None:
        self._by_name: dict[str, Record] = {}

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

    def add(self, source: PluginSource) -> Record:
        """A new record for ``source``, named after it (with a suffix if the name is taken)."""
        name = source.name
        if name in self._by_name:  # two sources, one name so far: keep both visible
            name = f"{name}@{len(self._by_name)}"
        rec = Record(name=name, source=source)
        self._by_name[name] = rec
        return rec

    def rename(self, rec: Record, name: str) -> None:
        """Give ``rec`` the name its plugin class declares."""
        if rec.name == name:
            return
        if self._by_name.get(rec.name) is rec:
            del self._by_name[rec.name]
        rec.name = name
        self._by_name[name] = rec

    def remove(self, rec: Record) -> None:
        """Forget ``rec`` (if it is still the record of its name)."""
        if self._by_name.get(rec.name) is rec:
            del self._by_name[rec.name]

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
        return topological_order(self.graph())

    def dependents(self, names: set[str]) -> set[str]:
        """Every plugin depending on one of ``names``, directly or transitively."""
        return dependents_closure(self.graph(), names)

    # -- files ------------------------------------------------------------------------------------

    def files(self) -> dict[Path, list[str]]:
        """Every file a plugin owns, with its owners (see `Runtime.files`)."""
        owned: dict[Path, list[str]] = {}
        for rec in self._by_name.values():
            paths = set(rec.extra_files)
            if rec.source.main_file is not None:
                paths.add(rec.source.main_file)
            if rec.loaded is not None:
                paths.update(rec.loaded.files)
            for path in paths:
                owned.setdefault(path, []).append(rec.name)
        return owned

    def owners(self, path: Path) -> list[str]:
        """The plugins that own ``path``; a package owns everything inside it."""
        found = list(self.files().get(path, ()))
        for rec in self._by_name.values():
            src = rec.source
            if (
                src.kind is SourceKind.PACKAGE
                and src.path is not None
                and path.is_relative_to(src.path)
                and rec.name not in found
            ):
                found.append(rec.name)
        return found
