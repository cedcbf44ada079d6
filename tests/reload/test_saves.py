"""Saving a plugin file, the way each editor and tool saves, reloads exactly the new code.

Every test runs a real runtime with a real watchdog observer on a real plugin directory and
waits (with a time limit) for the events a save causes. Where a test claims that something did
*not* happen, it saves ``barrier.py`` afterwards and waits for that commit: raw file events come
in order and transactions run one after the other, so by then anything the first save caused
has been recorded.
"""

from __future__ import annotations

import asyncio
import os
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from hotbus import Runtime
from hotbus.runtime._loading import loader
from hotbus.schemas import (
    Event,
    FileSettled,
    PluginState,
    ReloadCommitted,
    ReloadPlanned,
    ReloadRejected,
    ReloadRequested,
    ReloadRolledBack,
    SettleOutcome,
    UnknownPluginError,
)
from hotbus.testing import SAVE_STYLES, Harness, PluginDir, SaveStyle

from tests.reload.helpers import (
    IMPORTS_HELPER,
    SERVES_HELPER,
    TIMEOUT,
    after,
    barrier,
    commits_of,
    committed,
    plugin_source,
    settled_for,
    status_of,
    values,
    write_file,
)

Save = SaveStyle | Literal["delete_then_recreate", "same_size_same_second"]
#: Every way of saving new content over an existing plugin file.
SAVES: tuple[Save, ...] = (*SAVE_STYLES, "delete_then_recreate", "same_size_same_second")


