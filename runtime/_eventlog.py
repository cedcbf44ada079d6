"""Logging the runtime's events: one concise line per ``hotbus.*`` event, as a bus subscriber.

`EventLogger` is an ordinary bus subscriber, like any plugin's: it subscribes one sync handler to
``hotbus.>`` and writes each event it receives to a named logger (``hotbus.runtime``,
``hotbus.file``, ``hotbus.plugin``, ``hotbus.reload``, ``hotbus.config``; failures of handlers go
to ``hotbus.bus``). The runtime publishes its steps as events and this module turns them into
text: detach it and the steps go unlogged, replace it and the lines change.

Routing is by topic string, never by class: a table maps each topic to a small formatter. A topic
missing from the table (a newer vocabulary) is logged at DEBUG with its fields.

The console reads these lines, so each outcome is one line at INFO or above: the steps of a
reload (its request, the state changes of its members, a failure its outcome reports again) are
DEBUG, and the outcome line (committed, rejected, rolled back) says what happened. A line stays
short: a long list of plugins is cut to its first names and a count, with the whole list at DEBUG.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from types import TracebackType
from typing import Any, Final, Self, final

from hotbus.bus import Bus
from hotbus.runtime._listener import Listener
from hotbus.schemas import (
    AdminCommand,
    AdminOutcome,
    ConfigChanged,
    ErrorInfo,
    Event,
    FileChanged,
    FileSettled,
    FileUnreadable,
    FleetConnected,
    FleetDisconnected,
    FleetDropped,
    HandlerFailed,
    HandlersCancelled,
    LoopStalled,
    NickTaken,
    PluginDiscovered,
    PluginFailed,
    PluginLeaked,
    PluginState,
    PluginStateChanged,
    ReloadAction,
    ReloadCommitted,
    ReloadPatched,
    ReloadPlanned,
    ReloadReason,
    ReloadRejected,
    ReloadRequested,
    ReloadRolledBack,
    ReloadThrottled,
    RuntimeStarted,
    RuntimeStopped,
    RuntimeStopping,
    StateDiscarded,
    StateMismatch,
    StateRestored,
    StateSaved,
    StateSaveFailed,
    StateStoreSetAside,
    TransportConnected,
    TransportDisconnected,
    VersionChange,
    WatcherFellBack,
    WatcherFound,
    WatcherLost,
    WatcherRestarted,
    WatcherStarted,
    WatcherStopped,
)

__all__ = ["EventLogger"]

#: The pattern the logger subscribes to: every event of hotbus's own vocabulary.
_PATTERN: Final = "hotbus.>"
#: Its priority: before the other handlers of the same event (the recorders' and the JSON lines'
#: excepted), so that an event's line comes before the lines of what handlers do about it (a
#: settled file's line before the reload it requests).
_PRIORITY: Final = 1 << 30
#: How long an INFO line may grow before a list in it is cut short (the rest goes to DEBUG).
_WIDTH: Final = 120

_bus_logger = logging.getLogger("hotbus.bus")

#: Topics whose lines go elsewhere than ``"hotbus." + second token``.
_LOGGER_NAMES: Final = {HandlerFailed.topic: "hotbus.bus"}

# The envelope every event carries; the unknown-topic line shows only the event's own fields.
_ENVELOPE: Final[set[str]] = set(Event.model_fields)

_INFO_STATES: Final = frozenset({PluginState.ACTIVE, PluginState.UNLOADED, PluginState.BLOCKED})
#: States that a reload's outcome line reports for its members: their own lines are DEBUG then.
_STEP_STATES: Final = frozenset({PluginState.ACTIVE, PluginState.UNLOADED})
_STATE_MARKS: Final = {PluginState.ACTIVE: "✅ ", PluginState.BLOCKED: "⏸ "}
_ACTION_VERBS: Final = {
    ReloadAction.RELOAD: "reloading",
    ReloadAction.LOAD: "loading",
    ReloadAction.UNLOAD: "unloading",
}

#: A formatter writes one event (of the topic it is registered for) to the logger it is given.
_Formatter = Callable[[logging.Logger, Any], None]


@lru_cache(maxsize=128)
def _logger_for(topic: str) -> logging.Logger:
    """The logger for ``topic``: ``"hotbus." + its second token``, except the overrides."""
    name = _LOGGER_NAMES.get(topic)
    if name is None:
        name = "hotbus." + topic.split(".", 2)[1]
    return logging.getLogger(name)


_Message = tuple[str, tuple[object, ...]]


def _with_error(fmt: str, args: tuple[object, ...], error: ErrorInfo) -> _Message:
    """Append ``": type: message"`` and, when known, ``" (file.py:42)"`` to a message."""
    where = error.location()
    if where:
        return fmt + ": %s: %s (%s)", (*args, error.type, error.message, where)
    return fmt + ": %s: %s", (*args, error.type, error.message)


def _log_error(logger: logging.Logger, level: int, message: _Message, error: ErrorInfo) -> None:
    """Log ``message`` at ``level``, then the error's traceback, if any, at DEBUG."""
    fmt, args = message
    logger.log(level, fmt, *args)
    if error.traceback and logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s", error.traceback)


