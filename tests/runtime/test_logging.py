"""The event logger: one exact line per ``hotbus.*`` event, on the right logger and level."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hotbus.bus import RUNTIME, Bus
from hotbus.runtime import _eventlog as _logging
from hotbus.runtime._eventlog import EventLogger
from hotbus.schemas import (
    ConfigChanged,
    ErrorInfo,
    Event,
    FileChanged,
    FileChangeKind,
    FileSettled,
    FileUnreadable,
    FleetConnected,
    FleetDisconnected,
    FleetDropped,
    HandlerFailed,
    HandlersCancelled,
    Phase,
    PhaseDurations,
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
    SettleOutcome,
    SourceKind,
    StateDiscarded,
    StateMismatch,
    VersionChange,
    WatcherFellBack,
    WatcherFound,
    WatcherLost,
    WatcherRestarted,
    WatcherStarted,
    WatcherStopped,
    registry,
)

DEBUG, INFO, WARNING, ERROR = logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR

#: What a test sees of a log record: logger name, level, message.
Line = tuple[str, int, str]
Publish = Callable[[Event], Awaitable[list[Line]]]

SYNTAX_ERROR = ErrorInfo(
    type="hotbus.schemas.PluginLoadError",
    message="invalid syntax",
    file=Path("/srv/plugins/greeter.py"),
    line=42,
)
NOWHERE_ERROR = ErrorInfo(type="ValueError", message="bad port")


class DemoThing(Event):
    """An event of a host's own vocabulary, outside ``hotbus.``."""

    topic = "demo.thing"

    name: str = "x"


def lines_of(caplog: pytest.LogCaptureFixture) -> list[Line]:
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records]


@pytest.fixture
def logged(bus: Bus, caplog: pytest.LogCaptureFixture) -> Iterator[Publish]:
    """Publish an event on a bus with the logger attached; return the lines it logged."""
    caplog.set_level(DEBUG, logger="hotbus")

    async def publish(event: Event) -> list[Line]:
        caplog.clear()
        await bus.publish(event)
        await bus.join()  # what plugins' mailboxes log too
        return lines_of(caplog)

    with EventLogger(bus):
        yield publish


# -- runtime ----------------------------------------------------------------------------------


async def test_runtime_started_names_active_plugins_watching_and_duration(
    logged: Publish,
) -> None:
    event = RuntimeStarted(plugins=["greeter", "echo"], watching=True, duration_ms=12.34)
    assert await logged(event) == [
        (
            "hotbus.runtime",
            INFO,
            "▶ hotbus started: 2 plugins active (greeter, echo), watching on, in 12.3 ms",
        )
    ]


async def test_runtime_started_with_many_plugins_is_short_with_the_list_at_debug(
    logged: Publish,
) -> None:
    names = [f"plugin_number_{n:02d}" for n in range(30)]
    lines = await logged(RuntimeStarted(plugins=names, watching=True, duration_ms=2.0))
    assert len(lines[0][2]) <= 120
    assert lines[0][2].startswith("▶ hotbus started: 30 plugins active (plugin_number_00, ")
    assert lines[0][2].endswith(" more), watching on, in 2.0 ms")
    assert lines[1:] == [("hotbus.runtime", DEBUG, "active: " + ", ".join(names))]


async def test_runtime_started_without_plugins_omits_the_empty_list(logged: Publish) -> None:
    event = RuntimeStarted(watching=False, duration_ms=0.5)
    assert await logged(event) == [
        ("hotbus.runtime", INFO, "▶ hotbus started: 0 plugins active, watching off, in 0.5 ms")
    ]


async def test_runtime_stopping_gives_its_reason(logged: Publish) -> None:
    assert await logged(RuntimeStopping(reason="signal")) == [
        ("hotbus.runtime", INFO, "⏹ hotbus stopping (signal)")
    ]


async def test_runtime_stopping_without_reason_has_no_parentheses(logged: Publish) -> None:
    assert await logged(RuntimeStopping()) == [("hotbus.runtime", INFO, "⏹ hotbus stopping")]


async def test_runtime_stopped_gives_how_long_stopping_took(logged: Publish) -> None:
    assert await logged(RuntimeStopped(duration_ms=3.21)) == [
        ("hotbus.runtime", INFO, "⏹ hotbus stopped in 3.2 ms")
    ]


# -- files ------------------------------------------------------------------------------------


async def test_raw_file_change_is_debug_with_kind_and_path(logged: Publish) -> None:
    event = FileChanged(kind=FileChangeKind.MODIFIED, path=Path("plugins/greeter.py"))
    assert await logged(event) == [("hotbus.file", DEBUG, "file modified plugins/greeter.py")]


async def test_file_move_shows_where_it_went(logged: Publish) -> None:
    event = FileChanged(
        kind=FileChangeKind.MOVED,
        path=Path("plugins/.greeter.py.swp"),
        dest_path=Path("plugins/greeter.py"),
    )
    assert await logged(event) == [
        ("hotbus.file", DEBUG, "file moved plugins/.greeter.py.swp -> plugins/greeter.py")
    ]


