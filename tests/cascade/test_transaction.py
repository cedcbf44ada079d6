"""One transaction for the closure: stage all, quiesce, swap in order with hand-off, commit.

Driven at the bus (no watcher): each test rewrites plugin files, publishes
``hotbus.file.settled`` or ``hotbus.reload.requested``, and waits for the outcome.
"""

from __future__ import annotations

import gc
import sys
import weakref
from typing import Any

import pytest
from hotbus import Runtime
from hotbus.schemas import Event, PluginLeaked, PluginStateChanged, ReloadCommitted
from hotbus.testing import Harness, PluginDir

from tests.cascade.events import Answer
from tests.cascade.helpers import (
    CHAIN,
    DIAMOND,
    answers,
    ask,
    outcome,
    plugin_source,
    running,
    settle,
    setups,
    since,
    teardowns,
    versions,
    write_chain,
)

GRAPHS = {"chain": CHAIN, "diamond": DIAMOND}


def _write(plugin_dir: PluginDir, graph: dict[str, tuple[str, ...]], a_value: int = 1) -> None:
    for name, requires in graph.items():
        value = a_value if name == "a" else 1
        plugin_dir.write(f"{name}.py", plugin_source(name, requires=requires, value=value))


async def _edit_root(
    plugin_dir: PluginDir, hotbus: Harness, graph: str
) -> tuple[Event, ReloadCommitted]:
    """Start ``graph``, edit a.py and settle it; returns the settled event and the commit."""
    _write(plugin_dir, GRAPHS[graph])
    await hotbus.start(watch=False)
    _write(plugin_dir, {"a": ()}, a_value=2)
    start = await settle(hotbus, plugin_dir / "a.py")
    return start, await hotbus.wait_for(ReloadCommitted)


def _import_chain(plugin_dir: PluginDir, a_value: int = 1) -> None:
    """``a <- b <- c`` where b also imports a's module (``from . import a as a_module``)."""
    plugin_dir.write("a.py", plugin_source("a", value=a_value))
    plugin_dir.write("b.py", plugin_source("b", requires=["a"], value=20, imports=["a"]))
    plugin_dir.write("c.py", plugin_source("c", requires=["b"], value=300))


# -- order ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("graph", sorted(GRAPHS))
async def test_members_are_torn_down_once_each_in_reverse_dependency_order(
    plugin_dir: PluginDir, hotbus: Harness, graph: str
) -> None:
    start, _ = await _edit_root(plugin_dir, hotbus, graph)
    assert teardowns(hotbus.events, start) == list(reversed(GRAPHS[graph]))


@pytest.mark.parametrize("graph", sorted(GRAPHS))
async def test_members_are_set_up_once_each_in_dependency_order(
    plugin_dir: PluginDir, hotbus: Harness, graph: str
) -> None:
    start, _ = await _edit_root(plugin_dir, hotbus, graph)
    assert setups(hotbus.events, start) == list(GRAPHS[graph])


@pytest.mark.parametrize("graph", sorted(GRAPHS))
async def test_every_member_is_down_before_any_member_comes_up(
    plugin_dir: PluginDir, hotbus: Harness, graph: str
) -> None:
    start, _ = await _edit_root(plugin_dir, hotbus, graph)
    steps = [
        f"{e.previous}->{e.state}"
        for e in since(hotbus.events, start)
        if isinstance(e, PluginStateChanged)
    ]
    down, up = ["active->stopping", "stopping->loaded"], ["loaded->starting", "starting->active"]
    assert steps == down * len(GRAPHS[graph]) + up * len(GRAPHS[graph])