def _count(number: int, noun: str, plural: str = "") -> str:
    """``"1 plugin"``, ``"2 plugins"`` (``plural`` when adding an "s" is not it)."""
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"


def _listing(items: list[str], room: int) -> tuple[str, bool]:
    """``items`` joined by commas in at most about ``room`` characters; whether all fit.

    What does not fit is cut to the first items and ``"... and 24 more"``.
    """
    text = ", ".join(items)
    if len(text) <= room:
        return text, True
    shown: list[str] = []
    used = 0
    for number, item in enumerate(items):
        tail = len(f", ... and {len(items) - number - 1} more")
        if shown and used + 2 + len(item) + tail > room:
            break
        used += len(item) + (2 if shown else 0)
        shown.append(item)
    rest = len(items) - len(shown)
    return f"{', '.join(shown)}, ... and {rest} more", False


# -- runtime ----------------------------------------------------------------------------------


def _runtime_started(logger: logging.Logger, event: RuntimeStarted) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    watching = "on" if event.watching else "off"
    active = _count(len(event.plugins), "plugin") + " active"
    if event.plugins:
        head = f"▶ hotbus started: {active} (), watching {watching}, in {event.duration_ms:.1f} ms"
        listed, whole = _listing(event.plugins, _WIDTH - len(head))
        logger.info(
            "▶ hotbus started: %s (%s), watching %s, in %.1f ms",
            active,
            listed,
            watching,
            event.duration_ms,
        )
        if not whole:
            logger.debug("active: %s", ", ".join(event.plugins))
    else:
        logger.info(
            "▶ hotbus started: %s, watching %s, in %.1f ms", active, watching, event.duration_ms
        )


def _runtime_stopping(logger: logging.Logger, event: RuntimeStopping) -> None:
    if event.reason:
        logger.info("⏹ hotbus stopping (%s)", event.reason)
    else:
        logger.info("⏹ hotbus stopping")


def _runtime_stopped(logger: logging.Logger, event: RuntimeStopped) -> None:
    logger.info("⏹ hotbus stopped in %.1f ms", event.duration_ms)


# -- files ------------------------------------------------------------------------------------


def _file_changed(logger: logging.Logger, event: FileChanged) -> None:
    if event.dest_path is None:
        logger.debug("file %s %s", event.kind, event.path)
    else:
        logger.debug("file %s %s -> %s", event.kind, event.path, event.dest_path)


def _file_unreadable(logger: logging.Logger, event: FileUnreadable) -> None:
    logger.warning("⚠ %s (what runs keeps running)", event.error.message)


def _file_settled(logger: logging.Logger, event: FileSettled) -> None:
    logger.debug(
        "file %s %s (%s, %.1f ms)",
        event.outcome,
        event.path,
        _count(event.absorbed, "raw event"),
        event.waited_ms,
    )


# -- plugins ----------------------------------------------------------------------------------


