"""`Board`: what the dashboard shows beyond `Runtime.status()`, kept from the events it sees.

Which plugins a reload is moving right now, which ones were last patched in place, when each
plugin last changed, the last plan (its cascade), and a timeline of reload transactions with
the time of each phase and how long the first chat reply took after each commit.

It routes by topic and reads fields by name, never by class (an event parsed from another
host's JSON is read the same way).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, final

from hotbus.schemas import Event, PluginState, PluginStatus

__all__ = ["PATCHED", "Board"]

#: The topic of a save that patched function bodies in place.
PATCHED: Final = "hotbus.reload.patched"
_PLANNED: Final = "hotbus.reload.planned"
_COMMITTED: Final = "hotbus.reload.committed"
_REJECTED: Final = "hotbus.reload.rejected"
_ROLLED_BACK: Final = "hotbus.reload.rolled_back"
_STATE: Final = "hotbus.plugin.state"
_FAILED: Final = "hotbus.plugin.failed"
_REPLY: Final = "chat.reply"
_RESET_TOPICS: Final = frozenset({"hotbus.runtime.started", "hotbus.runtime.stopping"})

#: How many transactions the timeline keeps.
TIMELINE: Final = 50
#: A plugin still marked as reloading this long after its plan is shown by its state again
#: (a plan whose last member's outcome never came, which should not happen, cannot stick).
RELOADING_LIMIT_S: Final = 30.0
#: A chat reply this long after a commit is no longer counted as that commit's reply latency.
REPLY_WINDOW_S: Final = 60.0


def _field(event: Event, name: str, default: Any = None) -> Any:
    return getattr(event, name, default)


def _names(requirements: list[str]) -> list[str]:
    """The plugin names of requirement specs: ``"quotes>=1.2.0"`` is ``quotes``."""
    names = []
    for spec in requirements:
        end = 0
        while end < len(spec) and (spec[end].isalnum() or spec[end] == "_"):
            end += 1
        names.append(spec[:end] or spec)
    return names


@final
class Board:
    """Follows the reload pipeline's events; `rows` and `timeline` are what the page shows.

    Fed by the dashboard's hub with every event it receives, on the loop thread, after the
    publish that carried it returned.
    """

    __slots__ = (
        "_changed",
        "_handlers",
        "_outcome",
        "_phase",
        "_plans",
        "_reloading",
        "_reply_for",
        "_timeline",
        "last_plan",
    )

    def __init__(self) -> None:
        #: plugin -> when its state or version last changed (ISO 8601)
        self._changed: dict[str, str] = {}
        #: plugin -> the topic of its last reload outcome (committed, patched, ...)
        self._outcome: dict[str, str] = {}
        #: plugin -> the phase of its last failure
        self._phase: dict[str, str] = {}
        #: plugin -> (plan id, monotonic time of its plan) while a reload moves it
        self._reloading: dict[str, tuple[str, float]] = {}
        #: plan id -> its timeline entry
        self._plans: dict[str, dict[str, Any]] = {}
        self._timeline: deque[dict[str, Any]] = deque(maxlen=TIMELINE)
        #: (the entry, the commit's timestamp) whose first chat reply is awaited
        self._reply_for: tuple[dict[str, Any], datetime] | None = None
        #: The triggers and members of the last plan (the cascade drawn on the graph).
        self.last_plan: dict[str, Any] | None = None
        self._handlers: dict[str, Callable[[Event], None]] = {
            _PLANNED: self._planned,
            _COMMITTED: self._committed,
            _REJECTED: self._rejected,
            _ROLLED_BACK: self._rolled_back,
            PATCHED: self._patched,
            _STATE: self._state,
            _FAILED: self._failed,
            _REPLY: self._reply,
        }

    def __repr__(self) -> str:
        return f"<hotbus Board transactions={len(self._timeline)} reloading={len(self._reloading)}>"

    def observe(self, event: Event) -> None:
        """Take ``event`` into account (any topic; most change nothing)."""
        handler = self._handlers.get(event.topic)
        if handler is not None:
            handler(event)
        elif event.topic in _RESET_TOPICS:
            self._reloading.clear()

    # -- what the page reads ------------------------------------------------------------------

    def display_state(self, row: PluginStatus) -> str:
        """``reloading``, ``patched``, ``failed``, ``blocked``, ``active``, ``disabled``, or the
        lifecycle state itself (``loading``, ``unloaded``, ...)."""
        marked = self._reloading.get(row.name)
        if marked is not None and time.monotonic() - marked[1] < RELOADING_LIMIT_S:
            return "reloading"
        if row.state is PluginState.FAILED or row.error is not None:
            return "failed"
        if row.state is PluginState.BLOCKED:
            return "blocked"
        if not row.enabled:
            return "disabled"
        if row.state is PluginState.ACTIVE and self._outcome.get(row.name) == PATCHED:
            return "patched"
        return str(row.state)

    def rows(self, status: list[PluginStatus]) -> list[dict[str, Any]]:
        """The page's rows: each `PluginStatus` (as JSON) with the display state, the plugin's
        main file, its dependencies' names and when it last changed."""
        rows = []
        for row in status:
            data = row.model_dump(mode="json")
            data["lifecycle"] = data["state"]
            data["state"] = self.display_state(row)
            data["serving"] = row.state is PluginState.ACTIVE
            data["depends_on"] = _names(row.requires)
            data["changed_at"] = self._changed.get(row.name)
            data["outcome"] = self._outcome.get(row.name)
            data["phase"] = self._phase.get(row.name) if row.error is not None else None
            rows.append(data)
        return rows

    def timeline(self) -> list[dict[str, Any]]:
        """The last transactions, oldest first."""
        return list(self._timeline)

    # -- following events ---------------------------------------------------------------------

    def _entry(self, plan_id: str, event: Event) -> dict[str, Any]:
        entry = self._plans.get(plan_id)
        if entry is None:
            entry = {
                "plan_id": plan_id,
                "at": event.timestamp.isoformat(),
                "triggers": [],
                "members": [],
                "outcome": "running",
                "outcomes": [],
                "durations": {},
                "reply_latency_ms": None,
            }
            if len(self._timeline) == self._timeline.maxlen:
                self._plans.pop(self._timeline[0]["plan_id"], None)
            self._timeline.append(entry)
            self._plans[plan_id] = entry
        return entry

    def _planned(self, event: Event) -> None:
        plan_id: str = _field(event, "plan_id")
        entry = self._entry(plan_id, event)
        entry["triggers"] = list(_field(event, "triggers", []))
        entry["members"] = list(_field(event, "members", []))
        self.last_plan = {
            "plan_id": plan_id,
            "triggers": entry["triggers"],
            "members": entry["members"],
        }
        now = time.monotonic()
        for name in (*entry["members"], *_field(event, "joining", [])):
            self._reloading[name] = (plan_id, now)

    def _finish(self, event: Event, outcome: str, plugins: list[str], **extra: Any) -> None:
        plan_id = _field(event, "plan_id") or str(event.event_id)
        entry = self._entry(plan_id, event)
        entry["outcome"] = outcome
        entry["outcomes"].append({"outcome": outcome, "plugins": plugins, **extra})
        stamp = event.timestamp.isoformat()
        for name in plugins:
            self._reloading.pop(name, None)
            self._outcome[name] = event.topic
            self._changed[name] = stamp
        if outcome in ("committed", "patched"):
            # The transaction is over: nothing of its plan is moving any more.
            for name, (plan, _) in list(self._reloading.items()):
                if plan == plan_id:
                    del self._reloading[name]
            self._reply_for = (entry, event.timestamp)

    def _committed(self, event: Event) -> None:
        changes = _field(event, "changes", [])
        durations = _field(event, "durations")
        plan_id = _field(event, "plan_id")
        self._finish(
            event,
            "committed",
            [c.plugin for c in changes],
            changes=[c.model_dump(mode="json") for c in changes],
        )
        if durations is not None:
            self._plans[plan_id]["durations"] = durations.model_dump(mode="json")

    def _failure(self, event: Event, outcome: str) -> None:
        error = _field(event, "error")
        plugin = _field(event, "plugin")
        self._phase[plugin] = str(_field(event, "phase", ""))
        members = [plugin, *(m for m in _field(event, "members", []) if m != plugin)]
        self._finish(
            event,
            outcome,
            members,
            plugin=plugin,
            phase=str(_field(event, "phase", "")),
            error=error.model_dump(mode="json") if error is not None else None,
        )

    def _rejected(self, event: Event) -> None:
        self._failure(event, "rejected")

    def _rolled_back(self, event: Event) -> None:
        self._failure(event, "rolled_back")

    def _patched(self, event: Event) -> None:
        plugin = _field(event, "plugin")
        self._finish(
            event,
            "patched",
            [plugin] if plugin else [],
            old_version=_field(event, "old_version"),
            new_version=_field(event, "new_version"),
            functions=list(_field(event, "functions", []) or []),
        )
        entry = self._plans[_field(event, "plan_id") or str(event.event_id)]
        if not entry["members"] and plugin:
            entry["triggers"] = entry["members"] = [plugin]
        duration = _field(event, "duration_ms")
        if duration is not None:
            entry["durations"] = {"total": duration}

    def _state(self, event: Event) -> None:
        plugin = _field(event, "plugin")
        self._changed[plugin] = event.timestamp.isoformat()
        if self._outcome.get(plugin) == PATCHED:
            self._outcome.pop(plugin)

    def _failed(self, event: Event) -> None:
        self._phase[_field(event, "plugin")] = str(_field(event, "phase", ""))

    def _reply(self, event: Event) -> None:
        waiting = self._reply_for
        if waiting is None:
            return
        entry, committed = waiting
        self._reply_for = None
        latency = (event.timestamp - committed).total_seconds()
        if 0 <= latency <= REPLY_WINDOW_S:
            entry["reply_latency_ms"] = latency * 1000
