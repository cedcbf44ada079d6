"""Planning, at the bus: what one `hotbus.reload.requested` (or a burst of them) is turned into.

No watcher and no sleeping: each test publishes ``hotbus.file.settled`` or
``hotbus.reload.requested`` itself and waits for the transaction's outcome.
"""

from __future__ import annotations

import pytest
from hotbus.schemas import PluginState, PluginStateChanged, ReloadCommitted, ReloadPlanned
from hotbus.testing import Harness, PluginDir

from tests.cascade.helpers import (
    CHAIN,
    DIAMOND,
    outcome,
    plugin_source,
    request,
    sequence,
    settle,
    states,
    write_chain,
    write_diamond,
)

S = PluginState

GRAPHS = {"chain": CHAIN, "diamond": DIAMOND}


def _write(plugin_dir: PluginDir, graph: dict[str, tuple[str, ...]]) -> None:
    for name, requires in graph.items():
        plugin_dir.write(f"{name}.py", plugin_source(name, requires=requires))


# -- the plan ------------------------------------------------------------------------------------


@pytest.mark.parametrize("graph", sorted(GRAPHS))
async def test_the_plan_is_the_trigger_and_its_dependents_in_dependency_order(
    plugin_dir: PluginDir, hotbus: Harness, graph: str
) -> None:
    _write(plugin_dir, GRAPHS[graph])
    await hotbus.start(watch=False)
    await request(hotbus, "a")
    planned = await hotbus.wait_for(ReloadPlanned)
    assert (planned.triggers, planned.members) == (["a"], list(GRAPHS[graph]))


