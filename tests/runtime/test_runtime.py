"""The `Runtime` as a host sees it: a context manager, status rows, versions, and lookups."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from hotbus import Runtime
from hotbus.runtime._testing.plugin_dir import PluginDir
from hotbus.schemas import (
    PluginError,
    PluginState,
    RuntimeStarted,
    RuntimeStopped,
    RuntimeStopping,
    SourceKind,
    UnknownPluginError,
)

from tests.runtime import events
from tests.runtime.helpers import MakeRuntime, plugin_source

S = PluginState

SLOW_TEARDOWN = """
    async def teardown(self) -> None:
        await asyncio.sleep(0.05)
        events.note("teardown finished")
"""


async def test_entering_the_runtime_starts_the_plugins(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    async with make_runtime() as runtime:
        assert runtime.plugin("dice").name == "dice"


async def test_leaving_the_runtime_returns_only_after_every_teardown_is_done(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", header="import asyncio", body=SLOW_TEARDOWN))
    async with make_runtime():
        assert "teardown finished" not in events.JOURNAL
    assert "teardown finished" in events.JOURNAL


async def test_leaving_the_runtime_on_an_error_stops_the_plugins_saying_why(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    with runtime.bus.record(RuntimeStopping) as recorded, pytest.raises(ValueError, match="host"):
        async with runtime:
            raise ValueError("the host broke")
    assert [e.reason for e in recorded.of(RuntimeStopping)] == ["error: ValueError"]


async def test_start_is_idempotent(plugin_dir: PluginDir, make_runtime: MakeRuntime) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    await runtime.start()
    assert events.JOURNAL == ["setup dice"]


async def test_a_stopped_runtime_can_start_again(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    await runtime.stop()
    await runtime.start()
    assert (events.JOURNAL, runtime.plugin("dice").name) == (
        ["setup dice", "teardown dice", "setup dice"],
        "dice",
    )


async def test_the_runtime_publishes_started_stopping_and_stopped(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    with runtime.bus.record("hotbus.runtime.>") as recorded:
        await runtime.start()
        await runtime.stop(reason="test over")
    assert recorded.topics() == [RuntimeStarted.topic, RuntimeStopping.topic, RuntimeStopped.topic]


async def test_runtime_started_lists_the_active_plugins(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    plugin_dir.write("craps.py", plugin_source("craps", requires=["rng"]))
    runtime = make_runtime()
    with runtime.bus.record(RuntimeStarted) as recorded:
        await runtime.start()
    assert [e.plugins for e in recorded.of(RuntimeStarted)] == [["dice"]]


async def test_events_of_the_runtime_carry_its_id_as_source(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    with runtime.bus.record("hotbus.>") as recorded:
        await runtime.start()
        await runtime.stop()
    assert {e.source for e in recorded.events} == {runtime.id}


# -- status ----------------------------------------------------------------------------------------


async def test_status_row_of_an_active_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    path = plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    plugin_dir.write("rng.py", plugin_source("rng"))
    runtime = make_runtime()
    await runtime.start()
    row = next(row for row in runtime.status() if row.name == "dice")
    assert (row.state, row.kind, row.source, row.requires, row.enabled, row.error) == (
        S.ACTIVE,
        SourceKind.MODULE,
        str(path.resolve()),
        ["rng"],
        True,
        None,
    )


async def test_status_version_is_the_declared_version_plus_a_short_source_hash(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", version="1.0.0"))
    runtime = make_runtime()
    await runtime.start()
    version = runtime.status()[0].version
    assert version is not None
    assert re.fullmatch(r"1\.0\.0\+[0-9a-f]{6}", version)


async def test_status_row_of_a_failed_plugin_carries_the_error(
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
    row = runtime.status()[0]
    assert row.error is not None
    assert (row.state, row.error.type, row.error.message) == (
        S.FAILED,
        "ValueError",
        "no table to roll on",
    )


async def test_status_row_of_a_blocked_plugin_carries_the_reason(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    row = runtime.status()[0]
    assert (row.state, row.reason) == (S.BLOCKED, "missing dependency rng")


async def test_two_saves_with_identical_content_give_identical_versions(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    source = plugin_source("dice")
    plugin_dir.write("dice.py", source)
    runtime = make_runtime()
    await runtime.start()
    before = runtime.status()[0].version
    await plugin_dir.save("dice.py", source, style="atomic")
    await runtime.reload("dice")
    assert runtime.status()[0].version == before


async def test_a_save_with_other_content_gives_another_version(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    before = runtime.status()[0].version
    await plugin_dir.save("dice.py", plugin_source("dice", body="FACES = 6"))
    await runtime.reload("dice")
    assert runtime.status()[0].version != before


async def test_the_version_covers_the_helpers_the_plugin_imports(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice_tables.py", "FACES = 6\n")
    plugin_dir.write("dice.py", plugin_source("dice", header="from . import dice_tables"))
    runtime = make_runtime()
    await runtime.start()
    before = runtime.status()[0].version
    await plugin_dir.save("dice_tables.py", "FACES = 20\n")
    await runtime.reload("dice")
    assert runtime.status()[0].version != before


# -- lookups ---------------------------------------------------------------------------------------


async def test_plugin_of_an_unknown_name_raises_unknown_plugin_error(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    with pytest.raises(
        UnknownPluginError, match=r"'coin': no such plugin .*\(known plugins: dice\)"
    ):
        runtime.plugin("coin")


async def test_plugin_of_an_inactive_plugin_raises_unknown_plugin_error(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    with pytest.raises(UnknownPluginError) as caught:
        runtime.plugin("dice")
    assert caught.value.plugin == "dice"


@pytest.mark.parametrize("action", ["unload", "disable", "enable", "reload"])
async def test_acting_on_an_unknown_plugin_raises_unknown_plugin_error(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, action: str
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    acts: dict[str, Callable[[str], Awaitable[object]]] = {
        "unload": runtime.unload,
        "disable": runtime.disable,
        "enable": runtime.enable,
        "reload": runtime.reload,
    }
    act = acts[action]
    with pytest.raises(UnknownPluginError, match="'coin': no such plugin") as caught:
        await act("coin")
    assert caught.value.plugin == "coin"


async def test_loading_a_path_that_is_no_plugin_source_raises_plugin_error(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    notes = plugin_dir.write("notes.txt", "roll 2d6\n")
    runtime = make_runtime()
    await runtime.start()
    with pytest.raises(PluginError, match="is not a plugin source") as caught:
        await runtime.load(notes)
    assert caught.value.plugin == "notes"


def test_runtime_repr_names_its_id_and_counts(make_runtime: MakeRuntime) -> None:
    runtime: Runtime = make_runtime()
    assert repr(runtime) == f"<hotbus Runtime {runtime.id} plugins=0 active=0>"