async def save(plugin_dir: PluginDir, name: str, text: str, how: Save) -> None:
    """Save ``text`` over ``name`` the way ``how`` does."""
    if how == "delete_then_recreate":
        plugin_dir.delete(name)
        await asyncio.sleep(0.05)  # the scenario itself: the file is gone for 50 ms
        plugin_dir.write(name, text)
    elif how == "same_size_same_second":
        path = plugin_dir / name
        before = path.stat()
        plugin_dir.write(name, text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        after_ = path.stat()
        assert (after_.st_size, after_.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    else:
        await plugin_dir.save(name, text, how)


def outcomes_for(events: list[Event], plugin: str) -> list[str]:
    """The topics of the transaction outcomes concerning ``plugin``, in order."""
    found = []
    for event in events:
        if isinstance(event, ReloadCommitted):
            if any(change.plugin == plugin for change in event.changes):
                found.append(event.topic)
        elif isinstance(event, ReloadRejected | ReloadRolledBack) and event.plugin == plugin:
            found.append(event.topic)
    return found


@pytest.fixture
async def running(plugin_dir: PluginDir, hotbus: Harness) -> Runtime:
    """A runtime watching ``p.py`` (value 1) and ``barrier.py`` (value 0)."""
    plugin_dir.write("p.py", plugin_source(1))
    plugin_dir.write("barrier.py", plugin_source(0, name="barrier"))
    return await hotbus.start()


@dataclass(frozen=True)
class Saved:
    """What a save scenario leaves for the test to look at."""

    runtime: Runtime
    mark: int
    path: Path


@pytest.fixture(params=SAVES)
async def saved(
    request: pytest.FixtureRequest, running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> Saved:
    """``p.py`` saved with value 2 the parametrized way; its commit and a barrier are recorded."""
    mark = len(hotbus.events)
    await save(plugin_dir, "p.py", plugin_source(2), request.param)
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    await barrier(hotbus, plugin_dir, 1)
    return Saved(running, mark, (plugin_dir / "p.py").resolve())


# -- every way of saving an existing file -------------------------------------------------------


async def test_a_save_serves_exactly_the_new_code(saved: Saved) -> None:
    assert await values(saved.runtime) == [2]


async def test_a_save_commits_exactly_one_reload(saved: Saved, hotbus: Harness) -> None:
    assert outcomes_for(hotbus.events.events[saved.mark :], "p") == [ReloadCommitted.topic]


async def test_a_save_settles_once_as_a_change_absorbing_its_raw_events(
    saved: Saved, hotbus: Harness
) -> None:
    settled = settled_for(hotbus.events, saved.path, saved.mark)
    assert [(s.outcome, s.absorbed >= 1) for s in settled] == [(SettleOutcome.CHANGED, True)]


async def test_a_save_keeps_the_plugin_active_on_the_new_version(saved: Saved) -> None:
    row = status_of(saved.runtime, "p")
    assert (row.state, (row.version or "").split("+")[0]) == (PluginState.ACTIVE, "1.0.2")


# -- files arriving and leaving ----------------------------------------------------------------

Arrival = Literal["new_file", "moved_in"]
Departure = Literal["deleted", "moved_out"]


@pytest.fixture(params=["new_file", "moved_in"])
async def arrived(
    request: pytest.FixtureRequest,
    running: Runtime,
    plugin_dir: PluginDir,
    hotbus: Harness,
    tmp_path: Path,
) -> Saved:
    """Plugin ``q`` (value 5) arrived as a new file or moved in; its load and a barrier done."""
    how: Arrival = request.param
    mark = len(hotbus.events)
    if how == "new_file":
        plugin_dir.write("q.py", plugin_source(5, name="q"))
    else:
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        write_file(outside / "q.py", plugin_source(5, name="q"))
        plugin_dir.move_in(outside / "q.py", "q.py")
    await hotbus.wait_for(ReloadCommitted, committed("q", 5), timeout=TIMEOUT)
    await barrier(hotbus, plugin_dir, 1)
    return Saved(running, mark, (plugin_dir / "q.py").resolve())


async def test_a_plugin_file_arriving_loads_and_serves(arrived: Saved) -> None:
    assert await values(arrived.runtime, "q") == [5]


async def test_a_plugin_file_arriving_commits_exactly_one_load(
    arrived: Saved, hotbus: Harness
) -> None:
    changes = [c for e in commits_of(hotbus.events, "q", arrived.mark) for c in e.changes]
    assert [(c.old_version, c.new_version is not None) for c in changes] == [(None, True)]


async def test_a_plugin_file_arriving_settles_once_as_created(
    arrived: Saved, hotbus: Harness
) -> None:
    settled = settled_for(hotbus.events, arrived.path, arrived.mark)
    assert [(s.outcome, s.absorbed >= 1) for s in settled] == [(SettleOutcome.CREATED, True)]


@pytest.fixture(params=["deleted", "moved_out"])
async def departed(
    request: pytest.FixtureRequest,
    running: Runtime,
    plugin_dir: PluginDir,
    hotbus: Harness,
    tmp_path: Path,
) -> Saved:
    """``p.py`` was deleted or moved out; its unload and a barrier are recorded."""
    how: Departure = request.param
    mark = len(hotbus.events)
    if how == "deleted":
        plugin_dir.delete("p.py")
    else:
        plugin_dir.move_out("p.py", tmp_path / "p.py")
    # watchdog holds an unpaired move-out for about 0.5 s before reporting it as a delete
    await hotbus.wait_for(ReloadCommitted, committed("p", None), timeout=TIMEOUT)
    await barrier(hotbus, plugin_dir, 1)
    return Saved(running, mark, (plugin_dir / "p.py").resolve())


async def test_a_plugin_file_leaving_unloads_the_plugin(departed: Saved) -> None:
    with pytest.raises(UnknownPluginError, match="'p'"):
        departed.runtime.plugin("p")


async def test_a_plugin_file_leaving_leaves_nothing_answering(departed: Saved) -> None:
    assert await values(departed.runtime) == []


async def test_a_plugin_file_leaving_commits_exactly_one_unload(
    departed: Saved, hotbus: Harness
) -> None:
    changes = [c for e in commits_of(hotbus.events, "p", departed.mark) for c in e.changes]
    assert [(c.old_version is not None, c.new_version) for c in changes] == [(True, None)]


async def test_a_plugin_file_leaving_settles_once_as_deleted(
    departed: Saved, hotbus: Harness
) -> None:
    settled = settled_for(hotbus.events, departed.path, departed.mark)
    assert [(s.outcome, s.absorbed >= 1) for s in settled] == [(SettleOutcome.DELETED, True)]


# -- saves that change nothing -------------------------------------------------------------------


async def test_touching_a_plugin_file_reloads_nothing(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    mark = len(hotbus.events)
    plugin_dir.touch("p.py")
    await barrier(hotbus, plugin_dir, 1)
    requested = [e.plugin for e in after(hotbus.events, mark, ReloadRequested)]
    assert requested == ["barrier"]


async def test_saving_the_same_content_again_reloads_nothing(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    mark = len(hotbus.events)
    await plugin_dir.save("p.py", plugin_source(1), "atomic")
    await barrier(hotbus, plugin_dir, 1)
    requested = [e.plugin for e in after(hotbus.events, mark, ReloadRequested)]
    assert requested == ["barrier"]


# -- helper modules ------------------------------------------------------------------------------


@pytest.fixture(params=SAVE_STYLES)
async def helper_saved(
    request: pytest.FixtureRequest, plugin_dir: PluginDir, hotbus: Harness
) -> Saved:
    """``p`` serves its helper's VALUE (1); ``helper.py`` was saved with 42 the given way."""
    plugin_dir.write("helper.py", "VALUE = 1\n")
    plugin_dir.write("p.py", plugin_source(1, header=IMPORTS_HELPER, body=SERVES_HELPER))
    plugin_dir.write("barrier.py", plugin_source(0, name="barrier"))
    runtime = await hotbus.start()
    mark = len(hotbus.events)
    await plugin_dir.save("helper.py", "VALUE = 42\n", request.param)
    await hotbus.wait_for(ReloadCommitted, committed("p", 1), timeout=TIMEOUT)
    await barrier(hotbus, plugin_dir, 1)
    return Saved(runtime, mark, (plugin_dir / "helper.py").resolve())


async def test_editing_a_helper_module_reloads_the_plugin_with_the_helpers_new_code(
    helper_saved: Saved,
) -> None:
    assert await values(helper_saved.runtime) == [42]


async def test_editing_a_helper_module_commits_exactly_one_reload_of_its_plugin(
    helper_saved: Saved, hotbus: Harness
) -> None:
    assert outcomes_for(hotbus.events.events[helper_saved.mark :], "p") == [ReloadCommitted.topic]


# -- a burst of saves ----------------------------------------------------------------------------

BURST = 50


@pytest.fixture
async def burst(running: Runtime, plugin_dir: PluginDir, hotbus: Harness) -> int:
    """``p.py`` saved 50 times, 5 ms apart (values 1..50); returns once value 50 committed."""
    mark = len(hotbus.events)
    for value in range(1, BURST + 1):
        plugin_dir.write("p.py", plugin_source(value))
        await asyncio.sleep(0.005)  # the scenario itself: saves 5 ms apart
    await hotbus.wait_for(ReloadCommitted, committed("p", BURST), timeout=TIMEOUT)
    return mark


async def test_fifty_rapid_saves_coalesce_into_fewer_reloads_than_saves(
    burst: int, hotbus: Harness
) -> None:
    reloads = len(commits_of(hotbus.events, "p", burst))
    assert 1 <= reloads < BURST


async def test_fifty_rapid_saves_never_run_two_transactions_at_once(
    burst: int, hotbus: Harness
) -> None:
    steps = [
        ("planned" if isinstance(e, ReloadPlanned) else "outcome", e.plan_id)
        for e in hotbus.events.events[burst:]
        if isinstance(e, ReloadPlanned | ReloadCommitted | ReloadRejected | ReloadRolledBack)
    ]
    plans = dict.fromkeys(plan_id for _, plan_id in steps)
    strictly_alternating = [(step, plan) for plan in plans for step in ("planned", "outcome")]
    assert (len(plans) >= 1, steps) == (True, strictly_alternating)


async def test_fifty_rapid_saves_end_with_the_last_content_serving(
    burst: int, running: Runtime
) -> None:
    assert await values(running) == [BURST]


# -- compiled while it settles ---------------------------------------------------------------------


@pytest.mark.parametrize("style", ["in_place", "atomic"])  # a save ending with a close, a rename
async def test_a_save_is_compiled_once_while_it_settles_and_the_reload_executes_that_code(
    plugin_dir: PluginDir,
    hotbus: Harness,
    monkeypatch: pytest.MonkeyPatch,
    style: SaveStyle,
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    # A long window: the loader thread has time to compile even on a busy machine.
    runtime = await hotbus.start(debounce_ms=200)
    target = (plugin_dir / "p.py").resolve()
    settled = threading.Event()
    runtime.bus.subscribe(
        FileSettled, lambda event: settled.set() if event.path == target else None
    )
    compiled: list[bool] = []  # per compile of the plugin file: had it settled by then?
    compile_bytes = loader._compile

    def noting(data: bytes, path: Path) -> types.CodeType:
        if path == target:
            compiled.append(settled.is_set())
        return compile_bytes(data, path)

    monkeypatch.setattr(loader, "_compile", noting)
    await plugin_dir.save("p.py", plugin_source(2), style)
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert (compiled, await values(runtime)) == ([False], [2])
