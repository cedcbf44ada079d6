"""The plugin author's API: the `subscribe` marker and what `Context` gives a plugin."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from hotbus import Plugin, subscribe
from hotbus.runtime._plugins.plugin import MARKER, SubscriptionMarker
from hotbus.runtime._testing.plugin_dir import PluginDir
from hotbus.schemas import PluginError, PluginState, TopicError, UnknownPluginError

from tests.runtime import events
from tests.runtime.events import Ping, Reply
from tests.runtime.helpers import MakeRuntime, failures, plugin_source

# -- subscribe ---------------------------------------------------------------------------------


async def _on_ping(event: Ping) -> None:
    events.note(f"got {event.n}")


def test_subscribe_returns_the_function_unchanged() -> None:
    assert subscribe("rt.ping")(_on_ping) is _on_ping


def test_subscribe_only_records_a_marker_on_the_function() -> None:
    class Dice(Plugin):
        name = "dice"
        version = "1.0.0"

        @subscribe(Ping, priority=3, timeout=1.5)
        async def on_ping(self, event: Ping) -> None: ...

    assert getattr(Dice.on_ping, MARKER) == [SubscriptionMarker("rt.ping", 3, 1.5)]


def test_subscribe_rejects_an_invalid_pattern_when_decorating() -> None:
    with pytest.raises(TopicError, match=re.escape("invalid topic 'rt..ping'")) as caught:
        subscribe("rt..ping")
    assert caught.value.topic == "rt..ping"


async def test_an_imported_plugin_that_never_starts_subscribes_nothing(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            requires=["rng"],
            body="""
                @subscribe("rt.ping")
                async def on_ping(self, event) -> None: ...
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    assert runtime.status()[0].state is PluginState.BLOCKED
    assert runtime.bus.subscriptions("dice") == []


async def test_marked_handlers_are_subscribed_with_the_plugin_as_owner(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                @subscribe("rt.ping")
                async def on_ping(self, event) -> None: ...

                @subscribe("rt.*")
                def on_any(self, event) -> None: ...
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    subscribed = {(sub.pattern, sub.owner) for sub in runtime.bus.subscriptions("dice")}
    assert subscribed == {("rt.ping", "dice"), ("rt.*", "dice")}


async def test_a_marked_handler_receives_events_of_its_topic(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                @subscribe("rt.ping")
                async def on_ping(self, event) -> None:
                    events.note(f"dice got {event.n}")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    await runtime.bus.publish(Ping(n=7))
    await runtime.bus.join()
    assert "dice got 7" in events.JOURNAL


async def test_handlers_are_not_subscribed_while_setup_runs(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            header="from tests.runtime.events import Ping",
            body="""
                async def setup(self) -> None:
                    await self.ctx.publish(Ping(n=1))
                    events.note("setup done")

                @subscribe("rt.ping")
                async def on_ping(self, event) -> None:
                    events.note(f"dice got {event.n}")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    assert events.JOURNAL == ["setup done"]


# -- Context -----------------------------------------------------------------------------------


async def test_context_publish_delivers_to_every_subscriber(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            header="from tests.runtime.events import Reply",
            body="""
                @subscribe("rt.ping")
                async def on_ping(self, event) -> None:
                    await self.ctx.publish(Reply(plugin="dice", n=event.n * 2))
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    with runtime.bus.record(Reply) as replies:
        await runtime.bus.publish(Ping(n=21))
        await runtime.bus.join()
    assert [(reply.plugin, reply.n) for reply in replies.of(Reply)] == [("dice", 42)]


async def test_context_publish_nowait_delivers_later(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            header="from tests.runtime.events import Reply",
            body="""
                async def setup(self) -> None:
                    self.ctx.publish_nowait(Reply(plugin="dice", n=1))
            """,
        ),
    )
    runtime = make_runtime()
    with runtime.bus.record(Reply) as replies:
        await runtime.start()
        reply = await replies.wait_for(Reply, timeout=2)
    assert (reply.plugin, reply.n) == ("dice", 1)


async def test_context_config_is_the_plugins_validated_config(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            header="""
                from pydantic import BaseModel

                class DiceConfig(BaseModel):
                    max_dice: int = 10
            """,
            body="config_model = DiceConfig",
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    ctx = runtime.plugin("dice").ctx
    assert (type(ctx.config).__name__, ctx.config.max_dice) == ("DiceConfig", 10)


async def test_context_logger_is_named_after_the_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hotbus.plugins")
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                async def setup(self) -> None:
                    self.ctx.logger.info("dice ready")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    assert [r.name for r in caplog.records if r.getMessage() == "dice ready"] == [
        "hotbus.plugins.dice"
    ]


async def test_start_task_is_cancelled_when_the_plugin_stops(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            header="import asyncio",
            body="""
                async def setup(self) -> None:
                    self.ctx.start_task(self.forever())

                async def forever(self) -> None:
                    events.OBJECTS["running"].set()
                    try:
                        await asyncio.Event().wait()
                    except asyncio.CancelledError:
                        events.note("task cancelled")
                        raise
            """,
        ),
    )
    running = events.OBJECTS["running"] = asyncio.Event()
    runtime = make_runtime()
    await runtime.start()
    await asyncio.wait_for(running.wait(), timeout=2)
    await runtime.stop()
    assert "task cancelled" in events.JOURNAL


async def test_disposers_run_in_reverse_order_on_stop(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                async def setup(self) -> None:
                    self.ctx.on_unload(lambda: events.note("dispose first"))
                    self.ctx.on_unload(self.close_second)
                    self.ctx.on_unload(lambda: events.note("dispose third"))

                async def close_second(self) -> None:
                    events.note("dispose second")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    await runtime.stop()
    assert [e for e in events.JOURNAL if e.startswith("dispose")] == [
        "dispose third",
        "dispose second",
        "dispose first",
    ]


async def test_get_plugin_returns_the_active_instance_of_another_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng"))
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            requires=["rng"],
            body="""
                async def setup(self) -> None:
                    events.OBJECTS["rng seen by dice"] = self.ctx.get_plugin("rng")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    assert events.OBJECTS["rng seen by dice"] is runtime.plugin("rng")


async def test_get_plugin_of_an_unknown_plugin_fails_the_caller_with_unknown_plugin_error(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                async def setup(self) -> None:
                    self.ctx.get_plugin("rng")
            """,
        ),
    )
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.error.type == f"hotbus.schemas.{UnknownPluginError.__name__}"


async def test_a_closed_context_refuses_to_publish_naming_the_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    ctx = runtime.plugin("dice").ctx
    await runtime.stop()
    with pytest.raises(PluginError, match=r"plugin 'dice': cannot publish") as caught:
        await ctx.publish(Ping())
    assert caught.value.plugin == "dice"


async def test_a_closed_context_refuses_to_start_a_task(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    ctx = runtime.plugin("dice").ctx
    await runtime.stop()

    async def work() -> None:
        events.note("task ran")

    with pytest.raises(PluginError, match=r"plugin 'dice': cannot start a task") as caught:
        ctx.start_task(work())
    assert caught.value.plugin == "dice"