async def test_settled_file_gives_outcome_absorbed_events_and_wait(logged: Publish) -> None:
    event = FileSettled(
        path=Path("plugins/greeter.py"),
        outcome=SettleOutcome.CHANGED,
        content_hash="abc",
        absorbed=4,
        waited_ms=51.26,
    )
    assert await logged(event) == [
        ("hotbus.file", DEBUG, "file changed plugins/greeter.py (4 raw events, 51.3 ms)")
    ]


# -- plugins ----------------------------------------------------------------------------------


async def test_discovered_plugin_without_path_or_entry_point_omits_where(
    logged: Publish,
) -> None:
    event = PluginDiscovered(plugin="greeter", kind=SourceKind.PACKAGE)
    assert await logged(event) == [("hotbus.plugin", DEBUG, "found plugin greeter (package)")]


async def test_discovered_plugin_gives_kind_and_path(logged: Publish) -> None:
    event = PluginDiscovered(
        plugin="greeter", kind=SourceKind.MODULE, path=Path("plugins/greeter.py")
    )
    assert await logged(event) == [
        ("hotbus.plugin", DEBUG, "found plugin greeter (module) at plugins/greeter.py")
    ]


async def test_discovered_entry_point_gives_the_entry_point(logged: Publish) -> None:
    event = PluginDiscovered(
        plugin="metrics", kind=SourceKind.ENTRY_POINT, entry_point="acme.metrics:plugin"
    )
    assert await logged(event) == [
        ("hotbus.plugin", DEBUG, "found plugin metrics (entry_point) at acme.metrics:plugin")
    ]


async def test_plugin_becoming_active_is_info_with_check_mark_and_version(
    logged: Publish,
) -> None:
    event = PluginStateChanged(
        plugin="greeter", previous=PluginState.STARTING, state=PluginState.ACTIVE, version="1.2.0"
    )
    assert await logged(event) == [("hotbus.plugin", INFO, "✅ greeter starting -> active 1.2.0")]


async def test_blocked_plugin_is_info_with_pause_mark_and_reason(logged: Publish) -> None:
    event = PluginStateChanged(
        plugin="echo",
        previous=PluginState.LOADED,
        state=PluginState.BLOCKED,
        reason="waiting for greeter",
    )
    assert await logged(event) == [
        ("hotbus.plugin", INFO, "⏸ echo loaded -> blocked: waiting for greeter")
    ]


async def test_unloaded_plugin_is_info_without_mark(logged: Publish) -> None:
    event = PluginStateChanged(
        plugin="greeter",
        previous=PluginState.STOPPING,
        state=PluginState.UNLOADED,
        version="1.2.0",
        reason="file deleted",
    )
    assert await logged(event) == [
        ("hotbus.plugin", INFO, "greeter stopping -> unloaded 1.2.0: file deleted")
    ]


async def test_intermediate_state_is_debug_and_a_first_state_comes_from_dash(
    logged: Publish,
) -> None:
    event = PluginStateChanged(plugin="greeter", previous=None, state=PluginState.DISCOVERED)
    assert await logged(event) == [("hotbus.plugin", DEBUG, "greeter - -> discovered")]


async def test_plugin_failure_is_error_with_phase_error_and_location(logged: Publish) -> None:
    event = PluginFailed(plugin="greeter", phase=Phase.COMPILE, error=SYNTAX_ERROR)
    assert await logged(event) == [
        (
            "hotbus.plugin",
            ERROR,
            "❌ greeter failed at compile: hotbus.schemas.PluginLoadError: invalid syntax "
            "(greeter.py:42)",
        )
    ]


async def test_a_failure_that_a_reload_outcome_reports_is_only_a_debug_step(
    logged: Publish,
) -> None:
    event = PluginFailed(plugin="greeter", phase=Phase.COMPILE, error=SYNTAX_ERROR, plan_id="p1")
    assert await logged(event) == [
        (
            "hotbus.plugin",
            DEBUG,
            "❌ greeter failed at compile: hotbus.schemas.PluginLoadError: invalid syntax "
            "(greeter.py:42)",
        )
    ]


async def test_a_rejected_save_is_one_error_line(logged: Publish) -> None:
    failed = PluginFailed(plugin="greeter", phase=Phase.COMPILE, error=SYNTAX_ERROR, plan_id="p1")
    rejected = ReloadRejected(
        plan_id="p1", plugin="greeter", phase=Phase.COMPILE, error=SYNTAX_ERROR, serving=True
    )
    lines = [*await logged(failed), *await logged(rejected)]
    assert [(name, level) for name, level, _ in lines if level >= INFO] == [
        ("hotbus.reload", ERROR)
    ]


