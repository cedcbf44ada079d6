"""The topic registry: parsing JSON back by topic, conflicts, reloads, weak references, schema."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hotbus.schemas import (
    AdminCommand,
    AdminOutcome,
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
    LoopStalled,
    NickTaken,
    Phase,
    PhaseDurations,
    PluginDiscovered,
    PluginFailed,
    PluginLeaked,
    PluginState,
    PluginStateChanged,
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
    StateRestored,
    StateSaved,
    StateSaveFailed,
    StateStoreSetAside,
    TopicConflictError,
    TransportConnected,
    TransportDisconnected,
    UnknownTopicError,
    VersionChange,
    WatcherFellBack,
    WatcherFound,
    WatcherLost,
    WatcherRestarted,
    WatcherStarted,
    WatcherStopped,
    registry,
)

PLUGINS = Path("/srv/bot/plugins")
ERROR = ErrorInfo(
    type="ValueError",
    message="sides must be positive",
    file=PLUGINS / "dice.py",
    line=12,
    traceback="Traceback (most recent call last): ...",
)

#: One fully populated instance of every event of hotbus's vocabulary.
EXAMPLES: list[Event] = [
    RuntimeStarted(
        plugin_dirs=[PLUGINS], plugins=["dice", "greeter"], watching=True, duration_ms=41.5
    ),
    RuntimeStopping(reason="signal SIGTERM"),
    RuntimeStopped(duration_ms=7.25),
    FileChanged(
        kind=FileChangeKind.MOVED,
        path=PLUGINS / ".dice.py.tmp",
        dest_path=PLUGINS / "dice.py",
        is_directory=False,
    ),
    FileSettled(
        path=PLUGINS / "dice.py",
        outcome=SettleOutcome.CHANGED,
        content_hash="9f86d081884c",
        absorbed=3,
        waited_ms=52.0,
    ),
    FileUnreadable(
        path=PLUGINS / "dice.py",
        error=ErrorInfo(
            type="PermissionError",
            message="cannot read dice.py: permission denied; fix its permissions",
            file=PLUGINS / "dice.py",
        ),
    ),
    PluginDiscovered(plugin="dice", kind=SourceKind.MODULE, path=PLUGINS / "dice.py"),
    PluginStateChanged(
        plugin="dice",
        previous=PluginState.STARTING,
        state=PluginState.ACTIVE,
        version="1.2.0+9f86d0",
        reason="setup done",
    ),
    PluginFailed(plugin="dice", phase=Phase.IMPORT, version="1.2.0+9f86d0", error=ERROR),
    PluginLeaked(plugin="dice", version="1.1.0+aa01bc", referrers=["list at 0x7f: cache"]),
    ReloadRequested(plugin="dice", reason=ReloadReason.FILE, paths=[PLUGINS / "dice.py"]),
    ReloadPlanned(
        plan_id="plan-1", triggers=["dice"], members=["dice", "roller"], joining=["stats"]
    ),
    ReloadRejected(
        plan_id="plan-1", plugin="dice", phase=Phase.COMPILE, error=ERROR, members=["dice"]
    ),
    ReloadCommitted(
        plan_id="plan-1",
        changes=[
            VersionChange(plugin="dice", old_version="1.1.0+aa01bc", new_version="1.2.0+9f86d0"),
            VersionChange(plugin="roller", old_version=None, new_version="0.1.0+000001"),
        ],
        durations=PhaseDurations(stage=1.5, quiesce=0.5, swap=2.0, total=4.0),
    ),
    ReloadPatched(
        plan_id="plan-2",
        plugin="dice",
        old_version="1.2.0+9f86d0",
        new_version="1.2.0+0c1d2e",
        functions=["Dice.roll", "rules.parse"],
        relocated=2,
        dependents=["roller"],
        duration_ms=0.4,
    ),
    ReloadRolledBack(
        plan_id="plan-1",
        plugin="roller",
        phase=Phase.SETUP,
        error=ERROR,
        members=["dice", "roller"],
    ),
    ReloadThrottled(
        plugin="dice",
        reloads=5,
        delay_s=2.0,
        paths=[PLUGINS / "dice.py"],
        hint="write data elsewhere",
    ),
    ConfigChanged(plugin="dice", path=Path("hotbus.toml"), fields=["sides", "max_dice"]),
    HandlerFailed(
        handler="dice.on_roll",
        owner="dice",
        event_topic="chat.message",
        failed_event_id=uuid4(),
        error=ERROR,
        timed_out=True,
    ),
    WatcherStarted(observer="native", paths=[PLUGINS]),
    WatcherStopped(reason="runtime stopping"),
    WatcherRestarted(observer="native", reason="observer thread died: OSError"),
    WatcherFellBack(observer="polling", error=ERROR, hint="raise fs.inotify.max_user_watches"),
    WatcherLost(path=PLUGINS, reason="moved away", deleted=False),
    WatcherFound(path=PLUGINS),
    HandlersCancelled(plugin="dice", cancelled=2, timeout_s=1.5),
    StateDiscarded(
        plugin="dice", old_schema_version=1, new_schema_version=3, reason="no migration from 1"
    ),
    StateMismatch(
        plugin="dice",
        schema_version=2,
        model="DiceState",
        dropped=["count", "rolls[].sides"],
        defaulted=["total"],
        hint="bump schema_version and define migrate_state, or keep the field name",
    ),
    StateRestored(path=PLUGINS / ".hotbus" / "state.sqlite3", plugins=["quotes"]),
    StateSaved(
        path=PLUGINS / ".hotbus" / "state.sqlite3",
        plugins=["quotes"],
        reason="period",
        duration_ms=1.5,
    ),
    StateSaveFailed(path=PLUGINS / ".hotbus" / "state.sqlite3", plugin="quotes", error=ERROR),
    FleetConnected(
        fleet="bots", host="a", server="nats://127.0.0.1:4222", reconnected=True, waiting=3
    ),
    FleetDisconnected(
        fleet="bots", host="a", server="nats://127.0.0.1:4222", reason="connection lost"
    ),
    FleetDropped(fleet="bots", host="a", dropped=2, total=5, limit=10),
    StateStoreSetAside(
        path=PLUGINS / ".hotbus" / "state.sqlite3",
        moved_to=PLUGINS / ".hotbus" / "state.sqlite3.unreadable-20260101T000000",
        error=ERROR,
        hint="plugins start fresh",
    ),
    LoopStalled(
        plugin="dice",
        doing="handler Dice.on_roll",
        held_ms=250.0,
        file=PLUGINS / "dice.py",
        line=42,
        interrupted=False,
    ),
    TransportConnected(
        transport="irc", server="irc.example:6697", nick="hotbus", channels=["#dev"], attempt=2
    ),
    TransportDisconnected(
        transport="irc", server="irc.example:6697", reason="connection reset", retry_in_s=4.0
    ),
    NickTaken(transport="irc", wanted="hotbus", using="hotbus_"),
    AdminCommand(
        transport="irc",
        user="ann",
        mask="ann!ann@trusted.example",
        command="reload dice",
        outcome=AdminOutcome.DONE,
        answer="reloaded dice 1.0.1+aa01bc in 3 ms",
    ),
]

RELOADED_SOURCE = """
from hotbus import Event