def _plugin_discovered(logger: logging.Logger, event: PluginDiscovered) -> None:
    where = event.path if event.path is not None else event.entry_point
    if where is None:
        logger.debug("found plugin %s (%s)", event.plugin, event.kind)
    else:
        logger.debug("found plugin %s (%s) at %s", event.plugin, event.kind, where)


def _plugin_state(logger: logging.Logger, event: PluginStateChanged, *, step: bool = False) -> None:
    """The transition; a ``step`` of a reload (its outcome line tells) is DEBUG, unless the
    plugin ends up blocked, which no outcome line says."""
    info = event.state in _INFO_STATES and not (step and event.state in _STEP_STATES)
    level = logging.INFO if info else logging.DEBUG
    if not logger.isEnabledFor(level):
        return
    fmt = _STATE_MARKS.get(event.state, "") + "%s %s -> %s"
    args: tuple[object, ...] = (event.plugin, event.previous or "-", event.state)
    if event.version:
        fmt += " %s"
        args = (*args, event.version)
    if event.reason:
        fmt += ": %s"
        args = (*args, event.reason)
    logger.log(level, fmt, *args)


def _plugin_failed(logger: logging.Logger, event: PluginFailed) -> None:
    """ERROR, unless a reload's outcome (rejected, rolled back) reports the same failure: DEBUG."""
    level = logging.DEBUG if event.plan_id is not None else logging.ERROR
    if not logger.isEnabledFor(level):
        return
    fmt, args = _with_error("❌ %s failed at %s", (event.plugin, event.phase), event.error)
    if event.plan_id is not None:  # the outcome's line comes with the traceback
        logger.debug(fmt, *args)
    else:
        _log_error(logger, level, (fmt, args), event.error)


def _plugin_leaked(logger: logging.Logger, event: PluginLeaked) -> None:
    if not logger.isEnabledFor(logging.WARNING):
        return
    logger.warning(
        "⚠ %s %s is still alive after unload; held by: %s",
        event.plugin,
        event.version,
        "; ".join(event.referrers) or "unknown",
    )


# -- reload -----------------------------------------------------------------------------------


def _reload_requested(logger: logging.Logger, event: ReloadRequested) -> None:
    """DEBUG: a step; the outcome line says what came of it."""
    verb = _ACTION_VERBS[event.action]
    if event.reason == ReloadReason.FILE:
        logger.debug("🔄 %s %s", verb, event.plugin)
    else:
        logger.debug("🔄 %s %s (%s)", verb, event.plugin, event.reason)


def _reload_planned(logger: logging.Logger, event: ReloadPlanned) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return
    members = " -> ".join(event.members)
    if event.joining:
        logger.debug("plan %s: %s; joining %s", event.plan_id, members, ", ".join(event.joining))
    else:
        logger.debug("plan %s: %s", event.plan_id, members)


def _verb_of(change: VersionChange) -> str:
    """What happened to one member: loaded, reloaded, unloaded, or restarted on the same version
    (a dependent of a plugin that moved)."""
    if change.new_version is None:
        return "unloaded"
    if change.old_version is None:
        return "loaded"
    return "restarted" if change.old_version == change.new_version else "reloaded"