async def test_the_state_lines_of_a_reload_are_debug_steps_before_its_outcome(
    logged: Publish,
) -> None:
    steps = [
        ReloadRequested(plugin="greeter", reason=ReloadReason.FILE),
        ReloadPlanned(plan_id="p1", triggers=["greeter"], members=["greeter", "echo"]),
        PluginStateChanged(plugin="echo", previous=PluginState.STARTING, state=PluginState.ACTIVE),
        PluginStateChanged(
            plugin="greeter", previous=PluginState.STARTING, state=PluginState.ACTIVE
        ),
        ReloadCommitted(
            plan_id="p1",
            changes=[
                VersionChange(plugin="greeter", old_version="1.0.0", new_version="1.0.1"),
                VersionChange(plugin="echo", old_version="1.0.0", new_version="1.0.0"),
            ],
            durations=PhaseDurations(total=3.0),
        ),
        PluginStateChanged(
            plugin="echo", previous=PluginState.STOPPING, state=PluginState.UNLOADED
        ),
    ]
    lines = [line for event in steps for line in await logged(event)]
    assert [text for _, level, text in lines if level >= INFO] == [
        "✅ 1 plugin reloaded, 1 restarted in 3.0 ms: greeter 1.0.1, echo 1.0.0",
        "echo stopping -> unloaded",
    ]


async def test_a_plugin_blocked_in_a_reload_still_says_so(logged: Publish) -> None:
    await logged(ReloadRequested(plugin="dice", reason=ReloadReason.FILE))
    event = PluginStateChanged(
        plugin="dice", previous=PluginState.LOADED, state=PluginState.BLOCKED, reason="needs rng"
    )
    assert await logged(event) == [("hotbus.plugin", INFO, "⏸ dice loaded -> blocked: needs rng")]


async def test_plugin_failure_without_location_has_no_parentheses(logged: Publish) -> None:
    event = PluginFailed(plugin="greeter", phase=Phase.CONFIG, error=NOWHERE_ERROR)
    assert await logged(event) == [
        ("hotbus.plugin", ERROR, "❌ greeter failed at config: ValueError: bad port")
    ]


async def test_leaked_plugin_is_a_warning_naming_what_holds_it(logged: Publish) -> None:
    event = PluginLeaked(
        plugin="greeter", version="1.1.0", referrers=["a global in echo", "a cached task"]
    )
    assert await logged(event) == [
        (
            "hotbus.plugin",
            WARNING,
            "⚠ greeter 1.1.0 is still alive after unload; held by: a global in echo; a cached task",
        )
    ]


async def test_leaked_plugin_without_referrers_is_held_by_unknown(logged: Publish) -> None:
    event = PluginLeaked(plugin="greeter", version="1.1.0")
    assert await logged(event) == [
        ("hotbus.plugin", WARNING, "⚠ greeter 1.1.0 is still alive after unload; held by: unknown")
    ]


# -- reload -----------------------------------------------------------------------------------


async def test_reload_request_from_a_file_is_a_debug_step_without_reason(logged: Publish) -> None:
    event = ReloadRequested(plugin="greeter", reason=ReloadReason.FILE)
    assert await logged(event) == [("hotbus.reload", DEBUG, "🔄 reloading greeter")]


async def test_load_request_says_loading_and_gives_a_reason_other_than_file(
    logged: Publish,
) -> None:
    event = ReloadRequested(plugin="greeter", action=ReloadAction.LOAD, reason=ReloadReason.MANUAL)
    assert await logged(event) == [("hotbus.reload", DEBUG, "🔄 loading greeter (manual)")]


async def test_unload_request_says_unloading(logged: Publish) -> None:
    event = ReloadRequested(plugin="greeter", action=ReloadAction.UNLOAD, reason=ReloadReason.FILE)
    assert await logged(event) == [("hotbus.reload", DEBUG, "🔄 unloading greeter")]


async def test_reload_plan_is_debug_with_members_in_setup_order(logged: Publish) -> None:
    event = ReloadPlanned(plan_id="p1", triggers=["greeter"], members=["greeter", "echo"])
    assert await logged(event) == [("hotbus.reload", DEBUG, "plan p1: greeter -> echo")]


async def test_reload_plan_names_the_plugins_joining_it(logged: Publish) -> None:
    event = ReloadPlanned(
        plan_id="p2", triggers=["greeter"], members=["greeter", "echo"], joining=["echo"]
    )
    assert await logged(event) == [
        ("hotbus.reload", DEBUG, "plan p2: greeter -> echo; joining echo")
    ]


async def test_committed_reload_of_one_plugin_gives_new_version_and_total(
    logged: Publish,
) -> None:
    event = ReloadCommitted(
        plan_id="p1",
        changes=[VersionChange(plugin="greeter", old_version="1.1.0", new_version="1.2.0")],
        durations=PhaseDurations(stage=20.0, swap=5.0, total=25.04),
    )
    assert await logged(event) == [("hotbus.reload", INFO, "✅ greeter 1.2.0 reloaded in 25.0 ms")]


async def test_a_reload_not_patched_says_why(logged: Publish) -> None:
    change = VersionChange(
        plugin="dice",
        old_version="1.1.0",
        new_version="1.1.0+2",
        not_patched="function Dice.shout was added (dice.py:40)",
    )
    event = ReloadCommitted(plan_id="p1", changes=[change], durations=PhaseDurations(total=3.0))
    assert await logged(event) == [
        (
            "hotbus.reload",
            INFO,
            "✅ dice 1.1.0+2 reloaded in 3.0 ms (not patched: function Dice.shout was added "
            "(dice.py:40))",
        )
    ]