class Greeting(Event):
    topic = "test.registry.reloaded"

    text: str
"""


def _exec_module(source: str, module_name: str) -> dict[str, Any]:
    """Run ``source`` as a fresh module would run (as the runtime runs a plugin)."""
    namespace: dict[str, Any] = {"__name__": module_name}
    exec(compile(source, f"<{module_name}>", "exec"), namespace)
    return namespace


# -- parsing -----------------------------------------------------------------------------------


def _vocabulary_topics() -> list[str]:
    """Every registered topic whose class comes from the ``schemas`` package."""
    return [
        topic
        for topic in registry.topics()
        if registry.get(topic).__module__.startswith("hotbus.schemas.")
    ]


def test_examples_cover_every_registered_hotbus_topic() -> None:
    assert sorted(event.topic for event in EXAMPLES) == _vocabulary_topics()


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda event: event.topic)
def test_registry_parses_model_dump_json_back_into_an_equal_event(event: Event) -> None:
    assert registry.parse(event.topic, event.model_dump_json()) == event


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda event: event.topic)
def test_registry_parses_into_the_class_that_defines_the_topic(event: Event) -> None:
    assert type(registry.parse(event.topic, event.model_dump_json())) is type(event)


def test_unknown_topic_raises_unknown_topic_error() -> None:
    with pytest.raises(UnknownTopicError, match=r"topic 'test\.registry\.nowhere'") as caught:
        registry.get("test.registry.nowhere")
    assert caught.value.topic == "test.registry.nowhere"


def test_parsing_an_unknown_topic_raises_unknown_topic_error() -> None:
    with pytest.raises(UnknownTopicError, match="import the module that defines it") as caught:
        registry.parse("test.registry.nowhere", "{}")
    assert caught.value.topic == "test.registry.nowhere"


def test_unknown_topic_error_suggests_known_topics_with_the_same_prefix() -> None:
    with pytest.raises(UnknownTopicError, match=r"known topics with that prefix: hotbus\."):
        registry.get("hotbus.nowhere")


def test_registry_lists_its_topics_sorted() -> None:
    assert registry.topics() == sorted(registry)


# -- conflicts and reloads ---------------------------------------------------------------------


def test_two_classes_of_one_module_cannot_share_a_topic() -> None:
    class First(Event):
        topic = "test.registry.conflict"

    with pytest.raises(TopicConflictError, match=r"defined twice in one module, by .*First and "):

        class Second(Event):
            topic = "test.registry.conflict"

    assert registry.get("test.registry.conflict") is First


def test_topic_conflict_error_names_both_classes() -> None:
    class Original(Event):
        topic = "test.registry.conflict-names"

    with pytest.raises(TopicConflictError, match="Copycat") as caught:

        class Copycat(Event):
            topic = "test.registry.conflict-names"

    assert (caught.value.topic, caught.value.existing, caught.value.duplicate) == (
        "test.registry.conflict-names",
        f"{__name__}.{Original.__qualname__}",
        f"{__name__}.{Original.__qualname__.replace('Original', 'Copycat')}",
    )


def test_reloaded_plugin_class_replaces_the_registration() -> None:
    old = _exec_module(RELOADED_SOURCE, "hotbus_plugins.greeter_v1")["Greeting"]
    new = _exec_module(RELOADED_SOURCE, "hotbus_plugins.greeter_v2")["Greeting"]
    parsed = registry.parse("test.registry.reloaded", old(text="hi").model_dump_json())
    assert type(parsed) is new


def test_module_executed_again_replaces_the_registration() -> None:
    _exec_module(RELOADED_SOURCE, "hotbus_plugins.greeter")
    again = _exec_module(RELOADED_SOURCE, "hotbus_plugins.greeter")["Greeting"]
    assert registry.get("test.registry.reloaded") is again


def _define_transient_event(transient_topic: str) -> weakref.ref[type[Event]]:
    """Define an event class nothing keeps alive and return a weak reference to it."""

    class Transient(Event):
        topic = transient_topic

    return weakref.ref(Transient)


def test_registry_holds_classes_weakly() -> None:
    ref = _define_transient_event("test.registry.transient")
    gc.collect()
    assert (ref(), "test.registry.transient" in registry) == (None, False)


# -- JSON Schema -------------------------------------------------------------------------------


def test_json_schema_has_every_hotbus_topic_with_its_x_topic() -> None:
    schema = registry.json_schema(prefix="hotbus.")
    vocabulary = _vocabulary_topics()
    found = [schema["topics"].get(topic, {}).get("x-topic") for topic in vocabulary]
    assert found == vocabulary


def test_json_schema_is_json_serialisable() -> None:
    schema = registry.json_schema(prefix="hotbus.")
    assert json.loads(json.dumps(schema)) == schema


def test_json_schema_prefix_selects_topics() -> None:
    class Inside(Event):
        topic = "test.prefix.inside"

    class Outside(Event):
        topic = "test.other.outside"

    assert list(registry.json_schema(prefix="test.prefix.")["topics"]) == [Inside.topic]


def test_json_schema_skips_a_class_collected_while_it_runs() -> None:
    class Collector(Event):
        """Sorts before the transient class; runs the garbage collector on its schema."""

        topic = "test.schema.a-collector"

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            gc.collect()
            return super().model_json_schema(*args, **kwargs)

    gc.disable()
    try:
        _define_transient_event("test.schema.b-transient")
        schema = registry.json_schema(prefix="test.schema.")
    finally:
        gc.enable()
    assert Collector.topic in schema["topics"]
