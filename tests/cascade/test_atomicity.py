"""The closure moves together: a rejected stage touches nobody; a failed swap restores everybody.

Driven at the bus (no watcher): each test rewrites plugin files, publishes
``hotbus.file.settled`` or ``hotbus.reload.requested``, and waits for the outcome.
"""

from __future__ import annotations

import pytest
from hotbus.schemas import (
    Phase,
    PluginFailed,
    PluginState,
    ReloadCommitted,
    ReloadPlanned,
    ReloadRejected,
    ReloadRolledBack,
    StateDiscarded,
)
from hotbus.testing import Harness, PluginDir

from tests.cascade import faults
from tests.cascade.helpers import (
    CHAIN,
    answers,
    outcome,
    plugin_source,
    request,
    running,
    sequence,
    settle,
    since,
    states,
    touched,
    versions,
    write_chain,
)

S = PluginState

#: c's setup refuses an ``a`` whose value is negative: a's new version then fails c's setup.
C_REFUSES_NEGATIVE_A = """
if self.ctx.get_plugin("a").value() < 0:
    raise ValueError("c refuses a negative a")
"""
BROKEN = "\ndef broken(:\n"


async def _start_chain(plugin_dir: PluginDir, hotbus: Harness) -> None:
    """Start ``a <- b <- c`` (c refusing a negative a) and ask each once (hits = 1)."""
    write_chain(plugin_dir, c_setup=C_REFUSES_NEGATIVE_A)
    await hotbus.start(watch=False)
    await answers(hotbus, CHAIN)


# -- staging fails: nothing is touched -----------------------------------------------------------


async def test_a_root_that_does_not_compile_is_rejected_naming_it(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=2) + BROKEN)
    await settle(hotbus, plugin_dir / "a.py")
    rejected = await hotbus.wait_for(ReloadRejected)
    assert (rejected.plugin, rejected.phase, rejected.members) == (
        "a",
        Phase.COMPILE,
        ["a", "b", "c"],
    )


async def test_a_root_that_does_not_compile_touches_no_member(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=2) + BROKEN)
    start = await settle(hotbus, plugin_dir / "a.py")
    await outcome(hotbus)
    await hotbus.stop()
    assert sequence(hotbus.events, start) == [
        "settled a.py changed",
        "requested a reload (file)",
        "planned triggers=a members=a,b,c joining=",
        "failed a at compile",
        "rejected a at compile members=a,b,c",
    ]


async def test_every_member_keeps_its_version_when_the_root_does_not_compile(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    before = versions(hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=2) + BROKEN)
    await settle(hotbus, plugin_dir / "a.py")
    await outcome(hotbus)
    assert versions(hotbus) == before


async def test_every_member_keeps_serving_when_the_root_does_not_compile(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=2) + BROKEN)
    await settle(hotbus, plugin_dir / "a.py")
    await outcome(hotbus)
    seen = await answers(hotbus, CHAIN)
    assert {n: (a.value, a.hits, a.looked_up) for n, a in seen.items()} == {
        "a": (1, 2, {}),
        "b": (20, 2, {"a": 1}),
        "c": (300, 2, {"b": 20}),
    }


