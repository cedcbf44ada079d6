"""The runtime cleans up after a plugin, whatever the plugin's own teardown remembers."""

from __future__ import annotations

import asyncio

from hotbus.runtime._testing.plugin_dir import PluginDir
from hotbus.schemas import Phase

from tests.runtime import events
from tests.runtime.events import Ping
from tests.runtime.helpers import MakeRuntime, failures, plugin_source

#: A plugin that subscribes twice (a marker and a direct subscription) and forgets both.
FORGETFUL = plugin_source(
    "dice",
    body="""
        async def setup(self) -> None:
            self.ctx.subscribe("rt.ping", self.also_on_ping)

        async def teardown(self) -> None:
            pass  # forgets to unsubscribe

        @subscribe("rt.ping")
        async def on_ping(self, event) -> None:
            events.OBJECTS["handled by"] = self
            events.note(f"dice got {event.n}")

        def also_on_ping(self, event) -> None:
            events.note(f"dice also got {event.n}")
    """,
)
HANDLER = """
    @subscribe("rt.ping")
    async def on_ping(self, event) -> None:
        events.OBJECTS["handled by"] = self
        events.note(f"dice got {event.n}")
"""


def _received() -> list[str]:
    return [entry for entry in events.JOURNAL if entry.startswith("dice got")]


async def test_a_plugin_that_forgets_to_unsubscribe_leaks_no_handler_on_stop(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", FORGETFUL)
    runtime = make_runtime()
    await runtime.start()
    assert len(runtime.bus.subscriptions("dice")) == 2
    await runtime.stop()
    assert runtime.bus.subscriptions("dice") == []


async def test_a_plugin_that_forgets_to_unsubscribe_leaks_no_handler_on_unload(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", FORGETFUL)
    runtime = make_runtime()
    await runtime.start()
    assert len(runtime.bus.subscriptions("dice")) == 2
    await runtime.unload("dice")
    assert runtime.bus.subscriptions("dice") == []


async def test_an_unloaded_plugin_receives_no_events(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", FORGETFUL)
    runtime = make_runtime()
    await runtime.start()
    await runtime.unload("dice")
    await runtime.bus.publish(Ping(n=1))
    assert [e for e in events.JOURNAL if "got" in e] == []


async def test_handlers_never_double_after_reloads(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", FORGETFUL)
    runtime = make_runtime()
    await runtime.start()
    await runtime.reload("dice")
    await runtime.reload("dice")
    await runtime.bus.publish(Ping(n=1))
    await runtime.bus.join()
    assert sorted(e for e in events.JOURNAL if "got" in e) == ["dice also got 1", "dice got 1"]


async def test_after_a_reload_the_new_instance_handles_events(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", body=HANDLER))
    runtime = make_runtime()
    await runtime.start()
    old = runtime.plugin("dice")
    await runtime.reload("dice")
    await runtime.bus.publish(Ping(n=1))
    await runtime.bus.join()
    handler_owner = events.OBJECTS["handled by"]
    assert (handler_owner is runtime.plugin("dice"), handler_owner is old) == (True, False)


async def test_a_disabled_plugin_receives_no_events(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", body=HANDLER))
    runtime = make_runtime()
    await runtime.start()
    await runtime.disable("dice")
    await runtime.bus.publish(Ping(n=1))
    assert _received() == []


async def test_an_enabled_plugin_receives_events_again(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", body=HANDLER))
    runtime = make_runtime()
    await runtime.start()
    await runtime.disable("dice")
    await runtime.bus.publish(Ping(n=1))
    await runtime.bus.join()
    await runtime.enable("dice")
    await runtime.bus.publish(Ping(n=2))
    await runtime.bus.join()
    assert _received() == ["dice got 2"]


async def test_tasks_started_through_the_context_are_cancelled_on_unload(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            header="import asyncio",
            body="""
                async def setup(self) -> None:
                    events.OBJECTS["task"] = self.ctx.start_task(self.forever())

                async def forever(self) -> None:
                    events.OBJECTS["running"].set()
                    await asyncio.Event().wait()

                async def teardown(self) -> None:
                    pass  # forgets the task
            """,
        ),
    )
    running = events.OBJECTS["running"] = asyncio.Event()
    runtime = make_runtime()
    await runtime.start()
    await asyncio.wait_for(running.wait(), timeout=2)
    await runtime.unload("dice")
    assert events.OBJECTS["task"].cancelled()


async def test_disposers_run_even_if_teardown_raises(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                async def setup(self) -> None:
                    self.ctx.on_unload(lambda: events.note("disposed"))

                async def teardown(self) -> None:
                    raise RuntimeError("the dice are stuck")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    await runtime.unload("dice")
    assert "disposed" in events.JOURNAL


async def test_a_failing_disposer_is_reported_and_the_others_still_run(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                async def setup(self) -> None:
                    self.ctx.on_unload(lambda: events.note("disposed"))
                    self.ctx.on_unload(self.broken)

                def broken(self) -> None:
                    raise OSError("socket already closed")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.unload("dice")
    assert [(f.phase, f.error.message) for f in failures(recorded, "dice")] == [
        (Phase.TEARDOWN, "socket already closed")
    ]
    assert "disposed" in events.JOURNAL