async def test_a_patch_names_its_functions_and_the_dependents_kept_running(
    logged: Publish,
) -> None:
    event = ReloadPatched(
        plan_id="p1",
        plugin="dice",
        old_version="1.0.0+aaaaaa",
        new_version="1.0.0+bbbbbb",
        functions=["Dice.roll", "rules.parse"],
        dependents=["stats"],
        duration_ms=0.42,
    )
    assert await logged(event) == [
        (
            "hotbus.reload",
            INFO,
            "🩹 dice 1.0.0+bbbbbb patched in 0.4 ms: Dice.roll, rules.parse; 1 dependent kept "
            "running",
        )
    ]


async def test_a_patch_of_comments_only_says_no_function_changed(logged: Publish) -> None:
    event = ReloadPatched(
        plan_id="p1", plugin="dice", old_version="1", new_version="2", relocated=3, duration_ms=0.1
    )
    assert await logged(event) == [
        ("hotbus.reload", INFO, "🩹 dice 2 patched in 0.1 ms: no function changed")
    ]


async def test_a_patch_undone_is_a_warning_naming_the_error(logged: Publish) -> None:
    error = ErrorInfo(type="ValueError", message="refused", file=Path("dice.py"), line=3)
    event = ReloadPatched(
        plan_id="p1",
        plugin="dice",
        old_version="1",
        new_version="1",
        functions=["Dice.roll"],
        duration_ms=0.1,
        restored=True,
        error=error,
    )
    assert await logged(event) == [
        (
            "hotbus.reload",
            WARNING,
            "⚠ dice could not be patched, every function was restored; it reloads in full: "
            "ValueError: refused (dice.py:3)",
        )
    ]


async def test_committed_first_load_says_loaded(logged: Publish) -> None:
    event = ReloadCommitted(
        plan_id="p1",
        changes=[VersionChange(plugin="greeter", old_version=None, new_version="1.0.0")],
        durations=PhaseDurations(total=8.0),
    )
    assert await logged(event) == [("hotbus.reload", INFO, "✅ greeter 1.0.0 loaded in 8.0 ms")]


async def test_committed_unload_says_unloaded_without_a_duration(logged: Publish) -> None:
    event = ReloadCommitted(
        plan_id="p1",
        changes=[VersionChange(plugin="greeter", old_version="1.0.0", new_version=None)],
        durations=PhaseDurations(),
    )
    assert await logged(event) == [("hotbus.reload", INFO, "✅ greeter unloaded")]


async def test_committed_transaction_of_several_plugins_is_one_line(logged: Publish) -> None:
    event = ReloadCommitted(
        plan_id="p1",
        changes=[
            VersionChange(plugin="greeter", old_version="1.1.0", new_version="1.2.0"),
            VersionChange(plugin="echo", old_version="0.3.0", new_version="0.3.0"),
        ],
        durations=PhaseDurations(total=40.0),
    )
    assert await logged(event) == [
        (
            "hotbus.reload",
            INFO,
            "✅ 1 plugin reloaded, 1 restarted in 40.0 ms: greeter 1.2.0, echo 0.3.0",
        )
    ]


async def test_committed_transaction_counts_loads_apart_from_reloads(logged: Publish) -> None:
    event = ReloadCommitted(
        plan_id="p1",
        changes=[
            VersionChange(plugin="rng", old_version="1.0.0", new_version="1.1.0"),
            VersionChange(plugin="dice", old_version="1.0.0", new_version="1.0.1"),
            VersionChange(plugin="coin", old_version=None, new_version="0.1.0"),
        ],
        durations=PhaseDurations(total=9.0),
    )
    assert await logged(event) == [
        (
            "hotbus.reload",
            INFO,
            "✅ 2 plugins reloaded, 1 loaded in 9.0 ms: rng 1.1.0, dice 1.0.1, coin 0.1.0",
        )
    ]


async def test_a_big_transaction_is_one_short_line_with_the_whole_list_at_debug(
    logged: Publish,
) -> None:
    names = [f"plugin_{n:02d}" for n in range(30)]
    event = ReloadCommitted(
        plan_id="p1",
        changes=[VersionChange(plugin=n, old_version="1.0.0", new_version="1.0.1") for n in names],
        durations=PhaseDurations(total=85.0),
    )
    lines = await logged(event)
    head = ("hotbus.reload", INFO, lines[0][2])
    assert (lines[0], len(lines[0][2]) <= 120) == (head, True)
    assert lines[0][2].startswith("✅ 30 plugins reloaded in 85.0 ms: plugin_00, plugin_01, ")
    assert lines[0][2].endswith(" more")
    assert lines[1:] == [("hotbus.reload", DEBUG, f"  {n} 1.0.1 reloaded") for n in names]


async def test_committed_transaction_without_changes_names_the_plan(logged: Publish) -> None:
    event = ReloadCommitted(plan_id="p3", changes=[], durations=PhaseDurations(total=0.5))
    assert await logged(event) == [
        ("hotbus.reload", INFO, "✅ plan p3 committed without changes in 0.5 ms")
    ]


