"""Cascades from real saves: a real watcher, real files, saved the way editors save them.

Each test starts the harness with its watcher, saves a file, and waits (with a time limit) for
the transaction's outcome.
"""

from __future__ import annotations

import asyncio

import pytest
from hotbus.schemas import (
    PluginState,
    PluginStateChanged,
    ReloadCommitted,
    ReloadPlanned,
    ReloadRejected,
    ReloadRolledBack,
)
from hotbus.testing import SAVE_STYLES, Harness, PluginDir, SaveStyle

from tests.cascade.helpers import (
    CHAIN,
    DIAMOND,
    answers,
    ask,
    plugin_source,
    setups,
    states,
    teardowns,
    touched,
    versions,
    write_chain,
    write_diamond,
)

S = PluginState
GRAPHS = {"chain": CHAIN, "diamond": DIAMOND}
TIMEOUT = 10.0
#: How far apart a save-all writes its files (well inside the 20 ms write window).
SAVE_ALL_PACE_S = 0.005


def _write(plugin_dir: PluginDir, graph: str) -> None:
    if graph == "chain":
        write_chain(plugin_dir)
    else:
        write_diamond(plugin_dir)


@pytest.mark.parametrize("graph", sorted(GRAPHS))
async def test_saving_the_root_reloads_every_dependent_once_in_order(
    plugin_dir: PluginDir, hotbus: Harness, graph: str
) -> None:
    _write(plugin_dir, graph)
    await hotbus.start()
    start = hotbus.events.events[-1]
    await plugin_dir.save("a.py", plugin_source("a", value=2), "atomic")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    order = list(GRAPHS[graph])
    assert (teardowns(hotbus.events, start), setups(hotbus.events, start)) == (
        order[::-1],
        order,
    )


@pytest.mark.parametrize("style", SAVE_STYLES)
async def test_saving_the_root_in_any_editor_style_commits_the_whole_chain_once(
    plugin_dir: PluginDir, hotbus: Harness, style: SaveStyle
) -> None:
    write_chain(plugin_dir)
    await hotbus.start()
    await plugin_dir.save("a.py", plugin_source("a", value=2), style)
    committed = await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    assert [change.plugin for change in committed.changes] == ["a", "b", "c"]


async def test_after_saving_the_root_a_dependent_looks_up_its_new_behaviour(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(plugin_dir)
    await hotbus.start()
    await plugin_dir.save("a.py", plugin_source("a", value=2), "atomic")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    assert (await ask(hotbus, "b")).looked_up == {"a": 2}


async def test_after_saving_the_root_a_dependent_that_imports_it_runs_its_new_module(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("a.py", plugin_source("a"))
    plugin_dir.write("b.py", plugin_source("b", requires=["a"], imports=["a"]))
    await hotbus.start()
    assert (await ask(hotbus, "b")).imported == {"a": 1}
    await plugin_dir.save("a.py", plugin_source("a", value=2), "atomic")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    assert (await ask(hotbus, "b")).imported == {"a": 2}


async def test_saving_the_root_keeps_every_members_state(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_diamond(plugin_dir)
    await hotbus.start()
    await answers(hotbus, DIAMOND)
    await plugin_dir.save("a.py", plugin_source("a", value=2), "atomic")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    seen = await answers(hotbus, DIAMOND)
    assert {name: answer.hits for name, answer in seen.items()} == dict.fromkeys(DIAMOND, 2)


async def test_saving_a_root_that_does_not_compile_touches_nobody(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(plugin_dir)
    await hotbus.start()
    before = versions(hotbus)
    start = hotbus.events.events[-1]
    await plugin_dir.save("a.py", plugin_source("a", value=2) + "\ndef broken(:\n", "atomic")
    rejected = await hotbus.wait_for(ReloadRejected, timeout=TIMEOUT)
    assert (rejected.plugin, touched(hotbus.events, start), versions(hotbus)) == (
        "a",
        [],
        before,
    )


async def test_saving_a_root_that_a_dependent_refuses_rolls_every_member_back(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(
        plugin_dir,
        c_setup="if self.ctx.get_plugin('a').value() < 0:\n    raise ValueError('negative')",
    )
    await hotbus.start()
    before = versions(hotbus)
    await plugin_dir.save("a.py", plugin_source("a", value=-1), "atomic")
    rolled_back = await hotbus.wait_for(ReloadRolledBack, timeout=TIMEOUT)
    assert (rolled_back.plugin, rolled_back.members, versions(hotbus)) == (
        "c",
        ["a", "b", "c"],
        before,
    )


async def test_saving_a_fixed_dependency_starts_its_blocked_dependents_in_its_plan(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(plugin_dir)
    plugin_dir.write("a.py", plugin_source("a") + "\ndef broken(:\n")
    await hotbus.start()
    await plugin_dir.save("a.py", plugin_source("a"), "atomic")
    planned = await hotbus.wait_for(ReloadPlanned, timeout=TIMEOUT)
    await hotbus.wait_for(
        PluginStateChanged, lambda e: e.plugin == "c" and e.state is S.ACTIVE, timeout=TIMEOUT
    )
    assert (planned.joining, states(hotbus)) == (
        ["b", "c"],
        {"a": S.ACTIVE, "b": S.ACTIVE, "c": S.ACTIVE},
    )


async def test_saving_every_plugin_of_the_chain_at_once_makes_one_plan(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    """A save-all: three files written 5 ms apart, all inside one 20 ms write window.

    The pause between the writes is the editor's pace (an fsync per file takes milliseconds),
    not a wait for a result: the test then waits for the outcome with a time limit.
    """
    write_chain(plugin_dir)
    await hotbus.start(debounce_ms=20.0)
    for name in ("c", "b", "a"):
        plugin_dir.write(f"{name}.py", plugin_source(name, requires=CHAIN[name], value=5))
        await asyncio.sleep(SAVE_ALL_PACE_S)
    await hotbus.wait_for(ReloadCommitted, lambda e: e.changes[0].plugin == "a", timeout=TIMEOUT)
    await hotbus.stop()
    assert [p.members for p in hotbus.events.of(ReloadPlanned)] == [["a", "b", "c"]]