async def test_the_plan_of_a_middle_plugin_leaves_out_what_it_depends_on(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_diamond(plugin_dir)
    await hotbus.start(watch=False)
    await request(hotbus, "b")
    planned = await hotbus.wait_for(ReloadPlanned)
    assert planned.members == ["b", "d"]


async def test_a_dependent_that_is_not_active_is_no_member_of_the_plan(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(plugin_dir)
    runtime = await hotbus.start(watch=False)
    await runtime.disable("c")
    await request(hotbus, "a")
    planned = await hotbus.wait_for(ReloadPlanned)
    assert planned.members == ["a", "b"]


async def test_requests_published_in_one_burst_make_one_plan(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_diamond(plugin_dir)
    await hotbus.start(watch=False)
    await request(hotbus, "d", "b", "a", "c", "a")
    await outcome(hotbus)
    await hotbus.stop()  # returns once no transaction runs and no request waits
    assert len(hotbus.events.of(ReloadPlanned)) == 1


async def test_requests_published_in_one_burst_plan_each_plugin_once(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_diamond(plugin_dir)
    await hotbus.start(watch=False)
    await request(hotbus, "d", "b", "a", "c", "a")
    planned = await hotbus.wait_for(ReloadPlanned)
    assert (planned.triggers, planned.members) == (["d", "b", "a", "c"], ["a", "b", "c", "d"])


async def test_requests_published_in_one_burst_commit_each_plugin_once(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_diamond(plugin_dir)
    await hotbus.start(watch=False)
    await request(hotbus, "d", "b", "a", "c", "a")
    committed = await hotbus.wait_for(ReloadCommitted)
    assert [change.plugin for change in committed.changes] == ["a", "b", "c", "d"]


async def test_files_settling_together_make_one_plan(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(plugin_dir)
    await hotbus.start(watch=False)
    for name, value in (("a", 2), ("b", 30), ("c", 400)):
        plugin_dir.write(f"{name}.py", plugin_source(name, requires=CHAIN[name], value=value))
    await settle(hotbus, plugin_dir / "c.py", plugin_dir / "a.py", plugin_dir / "b.py")
    await outcome(hotbus)
    await hotbus.stop()
    assert [(p.triggers, p.members) for p in hotbus.events.of(ReloadPlanned)] == [
        (["c", "a", "b"], ["a", "b", "c"])
    ]


# -- the exact sequence ------------------------------------------------------------------------


async def test_a_settled_edit_of_the_chain_root_publishes_exactly_this_sequence(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(plugin_dir)
    await hotbus.start(watch=False)
    plugin_dir.write("a.py", plugin_source("a", value=2))
    start = await settle(hotbus, plugin_dir / "a.py")
    await outcome(hotbus)
    await hotbus.stop()
    assert sequence(hotbus.events, start) == [
        "settled a.py changed",
        "requested a reload (file)",
        "planned triggers=a members=a,b,c joining=",
        "state c active->stopping",
        "state c stopping->loaded",
        "state b active->stopping",
        "state b stopping->loaded",
        "state a active->stopping",
        "state a stopping->loaded",
        "state a loaded->starting",
        "state a starting->active",
        "state b loaded->starting",
        "state b starting->active",
        "state c loaded->starting",
        "state c starting->active",
        "committed a,b,c",
    ]


async def test_a_requested_reload_of_the_diamond_root_publishes_exactly_this_sequence(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_diamond(plugin_dir)
    await hotbus.start(watch=False)
    start = await request(hotbus, "a")
    await outcome(hotbus)
    await hotbus.stop()
    assert sequence(hotbus.events, start) == [
        "requested a reload (manual)",
        "planned triggers=a members=a,b,c,d joining=",
        "state d active->stopping",
        "state d stopping->loaded",
        "state c active->stopping",
        "state c stopping->loaded",
        "state b active->stopping",
        "state b stopping->loaded",
        "state a active->stopping",
        "state a stopping->loaded",
        "state a loaded->starting",
        "state a starting->active",
        "state b loaded->starting",
        "state b starting->active",
        "state c loaded->starting",
        "state c starting->active",
        "state d loaded->starting",
        "state d starting->active",
        "committed a,b,c,d",
    ]


# -- blocked plugins join ------------------------------------------------------------------------

BROKEN = "\ndef broken(:\n"


async def _fix_a_broken_root(plugin_dir: PluginDir, hotbus: Harness) -> ReloadPlanned:
    """Start ``a <- b <- c`` with a.py not compiling, then settle a fixed a.py."""
    write_chain(plugin_dir)
    plugin_dir.write("a.py", plugin_source("a") + BROKEN)
    await hotbus.start(watch=False)
    assert states(hotbus) == {"a": S.FAILED, "b": S.BLOCKED, "c": S.BLOCKED}
    plugin_dir.write("a.py", plugin_source("a"))
    await settle(hotbus, plugin_dir / "a.py")
    return await hotbus.wait_for(ReloadPlanned)


async def test_plugins_blocked_on_a_fixed_dependency_join_its_plan(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    planned = await _fix_a_broken_root(plugin_dir, hotbus)
    assert (planned.members, planned.joining) == (["a"], ["b", "c"])


async def test_plugins_blocked_on_a_fixed_dependency_end_active(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _fix_a_broken_root(plugin_dir, hotbus)
    await hotbus.wait_for(ReloadCommitted)
    await hotbus.wait_for(PluginStateChanged, lambda e: e.plugin == "c" and e.state is S.ACTIVE)
    assert states(hotbus) == {"a": S.ACTIVE, "b": S.ACTIVE, "c": S.ACTIVE}


async def test_fixing_a_failed_dependency_publishes_exactly_this_sequence(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(plugin_dir)
    plugin_dir.write("a.py", plugin_source("a") + BROKEN)
    await hotbus.start(watch=False)
    plugin_dir.write("a.py", plugin_source("a"))
    start = await settle(hotbus, plugin_dir / "a.py")
    await outcome(hotbus)
    await hotbus.stop()
    assert sequence(hotbus.events, start) == [
        "settled a.py changed",
        "requested a reload (file)",
        "planned triggers=a members=a joining=b,c",
        "state a failed->loading",
        "state a loading->loaded",
        "state a loaded->starting",
        "state a starting->active",
        "committed a",
        "state b blocked->starting",
        "state b starting->active",
        "state c blocked->starting",
        "state c starting->active",
    ]


async def test_a_plugin_blocked_on_a_version_joins_the_plan_of_the_version_that_satisfies_it(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("a.py", plugin_source("a", version="1.0.0"))
    plugin_dir.write("b.py", plugin_source("b", requires=["a>=2.0.0"]))
    await hotbus.start(watch=False)
    plugin_dir.write("a.py", plugin_source("a", version="2.0.0"))
    await settle(hotbus, plugin_dir / "a.py")
    planned = await hotbus.wait_for(ReloadPlanned)
    await hotbus.wait_for(ReloadCommitted)
    await hotbus.wait_for(PluginStateChanged, lambda e: e.plugin == "b" and e.state is S.ACTIVE)
    assert (planned.joining, states(hotbus)["b"]) == (["b"], S.ACTIVE)