async def test_rejected_reload_is_error_saying_the_running_version_keeps_serving(
    logged: Publish,
) -> None:
    event = ReloadRejected(
        plan_id="p1",
        plugin="greeter",
        phase=Phase.COMPILE,
        error=SYNTAX_ERROR,
        members=["greeter", "echo"],
        serving=True,
    )
    assert await logged(event) == [
        (
            "hotbus.reload",
            ERROR,
            "❌ greeter rejected at compile: hotbus.schemas.PluginLoadError: invalid syntax "
            "(greeter.py:42); the running version keeps serving",
        )
    ]


async def test_rejected_first_load_says_nothing_of_a_running_version(logged: Publish) -> None:
    event = ReloadRejected(plan_id="p1", plugin="greeter", phase=Phase.COMPILE, error=SYNTAX_ERROR)
    assert await logged(event) == [
        (
            "hotbus.reload",
            ERROR,
            "❌ greeter rejected at compile: hotbus.schemas.PluginLoadError: invalid syntax "
            "(greeter.py:42)",
        )
    ]


async def test_rejected_first_load_names_the_plugins_waiting_for_it(logged: Publish) -> None:
    event = ReloadRejected(
        plan_id="p1",
        plugin="greeter",
        phase=Phase.COMPILE,
        error=SYNTAX_ERROR,
        members=["greeter"],
        held=["echo", "ping"],
    )
    assert await logged(event) == [
        (
            "hotbus.reload",
            ERROR,
            "❌ greeter rejected at compile: hotbus.schemas.PluginLoadError: invalid syntax "
            "(greeter.py:42); echo, ping wait for it to load",
        )
    ]


async def test_rolled_back_reload_is_error_naming_the_restored_members(logged: Publish) -> None:
    event = ReloadRolledBack(
        plan_id="p1",
        plugin="echo",
        phase=Phase.SETUP,
        error=NOWHERE_ERROR,
        members=["greeter", "echo"],
    )
    assert await logged(event) == [
        (
            "hotbus.reload",
            ERROR,
            "🔥 echo failed at setup: ValueError: bad port; rolled back greeter, echo",
        )
    ]


# -- config and bus ---------------------------------------------------------------------------


async def test_config_change_names_the_changed_fields(logged: Publish) -> None:
    event = ConfigChanged(plugin="greeter", fields=["greeting", "port"])
    assert await logged(event) == [
        ("hotbus.config", INFO, "config of greeter changed: greeting, port")
    ]


async def test_config_change_without_fields_names_only_the_plugin(logged: Publish) -> None:
    assert await logged(ConfigChanged(plugin="greeter")) == [
        ("hotbus.config", INFO, "config of greeter changed")
    ]


async def test_handler_failure_is_error_on_the_bus_logger(logged: Publish) -> None:
    event = HandlerFailed(
        handler="greeter.on_chat",
        owner="greeter",
        event_topic="chat.message",
        failed_event_id=UUID(int=1),
        error=NOWHERE_ERROR,
    )
    assert await logged(event) == [
        (
            "hotbus.bus",
            ERROR,
            "handler greeter.on_chat of greeter failed on chat.message: ValueError: bad port",
        )
    ]


async def test_handler_failure_names_file_and_line_and_gives_the_traceback_at_debug(
    logged: Publish,
) -> None:
    event = HandlerFailed(
        handler="greeter.on_chat",
        owner="greeter",
        event_topic="chat.message",
        failed_event_id=UUID(int=1),
        error=ErrorInfo(
            type="KeyError",
            message="'who'",
            file=Path("/srv/plugins/greeter.py"),
            line=17,
            traceback='Traceback (most recent call last):\n  File "greeter.py", line 17\nKeyError',
        ),
    )
    assert await logged(event) == [
        (
            "hotbus.bus",
            ERROR,
            "handler greeter.on_chat of greeter failed on chat.message: KeyError: 'who' "
            "(greeter.py:17)",
        ),
        (
            "hotbus.bus",
            DEBUG,
            'Traceback (most recent call last):\n  File "greeter.py", line 17\nKeyError',
        ),
    ]


async def test_handler_timeout_says_timed_out(logged: Publish) -> None:
    event = HandlerFailed(
        handler="greeter.on_chat",
        owner="greeter",
        event_topic="chat.message",
        failed_event_id=UUID(int=1),
        error=ErrorInfo(type="hotbus.schemas.HandlerTimeoutError", message="took over 1s"),
        timed_out=True,
    )
    assert await logged(event) == [
        (
            "hotbus.bus",
            ERROR,
            "handler greeter.on_chat of greeter failed on chat.message: "
            "hotbus.schemas.HandlerTimeoutError: took over 1s (timed out)",
        )
    ]


