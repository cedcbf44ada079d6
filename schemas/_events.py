"""hotbus's own vocabulary: one event class per topic of the runtime.

Topics are public contract: they are never renamed once released.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Final, Self
from uuid import UUID

from hotbus.schemas._enums import (
    FileChangeKind,
    Phase,
    PluginState,
    ReloadAction,
    ReloadReason,
    SettleOutcome,
    SourceKind,
)
from hotbus.schemas._event import Event
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt

__all__ = [
    "MASK",
    "ConfigChanged",
    "ErrorInfo",
    "FileChanged",
    "FileSettled",
    "FileUnreadable",
    "FleetConnected",
    "FleetDisconnected",
    "FleetDropped",
    "HandlerFailed",
    "HandlersCancelled",
    "LoopStalled",
    "PhaseDurations",
    "PluginDiscovered",
    "PluginFailed",
    "PluginLeaked",
    "PluginStateChanged",
    "PluginStatus",
    "ReloadCommitted",
    "ReloadPatched",
    "ReloadPlanned",
    "ReloadRejected",
    "ReloadRequested",
    "ReloadRolledBack",
    "ReloadThrottled",
    "RuntimeStarted",
    "RuntimeStopped",
    "RuntimeStopping",
    "StateDiscarded",
    "StateMismatch",
    "StateRestored",
    "StateSaveFailed",
    "StateSaved",
    "StateStoreSetAside",
    "VersionChange",
    "WatcherFellBack",
    "WatcherFound",
    "WatcherLost",
    "WatcherRestarted",
    "WatcherStarted",
    "WatcherStopped",
]

#: What stands for a secret in a message.
MASK: Final = "**********"
PluginName = Annotated[str, Field(min_length=1, description="A plugin's name.")]
Milliseconds = Annotated[NonNegativeFloat, Field(description="A duration in milliseconds.")]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorInfo(_Part):
    """An exception, reduced to what a person needs to find and fix it."""

    type: str = Field(description="Qualified name of the exception class.")
    message: str = Field(description="The exception's message.")
    file: Path | None = Field(default=None, description="The file where it was raised.")
    line: int | None = Field(default=None, description="The line where it was raised.")
    traceback: str = Field(default="", description="The formatted traceback, innermost last.")

    @classmethod
    def from_exception(cls, error: BaseException, *, file: Path | None = None) -> Self:
        """Describe ``error``; ``file`` picks the innermost frame in that file for file and line.

        A `SyntaxError` reports its own file and line; errors carrying ``path`` and ``line``
        attributes (hotbus's plugin errors) report those.
        """
        kind = type(error)
        name = (
            kind.__qualname__
            if kind.__module__ == "builtins"
            else f"{kind.__module__}.{kind.__qualname__}"
        )
        where_file: Path | None = None
        where_line: int | None = None
        if isinstance(error, SyntaxError) and error.filename:
            where_file, where_line = Path(error.filename), error.lineno
            message = error.msg
        else:
            message = str(error)
            path = getattr(error, "path", None)
            if isinstance(path, Path):
                where_file, where_line = path, getattr(error, "line", None)
        frames = traceback.extract_tb(error.__traceback__)
        if where_file is None and frames:
            chosen = frames[-1]
            if file is not None:
                wanted = str(file)
                for frame in reversed(frames):
                    if frame.filename == wanted:
                        chosen = frame
                        break
            where_file, where_line = Path(chosen.filename), chosen.lineno
        text = "".join(traceback.format_exception(error)).rstrip()
        return cls(type=name, message=message, file=where_file, line=where_line, traceback=text)

    def masked(self, secrets: Iterable[str]) -> Self:
        """This error with every one of ``secrets`` masked in its message and traceback.

        The runtime masks the secret values of a plugin's config in that plugin's errors
        before it publishes them.
        """
        message, text = self.message, self.traceback
        for secret in secrets:
            if secret:
                message = message.replace(secret, MASK)
                text = text.replace(secret, MASK)
        if (message, text) == (self.message, self.traceback):
            return self
        return self.model_copy(update={"message": message, "traceback": text})

    def location(self) -> str:
        """``file:line`` (or just the file, or ``""``) for messages."""
        if self.file is None:
            return ""
        return f"{self.file.name}:{self.line}" if self.line else self.file.name


class VersionChange(_Part):
    """One plugin's version before and after a reload."""

    plugin: PluginName
    old_version: str | None = Field(description="The version that was serving; none if new.")
    new_version: str | None = Field(description="The version now serving; none if unloaded.")
    not_patched: str | None = Field(
        default=None,
        description=(
            "Why this change of its source took the full transaction rather than a hot patch "
            "(a changed signature, a new method...); none when its source did not change."
        ),
    )


class PhaseDurations(_Part):
    """How long each step of a reload transaction took, in milliseconds."""

    stage: Milliseconds = 0.0
    quiesce: Milliseconds = 0.0
    swap: Milliseconds = 0.0
    total: Milliseconds = 0.0


# -- host lifecycle ---------------------------------------------------------------------------


class RuntimeStarted(Event):
    """The runtime has loaded and started its plugins."""

    topic = "hotbus.runtime.started"

    plugin_dirs: list[Path] = Field(default_factory=list, description="Watched plugin directories.")
    plugins: list[PluginName] = Field(default_factory=list, description="Plugins now active.")
    watching: bool = Field(default=False, description="Whether file watching is on.")
    duration_ms: Milliseconds = 0.0


class RuntimeStopping(Event):
    """The runtime is about to stop its plugins."""

    topic = "hotbus.runtime.stopping"

    reason: str = Field(default="", description="Why it stops (exit, signal, error).")


class RuntimeStopped(Event):
    """Every plugin is stopped and the runtime is done."""

    topic = "hotbus.runtime.stopped"

    duration_ms: Milliseconds = Field(default=0.0, description="How long stopping took.")


# -- files ------------------------------------------------------------------------------------


class FileChanged(Event):
    """One raw file-system event, as the watcher saw it."""

    topic = "hotbus.file.changed"

    kind: FileChangeKind
    path: Path = Field(description="The path the event is about (the source of a move).")
    dest_path: Path | None = Field(default=None, description="Where a move went.")
    is_directory: bool = False


class FileUnreadable(Event):
    """A plugin file is there but cannot be read: it is neither loaded nor unloaded.

    What runs keeps running; once the file can be read (its permissions fixed), it settles.
    """

    topic = "hotbus.file.unreadable"

    path: Path
    error: ErrorInfo = Field(description="Why it cannot be read, and what to do about it.")


class FileSettled(Event):
    """The debounced outcome for one path."""

    topic = "hotbus.file.settled"

    path: Path
    outcome: SettleOutcome
    content_hash: str | None = Field(
        default=None, description="Hash of the content now on disk; none when deleted."
    )
    absorbed: NonNegativeInt = Field(description="How many raw events this outcome absorbed.")
    waited_ms: Milliseconds = Field(
        default=0.0, description="From the first raw event to settling."
    )


# -- plugins ----------------------------------------------------------------------------------


class PluginDiscovered(Event):
    """A plugin source was found."""

    topic = "hotbus.plugin.discovered"

    plugin: PluginName = Field(
        description="The source's name: module stem, package or entry point."
    )
    kind: SourceKind
    path: Path | None = Field(default=None, description="The module file or package directory.")
    entry_point: str | None = Field(default=None, description="'module:attr' of an entry point.")


class PluginStateChanged(Event):
    """A plugin moved from one lifecycle state to another."""

    topic = "hotbus.plugin.state"

    plugin: PluginName
    previous: PluginState | None = Field(description="The state it left; none when just seen.")
    state: PluginState = Field(description="The state it entered.")
    version: str | None = Field(default=None, description="The version concerned, when known.")
    reason: str = Field(default="", description="Why, in a few words.")


class PluginFailed(Event):
    """A plugin failed at a phase; the runtime went on."""

    topic = "hotbus.plugin.failed"

    plugin: PluginName
    phase: Phase
    version: str | None = None
    error: ErrorInfo
    plan_id: str | None = Field(
        default=None,
        description=(
            "The reload transaction whose outcome (hotbus.reload.rejected or "
            "hotbus.reload.rolled_back) reports this same failure; none when no outcome does "
            "(at start-up, or a retiring version failing to tear down in a committed reload)."
        ),
    )


class PluginLeaked(Event):
    """An unloaded plugin version is still alive after a garbage collection."""

    topic = "hotbus.plugin.leaked"

    plugin: PluginName
    version: str
    referrers: list[str] = Field(
        default_factory=list, description="Descriptions of what still refers to it."
    )


# -- reload ------------------------------------------------------------------------------------


class ReloadRequested(Event):
    """Someone (a file change, a person, a cascade) asked for a plugin source to be (re)loaded."""

    topic = "hotbus.reload.requested"

    plugin: PluginName
    action: ReloadAction = ReloadAction.RELOAD
    reason: ReloadReason
    paths: list[Path] = Field(default_factory=list, description="Files that triggered it.")


class ReloadPlanned(Event):
    """The plan of one reload transaction: triggers and the ordered closure."""

    topic = "hotbus.reload.planned"

    plan_id: str
    triggers: list[PluginName] = Field(description="Plugins whose reload was requested.")
    members: list[PluginName] = Field(
        description="Every plugin in the transaction, in dependency (setup) order."
    )
    joining: list[PluginName] = Field(
        default_factory=list, description="Blocked plugins that start with this plan."
    )


class ReloadRejected(Event):
    """A member's new version failed staging (or needs what is missing).

    It keeps its running version, if it has one (``serving``). The plan's other members go
    ahead on their own (their commit is a separate event), against that running version; those
    that depend on it while it has none wait, blocked, until it runs (``held``).
    """

    topic = "hotbus.reload.rejected"

    plan_id: str
    plugin: PluginName = Field(description="The member that failed staging.")
    phase: Phase
    error: ErrorInfo
    members: list[PluginName] = Field(
        default_factory=list,
        description="It, then the members left untouched because they depend on it.",
    )
    held: list[PluginName] = Field(
        default_factory=list,
        description="Members that depend on it and wait, blocked, until a version of it runs.",
    )
    serving: bool = Field(
        default=False, description="Whether a running version of it keeps serving."
    )


class ReloadCommitted(Event):
    """A reload transaction succeeded."""

    topic = "hotbus.reload.committed"

    plan_id: str
    changes: list[VersionChange] = Field(description="Each member, in setup order.")
    durations: PhaseDurations


class ReloadPatched(Event):
    """A save that changed only function bodies was patched into the running version.

    Each changed function got its new code; the plugin instance, its attributes, subscriptions
    and tasks were kept (no teardown, no setup, no hand-off). The plugins that depend on it keep
    running: a body-only change keeps the interface they use (``dependents``). If replacing
    the code failed part way (``restored``), every function got its old code back, the version
    did not change, and the save takes the full transaction next.
    """

    topic = "hotbus.reload.patched"

    plan_id: str
    plugin: PluginName
    old_version: str = Field(description="The version that was serving.")
    new_version: str = Field(description="The version now serving (the old one if restored).")
    functions: list[str] = Field(
        default_factory=list,
        description="The functions whose bodies changed (Class.method; helper.function).",
    )
    relocated: NonNegativeInt = Field(
        default=0,
        description="Functions whose code only moved to other lines, patched for tracebacks.",
    )
    dependents: list[PluginName] = Field(
        default_factory=list,
        description="Active plugins depending on it, left running: no cascade was needed.",
    )
    duration_ms: Milliseconds = Field(description="Comparing the versions and patching.")
    restored: bool = Field(
        default=False, description="Patching failed part way and every function was restored."
    )
    error: ErrorInfo | None = Field(default=None, description="Why patching failed, if it did.")


class ReloadRolledBack(Event):
    """The swap failed; every member is back on its old version and state."""

    topic = "hotbus.reload.rolled_back"

    plan_id: str
    plugin: PluginName = Field(description="The member whose step failed.")
    phase: Phase
    error: ErrorInfo
    members: list[PluginName] = Field(default_factory=list, description="Members restored.")


class ReloadThrottled(Event):
    """A plugin keeps changing its own files as it starts: its next reload waits.

    Each of the last ``reloads`` changes of its files was written while the plugin was starting
    (its setup, or a task it started, writing its own source): reloading at once would go on
    forever. The next reload happens after ``delay_s``, loading what is on disk then; changes
    meanwhile join it. Published once per step of the backoff, whose delay doubles while the
    loop goes on; a change written at any other time (an edit) reloads at once and ends it.
    """

    topic = "hotbus.reload.throttled"

    plugin: PluginName
    reloads: NonNegativeInt = Field(
        description="How many changes in a row were written while the plugin was starting."
    )
    delay_s: NonNegativeFloat = Field(description="How long the next reload waits.")
    paths: list[Path] = Field(default_factory=list, description="The files that changed.")
    hint: str = Field(default="", description="What causes it and how to stop it.")


class ConfigChanged(Event):
    """A plugin's config section changed on disk."""

    topic = "hotbus.config.changed"

    plugin: PluginName
    path: Path | None = None
    fields: list[str] = Field(default_factory=list, description="Top-level keys that changed.")


# -- bus ---------------------------------------------------------------------------------------


class HandlerFailed(Event):
    """A subscriber raised or timed out; delivery went on."""

    topic = "hotbus.handler.failed"

    handler: str = Field(description="Qualified name of the handler.")
    owner: str = Field(description="Who subscribed it: a plugin name or the runtime.")
    event_topic: str = Field(description="The topic being delivered.")
    failed_event_id: UUID = Field(description="The event_id of the event being delivered.")
    error: ErrorInfo
    timed_out: bool = False


class LoopStalled(Event):
    """Plugin code held the event loop past the stall threshold: nothing else ran meanwhile.

    Published (from the monitor thread, so delivered once the loop runs again) once per stall;
    past ``stall_limit_s`` the code is interrupted and fails like any error of that plugin.
    """

    topic = "hotbus.loop.stalled"

    plugin: PluginName = Field(description="The plugin whose code held the loop.")
    doing: str = Field(
        description="What it was doing: a hook (setup, teardown, ...), a handler or a task."
    )
    held_ms: Milliseconds = Field(description="How long the loop had been held when seen.")
    file: Path | None = Field(default=None, description="The plugin file it was running.")
    line: int | None = Field(default=None, description="The line it was running.")
    interrupted: bool = Field(
        default=False, description="Whether the runtime raised PluginInterrupted into it."
    )


class PluginStatus(_Part):
    """One row of `Runtime.status()`: where a plugin is and why."""

    name: PluginName
    state: PluginState
    version: str | None = None
    source: str = Field(description="The module, package or entry point it comes from.")
    kind: SourceKind
    enabled: bool = True
    reason: str = Field(default="", description="Why it is in this state (blocked, failed).")
    error: ErrorInfo | None = None
    requires: list[str] = Field(default_factory=list)
    files: list[Path] = Field(default_factory=list, description="Files it owns.")


# -- watching and hand-off ---------------------------------------------------------------------


class WatcherStarted(Event):
    """File watching started (or restarted) on these paths."""

    topic = "hotbus.watcher.started"

    observer: str = Field(description="Which observer watches: 'native' or 'polling'.")
    paths: list[Path] = Field(default_factory=list)


class WatcherStopped(Event):
    """File watching stopped; no watcher thread is left running."""

    topic = "hotbus.watcher.stopped"

    reason: str = ""


class WatcherRestarted(Event):
    """The observer thread died; the runtime noticed and started watching again."""

    topic = "hotbus.watcher.restarted"

    observer: str
    reason: str = Field(description="What happened to the previous observer.")


class WatcherFellBack(Event):
    """The native observer could not start (e.g. the inotify limits); polling instead."""

    topic = "hotbus.watcher.fallback"

    observer: str = "polling"
    error: ErrorInfo
    hint: str = Field(default="", description="How to lift the limit.")


class WatcherLost(Event):
    """A watched directory is gone (deleted, moved away, or not there); waiting for it.

    Plugins of a deleted directory unload (their files are gone); those of a directory moved
    away keep serving their last good version. Once a directory is at that path again, it is
    watched (`WatcherFound`).
    """

    topic = "hotbus.watcher.lost"

    path: Path = Field(description="The directory that is gone.")
    reason: str = Field(description="'deleted', 'moved away' or 'missing'.")
    deleted: bool = Field(description="Whether it was deleted (its plugins unload).")


class WatcherFound(Event):
    """A lost directory is back and watched again; what differs from what runs settles."""

    topic = "hotbus.watcher.found"

    path: Path


class HandlersCancelled(Event):
    """In-flight handlers of a reloading plugin ran past the quiesce limit and were cancelled."""

    topic = "hotbus.reload.handlers_cancelled"

    plugin: PluginName
    cancelled: NonNegativeInt
    timeout_s: NonNegativeFloat


class StateDiscarded(Event):
    """A reloaded plugin starts fresh: its old state could not be handed over."""

    topic = "hotbus.plugin.state_discarded"

    plugin: PluginName
    old_schema_version: int | None = None
    new_schema_version: int | None = None
    reason: str


class StateMismatch(Event):
    """A reloaded plugin got its state, but the data did not fit its `State` model exactly.

    The old version handed over keys that the new model (of the same ``schema_version``) does
    not declare, typically a field renamed or removed without a new schema version: their
    values are lost. The reload went on with what did validate.
    """

    topic = "hotbus.plugin.state_mismatch"

    plugin: PluginName
    schema_version: int = Field(description="The schema version both versions declare.")
    model: str = Field(description="The class name of the new version's state model.")
    dropped: list[str] = Field(
        description="Keys of the handed-over data the model does not declare ('a.b', 'items[].c')."
    )
    defaulted: list[str] = Field(
        default_factory=list,
        description="Fields of the model the data did not set: they hold their defaults.",
    )
    hint: str = Field(default="", description="How to keep the values.")


# -- state across restarts ---------------------------------------------------------------------


class StateRestored(Event):
    """The state saved by an earlier run was read from the state database at start.

    Each plugin named gets its saved state when it starts, through the same path as a reload's
    hand-off (``schema_version``, ``migrate_state``).
    """

    topic = "hotbus.state.restored"

    path: Path = Field(description="The state database.")
    plugins: list[PluginName] = Field(
        default_factory=list, description="The plugins that have saved state, by name."
    )


class StateSaved(Event):
    """Plugins' state was written to the state database, in one SQLite transaction."""

    topic = "hotbus.state.saved"

    path: Path = Field(description="The state database.")
    plugins: list[PluginName] = Field(
        default_factory=list, description="The plugins whose state changed and was written."
    )
    reason: str = Field(
        description=(
            "'commit' (a reload committed), 'period', 'stop' (the runtime, or a plugin while "
            "the runtime runs, stopped) or 'manual' (asked for)."
        )
    )
    duration_ms: Milliseconds = Field(
        default=0.0, description="From asking the plugins for their state to the commit."
    )


class StateSaveFailed(Event):
    """State could not be saved: the previous saved state stays as it was.

    For one plugin (its ``export_state`` failed, or its state holds a secret of its config),
    or for the whole database (``plugin`` is none: a full disk, a file system gone read-only).
    """

    topic = "hotbus.state.save_failed"

    path: Path = Field(description="The state database.")
    plugin: PluginName | None = Field(
        default=None, description="The plugin whose state was not saved; none for all of them."
    )
    error: ErrorInfo = Field(description="What went wrong, and what to do about it.")


class StateStoreSetAside(Event):
    """The state database could not be read: it was renamed, and plugins start fresh.

    Nothing of it is deleted: the file keeps its content under ``moved_to``; a new database is
    made at ``path``.
    """

    topic = "hotbus.state.set_aside"

    path: Path = Field(description="The state database that could not be read.")
    moved_to: Path | None = Field(
        default=None, description="Where it was moved; none when it could not be moved."
    )
    error: ErrorInfo = Field(description="Why it could not be read.")
    hint: str = Field(default="", description="What to do about it.")


# -- the fleet ---------------------------------------------------------------------------------


class FleetConnected(Event):
    """This host's bridge to the fleet is connected to NATS (at start, and again after a loss).

    Events waiting in the outbox while it was away are sent now; events of the other hosts
    that this host missed come from its durable consumer.
    """

    topic = "hotbus.fleet.connected"

    fleet: str = Field(description="The fleet's name.")
    host: str = Field(description="This host's name in the fleet.")
    server: str = Field(description="The NATS server, its password masked.")
    reconnected: bool = Field(default=False, description="Whether the connection came back.")
    waiting: NonNegativeInt = Field(
        default=0, description="Events of this host in the outbox, waiting to be sent."
    )


class FleetDisconnected(Event):
    """This host's bridge lost NATS: local events wait in the bounded outbox until it is back."""

    topic = "hotbus.fleet.disconnected"

    fleet: str = Field(description="The fleet's name.")
    host: str = Field(description="This host's name in the fleet.")
    server: str = Field(description="The NATS server, its password masked.")
    reason: str = Field(default="", description="What happened, if known.")


class FleetDropped(Event):
    """The outbox was full (NATS away too long): events of this host were not sent to the fleet.

    Published once the bridge can say so (the connection back, or the bridge stopping), with
    how many were dropped since the last report.
    """

    topic = "hotbus.fleet.dropped"

    fleet: str = Field(description="The fleet's name.")
    host: str = Field(description="This host's name in the fleet.")
    dropped: NonNegativeInt = Field(description="Events dropped since the last report.")
    total: NonNegativeInt = Field(description="Events dropped since the bridge started.")
    limit: NonNegativeInt = Field(description="The outbox's size (setting fleet_outbox).")
