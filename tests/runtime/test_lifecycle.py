"""The lifecycle: every transition published, failures at each phase contained to their plugin."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

import pytest
from hotbus.runtime import check_transition
from hotbus.runtime._testing.plugin_dir import PluginDir
from hotbus.schemas import LifecycleError, Phase, PluginState, PluginStateChanged

from tests.runtime import events
from tests.runtime.events import Ping
from tests.runtime.helpers import MakeRuntime, failures, plugin_source, transitions

S = PluginState

HANDLER = """
    @subscribe("rt.ping")
    async def on_ping(self, event) -> None:
        events.note(f"dice got {event.n}")
"""
HANGING_SETUP = """
    async def setup(self) -> None:
        await asyncio.Event().wait()
"""
HANGING_TEARDOWN = """
    async def teardown(self) -> None:
        await asyncio.Event().wait()
"""
RAISING_TEARDOWN = """
    async def teardown(self) -> None:
        raise RuntimeError("the dice are stuck")
"""


async def test_every_transition_of_a_plugin_that_starts_and_stops_is_published(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
        await runtime.stop()
    assert transitions(recorded, "dice") == [
        (None, S.DISCOVERED),
        (S.DISCOVERED, S.LOADING),
        (S.LOADING, S.LOADED),
        (S.LOADED, S.STARTING),
        (S.STARTING, S.ACTIVE),
        (S.ACTIVE, S.STOPPING),
        (S.STOPPING, S.UNLOADED),
    ]


async def test_the_active_transition_carries_the_version(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    with runtime.bus.record(PluginStateChanged) as recorded:
        await runtime.start()
    active = [e for e in recorded.of(PluginStateChanged) if e.state is S.ACTIVE]
    assert [e.version for e in active] == [runtime.status()[0].version]


def test_an_illegal_transition_raises_lifecycle_error() -> None:
    with pytest.raises(LifecycleError, match="illegal lifecycle transition active -> loaded") as e:
        check_transition("dice", S.ACTIVE, S.LOADED)
    assert (e.value.plugin, e.value.current, e.value.target) == ("dice", "active", "loaded")


def test_a_new_plugin_can_only_be_discovered() -> None:
    with pytest.raises(LifecycleError, match=r"\(new\) -> active"):
        check_transition("dice", None, S.ACTIVE)


# -- setup -----------------------------------------------------------------------------------------


async def test_setup_raising_fails_the_plugin_at_setup(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                async def setup(self) -> None:
                    raise ValueError("no table to roll on")
            """,
        ),
    )
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert (failure.phase, failure.error.type, failure.error.message) == (
        Phase.SETUP,
        "ValueError",
        "no table to roll on",
    )


async def test_setup_raising_leaves_the_plugin_failed(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                async def setup(self) -> None:
                    raise ValueError("no table to roll on")
            """,
        ),
    )
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    assert transitions(recorded, "dice")[-1] == (S.STARTING, S.FAILED)


async def test_setup_raising_in_one_plugin_lets_the_others_start(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("coin.py", plugin_source("coin"))
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                async def setup(self) -> None:
                    raise ValueError("no table to roll on")
            """,
        ),
    )
    plugin_dir.write("zither.py", plugin_source("zither"))
    runtime = make_runtime()
    await runtime.start()
    assert {r.name: r.state for r in runtime.status()} == {
        "coin": S.ACTIVE,
        "dice": S.FAILED,
        "zither": S.ACTIVE,
    }