async def test_a_failing_subscriber_is_logged_once_through_handler_failed(
    bus: Bus, logged: Publish
) -> None:
    def explode(event: DemoThing) -> None:
        raise RuntimeError("boom")

    bus.subscribe(DemoThing, explode, owner="demo")
    line = explode.__code__.co_firstlineno + 1
    lines = await logged(DemoThing())
    assert lines[0] == (
        "hotbus.bus",
        ERROR,
        f"handler {__name__}.test_a_failing_subscriber_is_logged_once_through_handler_failed"
        f".<locals>.explode of demo failed on demo.thing: RuntimeError: boom "
        f"(test_logging.py:{line})",
    )
    assert [(name, level) for name, level, _ in lines[1:]] == [("hotbus.bus", DEBUG)]
    assert 'raise RuntimeError("boom")' in lines[1][2]


@pytest.fixture
def newer_event() -> Event:
    """An event of a newer vocabulary than the logger knows (its class lives in this test only)."""

    class NewerThing(Event):
        __module__ = "hotbus.schemas._newer"  # only the schemas package may define hotbus.* topics
        topic = "hotbus.newer.thing"

        plugin: str
        count: int

    return NewerThing(plugin="greeter", count=3)


async def test_unknown_hotbus_topic_is_debug_with_its_fields(
    logged: Publish, newer_event: Event
) -> None:
    assert await logged(newer_event) == [
        ("hotbus.newer", DEBUG, "hotbus.newer.thing {'plugin': 'greeter', 'count': 3}")
    ]


async def test_unknown_hotbus_topic_is_not_dumped_above_debug(
    logged: Publish, newer_event: Event, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(INFO, logger="hotbus")
    assert await logged(newer_event) == []


async def test_events_outside_hotbus_are_not_logged(logged: Publish) -> None:
    assert await logged(DemoThing()) == []


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(RuntimeStarted(plugins=["greeter"]), id="runtime-started"),
        pytest.param(
            PluginStateChanged(plugin="greeter", previous=None, state=PluginState.ACTIVE),
            id="plugin-state",
        ),
        pytest.param(
            PluginFailed(plugin="greeter", phase=Phase.SETUP, error=SYNTAX_ERROR),
            id="plugin-failed",
        ),
        pytest.param(PluginLeaked(plugin="greeter", version="1.0.0"), id="plugin-leaked"),
        pytest.param(
            ReloadPlanned(plan_id="p1", triggers=["greeter"], members=["greeter"]),
            id="reload-planned",
        ),
        pytest.param(
            ReloadCommitted(plan_id="p1", changes=[], durations=PhaseDurations()),
            id="reload-committed",
        ),
        pytest.param(
            ReloadRejected(plan_id="p1", plugin="greeter", phase=Phase.STAGE, error=SYNTAX_ERROR),
            id="reload-rejected",
        ),
        pytest.param(
            ReloadRolledBack(plan_id="p1", plugin="greeter", phase=Phase.SWAP, error=SYNTAX_ERROR),
            id="reload-rolled-back",
        ),
        pytest.param(ConfigChanged(plugin="greeter", fields=["port"]), id="config-changed"),
        pytest.param(
            HandlerFailed(
                handler="h",
                owner="greeter",
                event_topic="chat.message",
                failed_event_id=UUID(int=1),
                error=SYNTAX_ERROR,
            ),
            id="handler-failed",
        ),
    ],
)
async def test_no_line_is_emitted_above_its_level(
    event: Event, logged: Publish, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger="hotbus")
    caplog.handler.setLevel(DEBUG)  # only the loggers' level filters
    assert await logged(event) == []