async def test_a_dependent_failing_to_stage_against_the_new_root_is_rejected_naming_it(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    """b computes its VALUE from a's at import: a new a without VALUE fails b's staging."""
    b_source = plugin_source("b", requires=["a"], imports=["a"])
    plugin_dir.write("a.py", plugin_source("a"))
    plugin_dir.write("b.py", b_source.replace("VALUE = 1", "VALUE = a_module.VALUE + 1"))
    await hotbus.start(watch=False)
    plugin_dir.write("a.py", plugin_source("a").replace("VALUE = 1", "RENAMED = 1"))
    start = await settle(hotbus, plugin_dir / "a.py")
    rejected = await hotbus.wait_for(ReloadRejected)
    assert (rejected.plugin, rejected.phase, touched(hotbus.events, start)) == (
        "b",
        Phase.IMPORT,
        [],
    )


# -- dependencies of the new versions --------------------------------------------------------


async def test_a_new_version_requiring_a_missing_plugin_is_rejected_naming_it(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", requires=["zeta"]))
    start = await settle(hotbus, plugin_dir / "a.py")
    rejected = await hotbus.wait_for(ReloadRejected)
    assert (rejected.plugin, rejected.phase, touched(hotbus.events, start)) == (
        "a",
        Phase.DEPENDENCY,
        [],
    )
    assert "requires zeta, which is not running" in rejected.error.message


async def test_a_new_version_forming_a_cycle_is_rejected_naming_the_cycle(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", requires=["c"]))
    start = await settle(hotbus, plugin_dir / "a.py")
    rejected = await hotbus.wait_for(ReloadRejected)
    assert (rejected.plugin, rejected.phase, touched(hotbus.events, start)) == (
        "a",
        Phase.DEPENDENCY,
        [],
    )
    assert "dependency cycle a -> c -> b -> a" in rejected.error.message


async def test_a_new_version_dropping_a_dependency_commits_and_updates_the_graph(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("b.py", plugin_source("b", value=20))
    await settle(hotbus, plugin_dir / "b.py")
    await outcome(hotbus)
    assert {row.name: row.requires for row in running(hotbus).status()} == {
        "a": [],
        "b": [],
        "c": ["b"],
    }


async def test_after_a_dependency_was_dropped_the_old_dependency_reloads_alone(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("b.py", plugin_source("b", value=20))
    await settle(hotbus, plugin_dir / "b.py")
    await outcome(hotbus)
    await request(hotbus, "a")
    await outcome(hotbus)
    assert [e.members for e in hotbus.events.of(ReloadPlanned)] == [["b", "c"], ["a"]]


# -- the swap fails: every member goes back ------------------------------------------------------


async def _make_c_refuse(plugin_dir: PluginDir, hotbus: Harness) -> ReloadRolledBack:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=-1))
    await settle(hotbus, plugin_dir / "a.py")
    return await hotbus.wait_for(ReloadRolledBack)


async def test_a_dependent_failing_setup_rolls_back_naming_it_and_the_phase(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    rolled_back = await _make_c_refuse(plugin_dir, hotbus)
    assert (rolled_back.plugin, rolled_back.phase, rolled_back.error.message) == (
        "c",
        Phase.SETUP,
        "c refuses a negative a",
    )


async def test_a_dependent_failing_setup_restores_every_member(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    rolled_back = await _make_c_refuse(plugin_dir, hotbus)
    assert rolled_back.members == ["a", "b", "c"]


async def test_after_a_roll_back_every_member_runs_its_old_version(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(plugin_dir, c_setup=C_REFUSES_NEGATIVE_A)
    await hotbus.start(watch=False)
    before = versions(hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=-1))
    await settle(hotbus, plugin_dir / "a.py")
    await hotbus.wait_for(ReloadRolledBack)
    assert (versions(hotbus), states(hotbus)) == (
        before,
        {"a": S.ACTIVE, "b": S.ACTIVE, "c": S.ACTIVE},
    )


async def test_after_a_roll_back_every_member_serves_its_old_behaviour_and_state(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _make_c_refuse(plugin_dir, hotbus)
    seen = await answers(hotbus, CHAIN)
    assert {n: (a.value, a.hits, a.looked_up) for n, a in seen.items()} == {
        "a": (1, 2, {}),
        "b": (20, 2, {"a": 1}),
        "c": (300, 2, {"b": 20}),
    }


async def test_a_dependent_failing_setup_takes_the_root_down_and_up_again(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=-1))
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
        "failed c at setup",
        # the new a and b go down again, newest first, and every old version comes back up
        "state b active->stopping",
        "state b stopping->loaded",
        "state a active->stopping",
        "state a stopping->loaded",
        "state a loaded->starting",
        "state a starting->active",
        "state b loaded->starting",
        "state b starting->active",
        "state c starting->failed",
        "state c failed->loading",
        "state c loading->loaded",
        "state c loaded->starting",
        "state c starting->active",
        "rolled_back c at setup restored=a,b,c",
    ]


@pytest.mark.parametrize(
    ("fault", "plugin", "phase"),
    [
        ("setup b", "b", Phase.SETUP),
        ("setup c", "c", Phase.SETUP),
    ],
)
async def test_a_member_failing_during_the_swap_rolls_back_naming_it_and_the_phase(
    plugin_dir: PluginDir, hotbus: Harness, fault: str, plugin: str, phase: Phase
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=2))
    faults.FAULTS.add(fault)
    await settle(hotbus, plugin_dir / "a.py")
    rolled_back = await hotbus.wait_for(ReloadRolledBack)
    assert (rolled_back.plugin, rolled_back.phase) == (plugin, phase)


@pytest.mark.parametrize("fault", ["setup b", "setup c"])
async def test_after_a_failed_swap_every_member_serves_its_old_version_and_state(
    plugin_dir: PluginDir, hotbus: Harness, fault: str
) -> None:
    await _start_chain(plugin_dir, hotbus)
    before = versions(hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=2))
    faults.FAULTS.add(fault)
    await settle(hotbus, plugin_dir / "a.py")
    await hotbus.wait_for(ReloadRolledBack)
    seen = await answers(hotbus, CHAIN)
    assert versions(hotbus) == before
    assert {n: (a.value, a.hits, a.looked_up) for n, a in seen.items()} == {
        "a": (1, 2, {}),
        "b": (20, 2, {"a": 1}),
        "c": (300, 2, {"b": 20}),
    }


# -- a running version failing to retire does not hold the others back ---------------------------


@pytest.mark.parametrize(
    ("fault", "phase"), [("export b", Phase.EXPORT), ("teardown b", Phase.TEARDOWN)]
)
async def test_a_running_member_failing_to_retire_is_reported_and_the_cascade_commits(
    plugin_dir: PluginDir, hotbus: Harness, fault: str, phase: Phase
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=2))
    faults.FAULTS.add(fault)
    start = await settle(hotbus, plugin_dir / "a.py")
    committed = await hotbus.wait_for(ReloadCommitted)
    faults.FAULTS.clear()
    failures = [
        (e.plugin, e.phase) for e in since(hotbus.events, start) if isinstance(e, PluginFailed)
    ]
    assert (failures, [c.plugin for c in committed.changes]) == ([("b", phase)], ["a", "b", "c"])


@pytest.mark.parametrize(("fault", "b_hits"), [("export b", 1), ("teardown b", 2)])
async def test_after_a_member_failed_to_retire_every_member_serves_its_new_version(
    plugin_dir: PluginDir, hotbus: Harness, fault: str, b_hits: int
) -> None:
    """b's state is discarded when its export failed (it starts fresh), kept otherwise."""
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=2))
    faults.FAULTS.add(fault)
    await settle(hotbus, plugin_dir / "a.py")
    await hotbus.wait_for(ReloadCommitted)
    faults.FAULTS.clear()
    seen = await answers(hotbus, CHAIN)
    assert {n: (a.value, a.hits, a.looked_up) for n, a in seen.items()} == {
        "a": (2, 2, {}),
        "b": (20, b_hits, {"a": 2}),
        "c": (300, 2, {"b": 20}),
    }


async def test_a_member_whose_export_failed_reports_its_state_discarded(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await _start_chain(plugin_dir, hotbus)
    plugin_dir.write("a.py", plugin_source("a", value=2))
    faults.FAULTS.add("export b")
    await settle(hotbus, plugin_dir / "a.py")
    discarded = await hotbus.wait_for(StateDiscarded)
    assert discarded.plugin == "b"
    assert "export_state of version 1.0.0+" in discarded.reason
    assert "export b fails on purpose" in discarded.reason