async def test_a_failed_setup_subscribes_no_handler(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body=HANDLER
            + """
                async def setup(self) -> None:
                    raise ValueError("no table to roll on")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    assert runtime.bus.subscriptions("dice") == []


async def test_a_plugin_failed_at_setup_starts_once_fixed_and_reloaded(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            body="""
                async def setup(self) -> None:
                    raise ValueError("no table to roll on")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    await plugin_dir.save("dice.py", plugin_source("dice"))
    await runtime.reload("dice")
    assert runtime.status()[0].state is S.ACTIVE


async def test_setup_hanging_fails_at_setup_saying_it_did_not_finish(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", header="import asyncio", body=HANGING_SETUP))
    runtime = make_runtime(setup_timeout_s=0.2)
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.phase is Phase.SETUP
    assert "setup did not finish within 0.2 s" in failure.error.message


async def test_setup_hanging_does_not_hold_up_the_other_plugins(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("coin.py", plugin_source("coin"))
    plugin_dir.write("dice.py", plugin_source("dice", header="import asyncio", body=HANGING_SETUP))
    runtime = make_runtime(setup_timeout_s=0.2)
    await runtime.start()
    assert {r.name: r.state for r in runtime.status()} == {"coin": S.ACTIVE, "dice": S.FAILED}


async def test_sys_exit_in_setup_does_not_stop_the_runtime(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("coin.py", plugin_source("coin"))
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            header="import sys",
            body="""
                async def setup(self) -> None:
                    sys.exit("dice quits")
            """,
        ),
    )
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    assert [(f.phase, f.error.type) for f in failures(recorded, "dice")] == [
        (Phase.SETUP, "SystemExit")
    ]
    assert runtime.plugin("coin").name == "coin"


# -- hooks a plugin keeps as Plugin defines them ---------------------------------------------------

HOOKLESS = """
    from hotbus import Plugin

    class Plain(Plugin):
        name = "plain"
        version = "1.0.0"
"""


async def test_hooks_a_plugin_keeps_as_plugin_defines_them_run_no_task(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("plain.py", HOOKLESS)
    plugin_dir.write("dice.py", plugin_source("dice"))
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[Any]] = []

    def recorded(
        loop: asyncio.AbstractEventLoop,
        coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any],
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop)
        tasks.append(task)  # named by create_task once made
        return task

    loop.set_task_factory(recorded)
    try:
        runtime = make_runtime()
        await runtime.start()
        await runtime.reload("plain")
        await runtime.reload("dice")
        await runtime.stop()
    finally:
        loop.set_task_factory(None)
    hooks = sorted({t.get_name() for t in tasks if t.get_name().startswith("hotbus:hook:")})
    assert hooks == ["hotbus:hook:dice:setup", "hotbus:hook:dice:teardown"]


# -- teardown --------------------------------------------------------------------------------------


async def test_teardown_raising_publishes_failed_at_teardown(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", body=RAISING_TEARDOWN))
    runtime = make_runtime()
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.stop()
    assert [(f.phase, f.error.message) for f in failures(recorded, "dice")] == [
        (Phase.TEARDOWN, "the dice are stuck")
    ]


async def test_teardown_raising_still_ends_unloaded(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", body=RAISING_TEARDOWN))
    runtime = make_runtime()
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.stop()
    assert transitions(recorded, "dice") == [(S.ACTIVE, S.STOPPING), (S.STOPPING, S.UNLOADED)]


async def test_teardown_raising_still_removes_the_handlers(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", body=HANDLER + RAISING_TEARDOWN))
    runtime = make_runtime()
    await runtime.start()
    assert len(runtime.bus.subscriptions("dice")) == 1
    await runtime.unload("dice")
    await runtime.bus.publish(Ping(n=1))
    assert "dice got 1" not in events.JOURNAL


async def test_teardown_hanging_fails_at_teardown_saying_it_did_not_finish(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py", plugin_source("dice", header="import asyncio", body=HANGING_TEARDOWN)
    )
    runtime = make_runtime(teardown_timeout_s=0.2)
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.stop()
    (failure,) = failures(recorded, "dice")
    assert failure.phase is Phase.TEARDOWN
    assert "teardown did not finish within 0.2 s" in failure.error.message


async def test_teardown_hanging_still_ends_unloaded_without_handlers(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        plugin_source("dice", header="import asyncio", body=HANDLER + HANGING_TEARDOWN),
    )
    runtime = make_runtime(teardown_timeout_s=0.2)
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.unload("dice")
    assert transitions(recorded, "dice")[-1] == (S.STOPPING, S.UNLOADED)
    assert runtime.bus.subscriptions("dice") == []


async def test_sys_exit_in_teardown_does_not_stop_the_runtime(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("coin.py", plugin_source("coin"))
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            header="import sys",
            body="""
                async def teardown(self) -> None:
                    sys.exit("dice quits")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    await runtime.unload("dice")
    assert runtime.plugin("coin").name == "coin"