async def test_a_disabled_line_does_no_formatting_work(
    logged: Publish, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def location(self: ErrorInfo) -> str:
        raise AssertionError("formatted a line nobody logs")

    monkeypatch.setattr(ErrorInfo, "location", location)
    caplog.set_level(logging.CRITICAL, logger="hotbus.plugin")
    caplog.handler.setLevel(DEBUG)  # set_level raised it too: let the fallback warning through
    event = PluginFailed(plugin="greeter", phase=Phase.SETUP, error=SYNTAX_ERROR)
    assert await logged(event) == []


async def test_an_events_line_comes_before_what_its_handlers_cause(
    bus: Bus, logged: Publish
) -> None:
    async def request(event: FileSettled) -> None:
        await bus.publish(ReloadRequested(plugin="greeter", reason=ReloadReason.FILE))

    bus.subscribe(FileSettled, request, priority=1000)
    settled = FileSettled(
        path=Path("plugins/greeter.py"),
        outcome=SettleOutcome.CHANGED,
        content_hash="abc",
        absorbed=1,
        waited_ms=20.0,
    )
    assert await logged(settled) == [
        ("hotbus.file", DEBUG, "file changed plugins/greeter.py (1 raw event, 20.0 ms)"),
        ("hotbus.reload", DEBUG, "🔄 reloading greeter"),
    ]


# -- failures ---------------------------------------------------------------------------------


async def test_a_failing_formatter_is_a_warning_and_does_not_raise_out_of_publish(
    strict_bus: Bus, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(logger: logging.Logger, event: Any) -> None:
        raise ValueError("bad format")

    monkeypatch.setitem(_logging._FORMATTERS, RuntimeStopped.topic, broken)
    caplog.set_level(DEBUG, logger="hotbus")
    with EventLogger(strict_bus):
        await strict_bus.publish(RuntimeStopped())
    assert lines_of(caplog) == [
        ("hotbus.bus", WARNING, "could not log hotbus.runtime.stopped: ValueError: bad format")
    ]


# -- attaching --------------------------------------------------------------------------------


def test_attach_subscribes_one_runtime_handler_to_hotbus_events_at_high_priority(
    bus: Bus,
) -> None:
    EventLogger(bus).attach()
    assert [(s.pattern, s.owner, s.priority) for s in bus.subscriptions()] == [
        ("hotbus.>", RUNTIME, 1 << 30)
    ]


def test_attaching_twice_subscribes_once(bus: Bus) -> None:
    event_logger = EventLogger(bus)
    event_logger.attach()
    event_logger.attach()
    assert len(bus.subscriptions()) == 1


def test_detaching_twice_is_harmless(bus: Bus) -> None:
    event_logger = EventLogger(bus)
    event_logger.attach()
    event_logger.detach()
    event_logger.detach()
    assert bus.subscriptions() == []


async def test_detached_logger_logs_nothing(bus: Bus, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(DEBUG, logger="hotbus")
    event_logger = EventLogger(bus)
    event_logger.attach()
    event_logger.detach()
    await bus.publish(RuntimeStopped())
    assert caplog.records == []


def test_context_manager_attaches_inside_the_block_only(bus: Bus) -> None:
    with EventLogger(bus) as event_logger:
        assert event_logger.attached
    assert bus.subscriptions() == []


def test_logger_cancelled_by_its_owner_can_attach_again(bus: Bus) -> None:
    event_logger = EventLogger(bus)
    event_logger.attach()
    bus.unsubscribe_owner(RUNTIME)
    event_logger.attach()
    assert len(bus.subscriptions()) == 1


def test_repr_says_whether_it_is_attached(bus: Bus) -> None:
    event_logger = EventLogger(bus)
    event_logger.attach()
    assert repr(event_logger) == f"<hotbus EventLogger attached to {bus!r}>"


# -- the fleet --------------------------------------------------------------------------------


async def test_fleet_connected_names_fleet_server_host_and_what_waits(logged: Publish) -> None:
    event = FleetConnected(
        fleet="bots", host="a", server="nats://bot@10.0.0.5:4222", reconnected=True, waiting=3
    )
    assert await logged(event) == [
        (
            "hotbus.fleet",
            INFO,
            "🔗 fleet bots: connected again to nats://bot@10.0.0.5:4222 as host a, "
            "sending 3 waiting events",
        )
    ]


async def test_fleet_disconnected_is_a_warning_saying_events_wait(logged: Publish) -> None:
    event = FleetDisconnected(
        fleet="bots", host="a", server="nats://10.0.0.5:4222", reason="connection lost"
    )
    assert await logged(event) == [
        (
            "hotbus.fleet",
            WARNING,
            "⚠ fleet bots: disconnected from nats://10.0.0.5:4222 (connection lost); events "
            "wait in the outbox until it is back",
        )
    ]


async def test_fleet_dropped_counts_and_says_what_to_do(logged: Publish) -> None:
    event = FleetDropped(fleet="bots", host="a", dropped=2, total=7, limit=5)
    assert await logged(event) == [
        (
            "hotbus.fleet",
            WARNING,
            "⚠ fleet bots: the outbox was full (fleet_outbox = 5): 2 events not sent to the "
            "fleet (7 in all); raise fleet_outbox, or bring NATS back sooner",
        )
    ]


async def test_events_of_other_hosts_of_a_fleet_are_not_written(logged: Publish) -> None:
    event = RuntimeStopped(duration_ms=3.2, source="fleet:b")
    assert await logged(event) == []


def test_every_topic_of_the_vocabulary_has_its_own_line() -> None:
    vocabulary = {
        topic
        for topic in registry.topics()
        if registry.get(topic).__module__ in {"hotbus.schemas._events", "hotbus.schemas._hosting"}
    }
    assert vocabulary - set(_logging._FORMATTERS) == set()


# -- watching and hand-off --------------------------------------------------------------------


async def test_watcher_started_is_logged_with_paths_and_observer(logged: Publish) -> None:
    event = WatcherStarted(observer="native", paths=[Path("/srv/plugins"), Path("/srv")])
    assert await logged(event) == [
        ("hotbus.watcher", INFO, "👀 watching /srv/plugins, /srv (native)")
    ]


async def test_watcher_stopped_is_logged_with_its_reason(logged: Publish) -> None:
    assert await logged(WatcherStopped(reason="switched off")) == [
        ("hotbus.watcher", INFO, "watching stopped (switched off)")
    ]
    assert await logged(WatcherStopped()) == [("hotbus.watcher", INFO, "watching stopped")]


async def test_watcher_restart_is_a_warning(logged: Publish) -> None:
    event = WatcherRestarted(observer="native", reason="the native observer thread died")
    assert await logged(event) == [
        ("hotbus.watcher", WARNING, "⚠ watching again (native): the native observer thread died")
    ]


async def test_watcher_fallback_is_a_warning_with_the_hint(logged: Publish) -> None:
    event = WatcherFellBack(
        error=ErrorInfo(type="OSError", message="inotify watch limit reached"),
        hint="raise the limits",
    )
    assert await logged(event) == [
        (
            "hotbus.watcher",
            WARNING,
            "⚠ watching by polling: OSError: inotify watch limit reached; raise the limits",
        )
    ]


async def test_a_lost_directory_is_a_warning_saying_what_happens_to_its_plugins(
    logged: Publish,
) -> None:
    moved = WatcherLost(path=Path("/srv/plugins"), reason="moved away", deleted=False)
    deleted = WatcherLost(path=Path("/srv/plugins"), reason="deleted", deleted=True)
    assert await logged(moved) + await logged(deleted) == [
        (
            "hotbus.watcher",
            WARNING,
            "⚠ /srv/plugins is moved away: its plugins keep serving; waiting for it to come back",
        ),
        (
            "hotbus.watcher",
            WARNING,
            "⚠ /srv/plugins is deleted: its plugins unload; waiting for it to come back",
        ),
    ]


async def test_an_unreadable_file_is_a_warning_with_the_fix(logged: Publish) -> None:
    message = "cannot read p.py: permission denied; fix its permissions"
    event = FileUnreadable(
        path=Path("/srv/plugins/p.py"), error=ErrorInfo(type="PermissionError", message=message)
    )
    assert await logged(event) == [
        ("hotbus.file", WARNING, f"⚠ {message} (what runs keeps running)")
    ]


async def test_a_found_directory_is_logged(logged: Publish) -> None:
    assert await logged(WatcherFound(path=Path("/srv/plugins"))) == [
        ("hotbus.watcher", INFO, "👀 /srv/plugins is back: watching it again")
    ]


async def test_cancelled_handlers_are_a_warning(logged: Publish) -> None:
    event = HandlersCancelled(plugin="dice", cancelled=2, timeout_s=0.5)
    assert await logged(event) == [
        (
            "hotbus.reload",
            WARNING,
            "⚠ dice: cancelled 2 in-flight handlers still running after 0.5 s",
        )
    ]


async def test_counts_of_one_read_naturally(logged: Publish) -> None:
    settled = FileSettled(
        path=Path("dice.py"), outcome=SettleOutcome.CHANGED, absorbed=1, waited_ms=2.0
    )
    lines = [
        *await logged(RuntimeStarted(plugins=["dice"], watching=True, duration_ms=1.0)),
        *await logged(HandlersCancelled(plugin="dice", cancelled=1, timeout_s=0.5)),
        *await logged(settled),
        *await logged(ReloadThrottled(plugin="dice", reloads=1, delay_s=1.0)),
    ]
    assert [text for _, _, text in lines] == [
        "▶ hotbus started: 1 plugin active (dice), watching on, in 1.0 ms",
        "⚠ dice: cancelled 1 in-flight handler still running after 0.5 s",
        "file changed dice.py (1 raw event, 2.0 ms)",
        "⚠ dice reloads itself: its files changed 1 time in a row while it was starting; "
        "next reload in 1 s",
    ]


async def test_discarded_state_is_a_warning_with_the_reason(logged: Publish) -> None:
    event = StateDiscarded(plugin="quotes", old_schema_version=1, new_schema_version=2, reason="x")
    assert await logged(event) == [("hotbus.plugin", WARNING, "⚠ quotes starts fresh: x")]


async def test_state_mismatch_is_a_warning_naming_the_fields_and_the_fix(logged: Publish) -> None:
    event = StateMismatch(
        plugin="quotes",
        schema_version=1,
        model="QuotesState",
        dropped=["quotes", "meta.by"],
        defaulted=["items"],
        hint="bump schema_version",
    )
    assert await logged(event) == [
        (
            "hotbus.plugin",
            WARNING,
            "⚠ quotes: state hand-off dropped quotes, meta.by (not declared by QuotesState, "
            "schema 1) and used defaults for items; bump schema_version",
        )
    ]


async def test_state_mismatch_without_defaulted_fields_says_only_what_was_dropped(
    logged: Publish,
) -> None:
    event = StateMismatch(plugin="quotes", schema_version=3, model="Q", dropped=["n"])
    assert await logged(event) == [
        (
            "hotbus.plugin",
            WARNING,
            "⚠ quotes: state hand-off dropped n (not declared by Q, schema 3)",
        )
    ]


async def test_a_throttled_reload_is_a_warning_with_the_count_the_delay_and_the_hint(
    logged: Publish,
) -> None:
    event = ReloadThrottled(
        plugin="dice", reloads=5, delay_s=2.0, paths=[Path("/srv/dice.py")], hint="write elsewhere"
    )
    assert await logged(event) == [
        (
            "hotbus.reload",
            WARNING,
            "⚠ dice reloads itself: dice.py changed 5 times in a row while it was starting; "
            "next reload in 2 s; write elsewhere",
        )
    ]