def _reload_committed(logger: logging.Logger, event: ReloadCommitted) -> None:
    """One line: the plugin and its version, or a count per verb and the names.

    Unloads take no measured time (they are not staged): their line has no duration.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    changes = event.changes
    if not changes:
        logger.info(
            "✅ plan %s committed without changes in %.1f ms", event.plan_id, event.durations.total
        )
        return
    timed = any(change.new_version is not None for change in changes)
    took = f" in {event.durations.total:.1f} ms" if timed else ""
    if len(changes) == 1:
        (change,) = changes
        if change.new_version is None:
            logger.info("✅ %s unloaded%s", change.plugin, took)
        elif change.not_patched:
            logger.info(
                "✅ %s %s %s%s (not patched: %s)",
                change.plugin,
                change.new_version,
                _verb_of(change),
                took,
                change.not_patched,
            )
        else:
            logger.info("✅ %s %s %s%s", change.plugin, change.new_version, _verb_of(change), took)
        return
    verbs: dict[str, int] = {}
    for change in changes:
        verb = _verb_of(change)
        verbs[verb] = verbs.get(verb, 0) + 1
    counts = [f"{number} {verb}" for verb, number in verbs.items()]
    first, number = next(iter(verbs.items()))
    counts[0] = f"{_count(number, 'plugin')} {first}"
    head = f"✅ {', '.join(counts)}{took}: "
    versions = [
        f"{c.plugin} {c.new_version}" if c.new_version is not None else c.plugin for c in changes
    ]
    listed, whole = _listing(versions, _WIDTH - len(head))
    if not whole:
        listed, _ = _listing([c.plugin for c in changes], _WIDTH - len(head))
    logger.info("%s%s", head, listed)
    if not whole and logger.isEnabledFor(logging.DEBUG):
        for change in changes:
            logger.debug("  %s %s %s", change.plugin, change.new_version or "-", _verb_of(change))


def _reload_patched(logger: logging.Logger, event: ReloadPatched) -> None:
    """``🩹 dice 1.0.0+ab12cd patched in 0.4 ms: Dice.roll``; a patch undone is a warning."""
    if event.error is not None:
        if logger.isEnabledFor(logging.WARNING):
            fmt, args = _with_error(
                "⚠ %s could not be patched, every function was restored; it reloads in full",
                (event.plugin,),
                event.error,
            )
            _log_error(logger, logging.WARNING, (fmt, args), event.error)
        return
    if not logger.isEnabledFor(logging.INFO):
        return
    head = f"🩹 {event.plugin} {event.new_version} patched in {event.duration_ms:.1f} ms"
    if event.functions:
        listed, _ = _listing(event.functions, _WIDTH - len(head) - 2)
    else:
        listed = "no function changed"
    kept = (
        f"; {_count(len(event.dependents), 'dependent')} kept running" if event.dependents else ""
    )
    logger.info("%s: %s%s", head, listed, kept)


def _reload_rejected(logger: logging.Logger, event: ReloadRejected) -> None:
    if not logger.isEnabledFor(logging.ERROR):
        return
    fmt, args = _with_error("❌ %s rejected at %s", (event.plugin, event.phase), event.error)
    if event.serving:
        fmt += "; the running version keeps serving"
    if event.held:
        held, _ = _listing(event.held, _WIDTH // 2)
        fmt += "; %s wait%s for it to load"
        args = (*args, held, "s" if len(event.held) == 1 else "")
    _log_error(logger, logging.ERROR, (fmt, args), event.error)


def _reload_rolled_back(logger: logging.Logger, event: ReloadRolledBack) -> None:
    if not logger.isEnabledFor(logging.ERROR):
        return
    fmt, args = _with_error("🔥 %s failed at %s", (event.plugin, event.phase), event.error)
    restored, _ = _listing(event.members or [event.plugin], _WIDTH // 2)
    _log_error(logger, logging.ERROR, (fmt + "; rolled back %s", (*args, restored)), event.error)


def _reload_throttled(logger: logging.Logger, event: ReloadThrottled) -> None:
    if not logger.isEnabledFor(logging.WARNING):
        return
    files = ", ".join(path.name for path in event.paths) or "its files"
    fmt = "⚠ %s reloads itself: %s changed %s in a row while it was starting; next reload in %g s"
    args: tuple[object, ...] = (event.plugin, files, _count(event.reloads, "time"), event.delay_s)
    if event.hint:
        fmt += "; %s"
        args = (*args, event.hint)
    logger.warning(fmt, *args)


# -- config and bus ---------------------------------------------------------------------------


def _config_changed(logger: logging.Logger, event: ConfigChanged) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    if event.fields:
        logger.info("config of %s changed: %s", event.plugin, ", ".join(event.fields))
    else:
        logger.info("config of %s changed", event.plugin)


def _handler_failed(logger: logging.Logger, event: HandlerFailed) -> None:
    if not logger.isEnabledFor(logging.ERROR):
        return
    error = event.error
    fmt, args = _with_error(
        "handler %s of %s failed on %s", (event.handler, event.owner, event.event_topic), error
    )
    if event.timed_out:
        fmt += " (timed out)"
    _log_error(logger, logging.ERROR, (fmt, args), error)


# -- watching and hand-off --------------------------------------------------------------------


def _watcher_started(logger: logging.Logger, event: WatcherStarted) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    paths = ", ".join(str(p) for p in event.paths) or "nothing"
    logger.info("👀 watching %s (%s)", paths, event.observer)


def _watcher_stopped(logger: logging.Logger, event: WatcherStopped) -> None:
    if event.reason:
        logger.info("watching stopped (%s)", event.reason)
    else:
        logger.info("watching stopped")


def _watcher_restarted(logger: logging.Logger, event: WatcherRestarted) -> None:
    logger.warning("⚠ watching again (%s): %s", event.observer, event.reason)


def _watcher_fallback(logger: logging.Logger, event: WatcherFellBack) -> None:
    logger.warning(
        "⚠ watching by %s: %s: %s; %s",
        event.observer,
        event.error.type,
        event.error.message,
        event.hint,
    )


def _watcher_lost(logger: logging.Logger, event: WatcherLost) -> None:
    serving = "its plugins unload" if event.deleted else "its plugins keep serving"
    logger.warning("⚠ %s is %s: %s; waiting for it to come back", event.path, event.reason, serving)


def _watcher_found(logger: logging.Logger, event: WatcherFound) -> None:
    logger.info("👀 %s is back: watching it again", event.path)


def _handlers_cancelled(logger: logging.Logger, event: HandlersCancelled) -> None:
    logger.warning(
        "⚠ %s: cancelled %s still running after %g s",
        event.plugin,
        _count(event.cancelled, "in-flight handler"),
        event.timeout_s,
    )


def _state_restored(logger: logging.Logger, event: StateRestored) -> None:
    names, _ = _listing(event.plugins, 60)
    logger.info("💾 saved state of %s read from %s", names, event.path)


def _state_saved(logger: logging.Logger, event: StateSaved) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "💾 state of %s saved (%s) in %.1f ms",
            ", ".join(event.plugins),
            event.reason,
            event.duration_ms,
        )


def _state_save_failed(logger: logging.Logger, event: StateSaveFailed) -> None:
    if event.plugin is not None:
        logger.warning("⚠ %s: state not saved: %s", event.plugin, event.error.message)
    else:
        logger.error("❌ state not saved: %s", event.error.message)


def _state_set_aside(logger: logging.Logger, event: StateStoreSetAside) -> None:
    logger.error(
        "❌ state database %s cannot be read (%s: %s): %s",
        event.path,
        event.error.type,
        event.error.message,
        event.hint,
    )


def _state_discarded(logger: logging.Logger, event: StateDiscarded) -> None:
    logger.warning("⚠ %s starts fresh: %s", event.plugin, event.reason)


def _state_mismatch(logger: logging.Logger, event: StateMismatch) -> None:
    if not logger.isEnabledFor(logging.WARNING):
        return
    fmt = "⚠ %s: state hand-off dropped %s (not declared by %s, schema %d)"
    args: tuple[object, ...] = (
        event.plugin,
        ", ".join(event.dropped),
        event.model,
        event.schema_version,
    )
    if event.defaulted:
        fmt += " and used defaults for %s"
        args = (*args, ", ".join(event.defaulted))
    if event.hint:
        fmt += "; %s"
        args = (*args, event.hint)
    logger.warning(fmt, *args)


def _loop_stalled(logger: logging.Logger, event: LoopStalled) -> None:
    # The monitor thread already wrote the warning when it saw the stall (the loop, and so
    # this subscriber, could not run then): here only the record of its delivery.
    if not logger.isEnabledFor(logging.DEBUG):
        return
    where = f" ({event.file.name}:{event.line})" if event.file is not None and event.line else ""
    logger.debug(
        "loop.stalled: %s held the loop %.0f ms in %s%s%s",
        event.plugin,
        event.held_ms,
        event.doing,
        where,
        ", interrupted" if event.interrupted else "",
    )


def _transport_connected(logger: logging.Logger, event: TransportConnected) -> None:
    where = f" to {event.server}" if event.server else ""
    nick = f" as {event.nick}" if event.nick else ""
    joins = f", joining {', '.join(event.channels)}" if event.channels else ""
    logger.info("🔌 %s connected%s%s%s", event.transport, where, nick, joins)


def _transport_disconnected(logger: logging.Logger, event: TransportDisconnected) -> None:
    where = f" from {event.server}" if event.server else ""
    if event.retry_in_s is None:
        logger.info("%s disconnected%s (%s)", event.transport, where, event.reason)
    else:
        logger.warning(
            "⚠ %s disconnected%s (%s); trying again in %g s",
            event.transport,
            where,
            event.reason,
            event.retry_in_s,
        )


def _nick_taken(logger: logging.Logger, event: NickTaken) -> None:
    logger.warning(
        "⚠ %s: the nick %s is taken; trying %s", event.transport, event.wanted, event.using
    )


def _admin_command(logger: logging.Logger, event: AdminCommand) -> None:
    who = f"{event.user} ({event.mask})" if event.mask else event.user
    command = f"!hotbus {event.command}".rstrip()
    if event.outcome is AdminOutcome.REFUSED:
        logger.warning("⚠ %s on %s is no admin: refused %s", who, event.transport, command)
    elif event.outcome is AdminOutcome.LIMITED:
        logger.warning(
            "⚠ %s on %s gives commands too fast: ignored %s", who, event.transport, command
        )
    else:
        logger.info("🔧 %s on %s: %s: %s", who, event.transport, command, event.answer)


# -- the fleet --------------------------------------------------------------------------------


def _fleet_connected(logger: logging.Logger, event: FleetConnected) -> None:
    again = "connected again" if event.reconnected else "connected"
    waiting = f", sending {_count(event.waiting, 'waiting event')}" if event.waiting else ""
    logger.info(
        "🔗 fleet %s: %s to %s as host %s%s", event.fleet, again, event.server, event.host, waiting
    )


def _fleet_disconnected(logger: logging.Logger, event: FleetDisconnected) -> None:
    reason = f" ({event.reason})" if event.reason else ""
    logger.warning(
        "⚠ fleet %s: disconnected from %s%s; events wait in the outbox until it is back",
        event.fleet,
        event.server,
        reason,
    )


def _fleet_dropped(logger: logging.Logger, event: FleetDropped) -> None:
    logger.warning(
        "⚠ fleet %s: the outbox was full (fleet_outbox = %d): %s not sent to the fleet "
        "(%d in all); raise fleet_outbox, or bring NATS back sooner",
        event.fleet,
        event.limit,
        _count(event.dropped, "event"),
        event.total,
    )


def _unknown(logger: logging.Logger, event: Event) -> None:
    """A topic of a newer vocabulary: its topic and its own fields, at DEBUG."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    logger.debug("%s %s", event.topic, event.model_dump(mode="json", exclude=_ENVELOPE))


