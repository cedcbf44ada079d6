"""Logging the runtime's events: one concise line per ``hotbus.*`` event, as a bus subscriber.

`EventLogger` is an ordinary bus subscriber, like any plugin's: it subscribes one sync handler to
``hotbus.>`` and writes each event it receives to a named logger (``hotbus.runtime``,
``hotbus.file``, ``hotbus.plugin``, ``hotbus.reload``, ``hotbus.config``; failures of handlers go
to ``hotbus.bus``). The runtime publishes its steps as events and this module turns them into
text: detach it and the steps go unlogged, replace it and the lines change.

Routing is by topic string, never by class: a table maps each topic to a small formatter. A topic
missing from the table (a newer vocabulary) is logged at DEBUG with its fields.
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
    ConfigChanged,
    ErrorInfo,
    Event,
    FileChanged,
    FileSettled,
    FileUnreadable,
    HandlerFailed,
    HandlersCancelled,
    LoopStalled,
    PluginDiscovered,
    PluginFailed,
    PluginLeaked,
    PluginState,
    PluginStateChanged,
    ReloadAction,
    ReloadCommitted,
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
#: Its priority: after the other handlers of the same event, so the line follows what they did.
_PRIORITY: Final = -1000

_bus_logger = logging.getLogger("hotbus.bus")

#: Topics whose lines go elsewhere than ``"hotbus." + second token``.
_LOGGER_NAMES: Final = {HandlerFailed.topic: "hotbus.bus"}

# The envelope every event carries; the unknown-topic line shows only the event's own fields.
_ENVELOPE: Final[set[str]] = set(Event.model_fields)

_INFO_STATES: Final = frozenset({PluginState.ACTIVE, PluginState.UNLOADED, PluginState.BLOCKED})
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


# -- runtime ----------------------------------------------------------------------------------


def _runtime_started(logger: logging.Logger, event: RuntimeStarted) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    watching = "on" if event.watching else "off"
    if event.plugins:
        logger.info(
            "▶ hotbus started: %d plugins active (%s), watching %s, in %.1f ms",
            len(event.plugins),
            ", ".join(event.plugins),
            watching,
            event.duration_ms,
        )
    else:
        logger.info(
            "▶ hotbus started: 0 plugins active, watching %s, in %.1f ms",
            watching,
            event.duration_ms,
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
        "file %s %s (%d raw events, %.1f ms)",
        event.outcome,
        event.path,
        event.absorbed,
        event.waited_ms,
    )


# -- plugins ----------------------------------------------------------------------------------


def _plugin_discovered(logger: logging.Logger, event: PluginDiscovered) -> None:
    where = event.path if event.path is not None else event.entry_point
    if where is None:
        logger.debug("found plugin %s (%s)", event.plugin, event.kind)
    else:
        logger.debug("found plugin %s (%s) at %s", event.plugin, event.kind, where)


def _plugin_state(logger: logging.Logger, event: PluginStateChanged) -> None:
    level = logging.INFO if event.state in _INFO_STATES else logging.DEBUG
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
    if not logger.isEnabledFor(logging.ERROR):
        return
    fmt, args = _with_error("❌ %s failed at %s", (event.plugin, event.phase), event.error)
    logger.error(fmt, *args)


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
    verb = _ACTION_VERBS[event.action]
    if event.reason == ReloadReason.FILE:
        logger.info("🔄 %s %s", verb, event.plugin)
    else:
        logger.info("🔄 %s %s (%s)", verb, event.plugin, event.reason)


def _reload_planned(logger: logging.Logger, event: ReloadPlanned) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return
    members = " -> ".join(event.members)
    if event.joining:
        logger.debug("plan %s: %s; joining %s", event.plan_id, members, ", ".join(event.joining))
    else:
        logger.debug("plan %s: %s", event.plan_id, members)


def _version_of(change: VersionChange) -> str:
    return change.new_version if change.new_version is not None else "(unloaded)"


def _reload_committed(logger: logging.Logger, event: ReloadCommitted) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    total = event.durations.total
    changes = event.changes
    if len(changes) == 1:
        (change,) = changes
        if change.new_version is None:
            logger.info("✅ %s unloaded in %.1f ms", change.plugin, total)
        else:
            verb = "loaded" if change.old_version is None else "reloaded"
            logger.info("✅ %s %s %s in %.1f ms", change.plugin, change.new_version, verb, total)
    elif changes:
        listed = ", ".join(f"{change.plugin} {_version_of(change)}" for change in changes)
        logger.info("✅ reloaded %s in %.1f ms", listed, total)
    else:
        logger.info("✅ plan %s committed without changes in %.1f ms", event.plan_id, total)


def _reload_rejected(logger: logging.Logger, event: ReloadRejected) -> None:
    if not logger.isEnabledFor(logging.ERROR):
        return
    fmt, args = _with_error("❌ %s rejected at %s", (event.plugin, event.phase), event.error)
    if event.serving:
        fmt += "; the running version keeps serving"
    if event.held:
        fmt += "; %s wait%s for its next version"
        args = (*args, ", ".join(event.held), "s" if len(event.held) == 1 else "")
    logger.error(fmt, *args)


def _reload_rolled_back(logger: logging.Logger, event: ReloadRolledBack) -> None:
    if not logger.isEnabledFor(logging.ERROR):
        return
    fmt, args = _with_error("🔥 %s failed at %s", (event.plugin, event.phase), event.error)
    restored = ", ".join(event.members or [event.plugin])
    logger.error(fmt + "; rolled back %s", *args, restored)


def _reload_throttled(logger: logging.Logger, event: ReloadThrottled) -> None:
    if not logger.isEnabledFor(logging.WARNING):
        return
    files = ", ".join(path.name for path in event.paths) or "its files"
    fmt = (
        "⚠ %s reloads itself: %s changed %d times in a row while it was starting; "
        "next reload in %g s"
    )
    args: tuple[object, ...] = (event.plugin, files, event.reloads, event.delay_s)
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
    fmt = "handler %s of %s failed on %s: %s: %s"
    if event.timed_out:
        fmt += " (timed out)"
    error = event.error
    logger.error(fmt, event.handler, event.owner, event.event_topic, error.type, error.message)


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
        "⚠ %s: cancelled %d in-flight handler(s) still running after %g s",
        event.plugin,
        event.cancelled,
        event.timeout_s,
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
    LoopStalled.topic: _loop_stalled,
}


def _log_event(event: Event) -> None:
    """The handler: write ``event`` as one line; never raise (that would feed the bus a failure)."""
    topic = event.topic
    try:
        _FORMATTERS.get(topic, _unknown)(_logger_for(topic), event)
    except Exception as error:
        _bus_logger.warning(
            "could not log %s: %s: %s", topic, type(error).__name__, error, exc_info=error
        )


@final
class EventLogger:
    """Writes every ``hotbus.*`` event to a named logger, one line each: an ordinary subscriber.

    It subscribes one sync handler to ``hotbus.>`` as the runtime (owner `bus.RUNTIME`), at
    priority -1000 so that it runs after the other handlers of an event. `attach` and `detach`
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
        self._listener = Listener(bus, _PATTERN, _log_event, priority=_PRIORITY)

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
