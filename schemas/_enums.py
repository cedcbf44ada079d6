"""Enumerations of the vocabulary: string-valued, so that JSON stays readable."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AdminOutcome",
    "FileChangeKind",
    "Phase",
    "PluginState",
    "ReloadAction",
    "ReloadReason",
    "SettleOutcome",
    "SourceKind",
]


class PluginState(StrEnum):
    """Where a plugin is in its lifecycle."""

    DISCOVERED = "discovered"
    LOADING = "loading"
    LOADED = "loaded"
    STARTING = "starting"
    ACTIVE = "active"
    STOPPING = "stopping"
    UNLOADED = "unloaded"
    FAILED = "failed"
    BLOCKED = "blocked"


class Phase(StrEnum):
    """The step at which a plugin failed, or a reload step that took time."""

    COMPILE = "compile"
    IMPORT = "import"
    VALIDATE = "validate"
    CONFIG = "config"
    DEPENDENCY = "dependency"
    SETUP = "setup"
    ENABLE = "enable"
    DISABLE = "disable"
    TEARDOWN = "teardown"
    EXPORT = "export"
    HANDOFF = "handoff"
    STAGE = "stage"
    QUIESCE = "quiesce"
    SWAP = "swap"
    COMMIT = "commit"


class FileChangeKind(StrEnum):
    """A raw file-system event, as the watcher saw it."""

    CREATED = "created"
    MODIFIED = "modified"
    MOVED = "moved"
    DELETED = "deleted"
    CLOSED = "closed"
    ATTRIB = "attrib"


class SettleOutcome(StrEnum):
    """What a burst of raw events on one path amounted to."""

    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"


class SourceKind(StrEnum):
    """Where a plugin's code comes from."""

    MODULE = "module"
    PACKAGE = "package"
    ENTRY_POINT = "entry_point"


class ReloadReason(StrEnum):
    """Why a reload was asked for."""

    FILE = "file"
    MANUAL = "manual"
    CASCADE = "cascade"
    CONFIG = "config"
    REMOTE = "remote"
    #: A version rejected for a missing dependency, retried now that the dependency runs.
    DEPENDENCY = "dependency"


class ReloadAction(StrEnum):
    """What a reload request asks the runtime to do with a plugin source."""

    LOAD = "load"
    RELOAD = "reload"
    UNLOAD = "unload"


class AdminOutcome(StrEnum):
    """What became of an admin command said in the chat."""

    DONE = "done"
    FAILED = "failed"
    REFUSED = "refused"
    LIMITED = "limited"