#: Topic -> formatter, for every topic of the vocabulary.
_FORMATTERS: Final[dict[str, _Formatter]] = {
    RuntimeStarted.topic: _runtime_started,
    RuntimeStopping.topic: _runtime_stopping,
    RuntimeStopped.topic: _runtime_stopped,
    FileChanged.topic: _file_changed,
    FileSettled.topic: _file_settled,
    FileUnreadable.topic: _file_unreadable,
    PluginDiscovered.topic: _plugin_discovered,
    PluginStateChanged.topic: _plugin_state,
    PluginFailed.topic: _plugin_failed,
    PluginLeaked.topic: _plugin_leaked,
    ReloadRequested.topic: _reload_requested,
    ReloadPlanned.topic: _reload_planned,
    ReloadCommitted.topic: _reload_committed,
    ReloadPatched.topic: _reload_patched,
    ReloadRejected.topic: _reload_rejected,
    ReloadRolledBack.topic: _reload_rolled_back,
    ReloadThrottled.topic: _reload_throttled,
    ConfigChanged.topic: _config_changed,
    HandlerFailed.topic: _handler_failed,
    WatcherStarted.topic: _watcher_started,
    WatcherStopped.topic: _watcher_stopped,
    WatcherRestarted.topic: _watcher_restarted,
    WatcherFellBack.topic: _watcher_fallback,
    WatcherLost.topic: _watcher_lost,
    WatcherFound.topic: _watcher_found,
    HandlersCancelled.topic: _handlers_cancelled,
    StateDiscarded.topic: _state_discarded,
    StateMismatch.topic: _state_mismatch,
    StateRestored.topic: _state_restored,
    StateSaved.topic: _state_saved,
    StateSaveFailed.topic: _state_save_failed,
    StateStoreSetAside.topic: _state_set_aside,
    LoopStalled.topic: _loop_stalled,
    TransportConnected.topic: _transport_connected,
    TransportDisconnected.topic: _transport_disconnected,
    NickTaken.topic: _nick_taken,
    AdminCommand.topic: _admin_command,
    FleetConnected.topic: _fleet_connected,
    FleetDisconnected.topic: _fleet_disconnected,
    FleetDropped.topic: _fleet_dropped,
}