async def test_teardown_follows_the_running_dependencies_when_new_versions_reverse_them(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    """Old b requires a; new a requires b and new b nothing (both saved in one plan).

    The running b depends on the running a, so b must stop first (then the new b starts first).
    """
    plugin_dir.write("a.py", plugin_source("a"))
    plugin_dir.write("b.py", plugin_source("b", requires=["a"]))
    await hotbus.start(watch=False)
    plugin_dir.write("a.py", plugin_source("a", requires=["b"]))
    plugin_dir.write("b.py", plugin_source("b"))
    start = await settle(hotbus, plugin_dir / "a.py", plugin_dir / "b.py")
    await hotbus.wait_for(ReloadCommitted)
    assert teardowns(hotbus.events, start) == ["b", "a"]


# -- the commit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("graph", sorted(GRAPHS))
async def test_the_commit_lists_every_member_in_dependency_order(
    plugin_dir: PluginDir, hotbus: Harness, graph: str
) -> None:
    _, committed = await _edit_root(plugin_dir, hotbus, graph)
    assert [change.plugin for change in committed.changes] == list(GRAPHS[graph])


async def test_the_commit_gives_the_edited_root_a_new_version(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    _write(plugin_dir, CHAIN)
    await hotbus.start(watch=False)
    before = versions(hotbus)
    _write(plugin_dir, {"a": ()}, a_value=2)
    await settle(hotbus, plugin_dir / "a.py")
    committed = await hotbus.wait_for(ReloadCommitted)
    change = committed.changes[0]
    assert (change.plugin, change.old_version) == ("a", before["a"])
    assert change.new_version not in (None, before["a"])


async def test_the_commit_keeps_the_versions_of_dependents_whose_files_did_not_change(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    _write(plugin_dir, CHAIN)
    await hotbus.start(watch=False)
    before = versions(hotbus)
    _write(plugin_dir, {"a": ()}, a_value=2)
    await settle(hotbus, plugin_dir / "a.py")
    committed = await hotbus.wait_for(ReloadCommitted)
    assert [(c.plugin, c.old_version, c.new_version) for c in committed.changes[1:]] == [
        ("b", before["b"], before["b"]),
        ("c", before["c"], before["c"]),
    ]


async def test_the_commit_gives_a_dependent_that_imports_the_root_a_new_version(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    """b's version hashes every file its generation executed, a.py included."""
    _import_chain(plugin_dir)
    await hotbus.start(watch=False)
    before = versions(hotbus)
    _import_chain(plugin_dir, a_value=2)
    await settle(hotbus, plugin_dir / "a.py")
    committed = await hotbus.wait_for(ReloadCommitted)
    change = {c.plugin: c for c in committed.changes}["b"]
    assert change.old_version == before["b"]
    assert change.new_version not in (None, before["b"])


async def test_the_commit_matches_the_versions_now_running(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    _, committed = await _edit_root(plugin_dir, hotbus, "diamond")
    assert {c.plugin: c.new_version for c in committed.changes} == versions(hotbus)


# -- dependents bind to the new dependency --------------------------------------------------------


async def test_a_dependent_looks_up_the_new_behaviour_of_its_dependency(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    write_chain(plugin_dir)
    await hotbus.start(watch=False)
    assert (await ask(hotbus, "b")).looked_up == {"a": 1}
    plugin_dir.write("a.py", plugin_source("a", value=2))
    await settle(hotbus, plugin_dir / "a.py")
    await hotbus.wait_for(ReloadCommitted)
    assert (await ask(hotbus, "b")).looked_up == {"a": 2}


async def test_a_dependent_that_imports_its_dependency_sees_the_new_module(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    _import_chain(plugin_dir)
    await hotbus.start(watch=False)
    assert (await ask(hotbus, "b")).imported == {"a": 1}
    _import_chain(plugin_dir, a_value=2)
    await settle(hotbus, plugin_dir / "a.py")
    await hotbus.wait_for(ReloadCommitted)
    assert (await ask(hotbus, "b")).imported == {"a": 2}


# -- state hand-off ------------------------------------------------------------------------------


@pytest.mark.parametrize("graph", sorted(GRAPHS))
async def test_every_member_keeps_its_state_across_the_cascade(
    plugin_dir: PluginDir, hotbus: Harness, graph: str
) -> None:
    _write(plugin_dir, GRAPHS[graph])
    await hotbus.start(watch=False)
    for rounds, name in enumerate(GRAPHS[graph], start=1):
        for _ in range(rounds):
            await ask(hotbus, name)
    _write(plugin_dir, {"a": ()}, a_value=2)
    await settle(hotbus, plugin_dir / "a.py")
    await hotbus.wait_for(ReloadCommitted)
    seen = await answers(hotbus, GRAPHS[graph])
    assert {name: answer.hits for name, answer in seen.items()} == {
        name: rounds + 1 for rounds, name in enumerate(GRAPHS[graph], start=1)
    }


# -- quiesce --------------------------------------------------------------------------------------


async def test_an_event_for_a_member_published_during_the_swap_reaches_its_new_version(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    """The new a asks c from its setup, while c is down: c's new version answers after the commit.

    The gate of each member holds the events addressed to it while the transaction swaps, and
    replays them to the version then serving.
    """
    write_chain(plugin_dir)
    await hotbus.start(watch=False)
    plugin_dir.write(
        "a.py", plugin_source("a", value=2, setup="await self.ctx.publish(Ask(plugin='c'))")
    )
    await settle(hotbus, plugin_dir / "a.py")
    await hotbus.wait_for(ReloadCommitted)
    answer = await hotbus.wait_for(Answer, timeout=2.0)
    assert (answer.plugin, answer.value) == ("c", 300)


# -- nothing holds the old versions ------------------------------------------------------------


def _weak_references(runtime: Runtime, names: list[str]) -> dict[str, weakref.ref[Any]]:
    """Weak references to each running plugin's instance, class, method, module and context."""
    refs: dict[str, weakref.ref[Any]] = {}
    for name in names:
        instance = runtime.plugin(name)
        cls = type(instance)
        refs[f"{name} instance"] = weakref.ref(instance)
        refs[f"{name} class"] = weakref.ref(cls)
        refs[f"{name} method"] = weakref.ref(vars(cls)["on_ask"])
        refs[f"{name} module"] = weakref.ref(sys.modules[cls.__module__])
        assert cls.state_model is not None
        refs[f"{name} state model"] = weakref.ref(cls.state_model)
    return refs


def _alive(refs: dict[str, weakref.ref[Any]]) -> list[str]:
    gc.collect()
    return [what for what, ref in refs.items() if ref() is not None]


async def test_nothing_holds_the_old_version_of_any_member_after_the_commit(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    _import_chain(plugin_dir)
    runtime = await hotbus.start(watch=False)
    await answers(hotbus, ["a", "b", "c"])
    refs = _weak_references(runtime, ["a", "b", "c"])
    _import_chain(plugin_dir, a_value=2)
    await settle(hotbus, plugin_dir / "a.py")
    await hotbus.wait_for(ReloadCommitted)
    assert _alive(refs) == []


async def test_nothing_holds_the_copy_of_the_old_root_a_dependent_imported(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    _import_chain(plugin_dir)
    runtime = await hotbus.start(watch=False)
    b_module = type(runtime.plugin("b")).__module__
    copy = weakref.ref(sys.modules[b_module.rpartition(".")[0] + ".a"])
    _import_chain(plugin_dir, a_value=2)
    await settle(hotbus, plugin_dir / "a.py")
    await hotbus.wait_for(ReloadCommitted)
    assert _alive({"b's copy of a": copy}) == []


async def test_the_runtime_reports_no_leak_after_a_cascade(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    _import_chain(plugin_dir)
    await hotbus.start(watch=False)
    await answers(hotbus, ["a", "b", "c"])
    _import_chain(plugin_dir, a_value=2)
    await settle(hotbus, plugin_dir / "a.py")
    await outcome(hotbus)
    await running(hotbus).stop()  # waits for the leak checks under way
    assert hotbus.events.of(PluginLeaked) == []