@final
class _Renderer:
    """The handler: writes each event, knowing which plugins a reload is moving.

    A plugin is being reloaded from its request (or its plan) until an outcome names it; its
    state lines meanwhile are steps of the reload, which its outcome line reports.
    """

    __slots__ = ("_reloading",)

    def __init__(self) -> None:
        self._reloading: set[str] = set()

    def __call__(self, event: Event) -> None:
        """Write ``event``; never raise (that would feed the bus a failure)."""
        topic = event.topic
        try:
            logger = _logger_for(topic)
            if isinstance(event, PluginStateChanged):
                _plugin_state(logger, event, step=event.plugin in self._reloading)
            else:
                _FORMATTERS.get(topic, _unknown)(logger, event)
            self._follow(event)
        except Exception as error:
            _bus_logger.warning(
                "could not log %s: %s: %s", topic, type(error).__name__, error, exc_info=error
            )

    def _follow(self, event: Event) -> None:
        reloading = self._reloading
        if isinstance(event, ReloadRequested):
            reloading.add(event.plugin)
        elif isinstance(event, ReloadPlanned):
            reloading.update(event.members)
        elif isinstance(event, ReloadCommitted):
            reloading.difference_update(change.plugin for change in event.changes)
        elif isinstance(event, ReloadPatched):
            reloading.discard(event.plugin)
        elif isinstance(event, ReloadRejected | ReloadRolledBack):
            reloading.discard(event.plugin)
            reloading.difference_update(event.members)
        elif isinstance(event, RuntimeStarted | RuntimeStopping):
            reloading.clear()


@final
class EventLogger:
    """Writes every ``hotbus.*`` event to a named logger, one line each: an ordinary subscriber.

    It subscribes one sync handler to ``hotbus.>`` as the runtime (owner `bus.RUNTIME`), at a
    high priority so that it runs before the other handlers of an event: an event's line comes
    before the lines of what it causes. `attach` and `detach`
    are idempotent; used as a context manager it is attached inside the block only. The handler
    never raises: a line that cannot be formatted is replaced by a warning on ``hotbus.bus``.

    Example::

        bus = Bus()
        with EventLogger(bus):
            await bus.publish(RuntimeStopped(duration_ms=3.2))  # "⏹ hotbus stopped in 3.2 ms"
    """

    __slots__ = ("_bus", "_listener")

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        # The lines are about this host: events of other hosts of a fleet are not written.
        self._listener = Listener(bus, _PATTERN, _Renderer(), priority=_PRIORITY)

    def __repr__(self) -> str:
        state = "attached" if self.attached else "detached"
        return f"<hotbus EventLogger {state} to {self._bus!r}>"

    @property
    def attached(self) -> bool:
        """Whether the logger's subscription is active."""
        return self._listener.attached

    def attach(self) -> None:
        """Subscribe to ``hotbus.>``; does nothing if already attached."""
        self._listener.attach()

    def detach(self) -> None:
        """Cancel the subscription; does nothing if not attached."""
        self._listener.detach()

    def __enter__(self) -> Self:
        self.attach()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.detach()
