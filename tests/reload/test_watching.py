"""Watching never stops silently: a dead observer or emitter thread is restarted, a plugin
directory that is deleted or moved away is reported and waited for, the inotify watch limit
makes it fall back to polling, edits to the target of a symlinked plugin reload it, a file
that cannot be read is told about, and whatever changed while the watcher could not see it is
settled afterwards (a rescan)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hotbus import Runtime
from hotbus.schemas import ReloadCommitted, WatcherFound, WatcherLost, WatcherRestarted
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import (
    IMPORTS_HELPER,
    SERVES_HELPER,
    TIMEOUT,
    commits_of,
    committed,
    plugin_source,
    values,
    write_file,
)


@pytest.fixture
async def running(plugin_dir: PluginDir, hotbus: Harness) -> Runtime:
    """A runtime watching ``p.py`` (value 1)."""
    plugin_dir.write("p.py", plugin_source(1))
    return await hotbus.start()


# -- a dead thread, and the edit made while it was dead ------------------------------------------


async def test_an_edit_made_while_the_observer_was_dead_is_applied_after_the_restart(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    observer = running._watcher._observer
    assert observer is not None
    observer.stop()  # behind the watcher's back; no await until the edit is on disk
    write_file(plugin_dir / "p.py", plugin_source(2))
    restarted = await hotbus.wait_for(WatcherRestarted, timeout=TIMEOUT)
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert "observer thread" in restarted.reason
    assert await values(running) == [2]


async def test_a_dead_emitter_thread_is_noticed_and_watching_restarts(
    running: Runtime, hotbus: Harness
) -> None:
    observer = running._watcher._observer
    assert observer is not None
    emitter = next(iter(observer.emitters))
    emitter.stop()  # its thread ends; the observer thread lives on
    restarted = await hotbus.wait_for(WatcherRestarted, timeout=TIMEOUT)
    assert restarted.reason == f"the native emitter thread of {emitter.watch.path} died"
    assert running.watching


async def test_watching_is_not_reported_while_an_emitter_thread_is_dead(
    running: Runtime, hotbus: Harness
) -> None:
    observer = running._watcher._observer
    assert observer is not None
    emitter = next(iter(observer.emitters))
    emitter.stop()
    emitter.join(TIMEOUT)
    assert not running.watching
    await hotbus.wait_for(WatcherRestarted, timeout=TIMEOUT)
    assert running.watching


async def test_an_edit_made_while_an_emitter_was_dead_is_applied_after_the_restart(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    observer = running._watcher._observer
    assert observer is not None
    next(iter(observer.emitters)).stop()
    write_file(plugin_dir / "p.py", plugin_source(2))
    await hotbus.wait_for(WatcherRestarted, timeout=TIMEOUT)
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert await values(running) == [2]


async def test_a_file_created_while_the_observer_was_dead_is_loaded_after_the_restart(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    observer = running._watcher._observer
    assert observer is not None
    observer.stop()
    write_file(plugin_dir / "q.py", plugin_source(3, name="q"))
    await hotbus.wait_for(WatcherRestarted, timeout=TIMEOUT)
    await hotbus.wait_for(ReloadCommitted, committed("q", 3), timeout=TIMEOUT)
    assert await values(running, "q") == [3]


async def test_a_file_deleted_while_the_observer_was_dead_is_unloaded_after_the_restart(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    observer = running._watcher._observer
    assert observer is not None
    observer.stop()
    (plugin_dir / "p.py").unlink()
    await hotbus.wait_for(WatcherRestarted, timeout=TIMEOUT)
    await hotbus.wait_for(ReloadCommitted, committed("p", None), timeout=TIMEOUT)
    assert await values(running) == []


# -- the plugin directory deleted, and back ------------------------------------------------------


async def test_a_deleted_plugin_directory_is_reported_lost_and_its_plugins_unload(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    shutil.rmtree(plugin_dir.path)
    lost = await hotbus.wait_for(WatcherLost, timeout=TIMEOUT)
    await hotbus.wait_for(ReloadCommitted, committed("p", None), timeout=TIMEOUT)
    assert (lost.path, lost.reason, lost.deleted) == (plugin_dir.path.resolve(), "deleted", True)
    assert await values(running) == []


async def test_watching_is_not_reported_while_the_plugin_directory_is_gone(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    shutil.rmtree(plugin_dir.path)
    await hotbus.wait_for(WatcherLost, timeout=TIMEOUT)
    assert not running.watching
    plugin_dir.path.mkdir()
    await hotbus.wait_for(WatcherFound, timeout=TIMEOUT)
    assert running.watching


async def test_a_recreated_plugin_directory_is_watched_again_and_its_plugins_load(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    shutil.rmtree(plugin_dir.path)
    await hotbus.wait_for(ReloadCommitted, committed("p", None), timeout=TIMEOUT)
    plugin_dir.path.mkdir()
    write_file(plugin_dir / "p.py", plugin_source(2))
    found = await hotbus.wait_for(WatcherFound, timeout=TIMEOUT)
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert found.path == plugin_dir.path.resolve()
    assert await values(running) == [2]


async def test_after_the_plugin_directory_came_back_a_save_reloads(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    shutil.rmtree(plugin_dir.path)
    await hotbus.wait_for(WatcherLost, timeout=TIMEOUT)
    plugin_dir.path.mkdir()
    await hotbus.wait_for(WatcherFound, timeout=TIMEOUT)
    await plugin_dir.save("p.py", plugin_source(3))
    await hotbus.wait_for(ReloadCommitted, committed("p", 3), timeout=TIMEOUT)
    assert await values(running) == [3]


# -- the plugin directory moved away, and back ---------------------------------------------------


@pytest.fixture
def elsewhere(plugin_dir: PluginDir) -> Path:
    """Where the plugin directory is moved to."""
    return plugin_dir.path.with_name("moved")


async def test_a_plugin_directory_moved_away_is_reported_lost_and_its_plugins_keep_serving(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness, elsewhere: Path
) -> None:
    plugin_dir.path.rename(elsewhere)
    lost = await hotbus.wait_for(WatcherLost, timeout=TIMEOUT)
    await running.idle()
    assert (lost.path, lost.reason, lost.deleted) == (
        plugin_dir.path.resolve(),
        "moved away",
        False,
    )
    assert await values(running) == [1]


async def test_an_edit_in_the_moved_plugin_directory_unloads_nothing(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness, elsewhere: Path
) -> None:
    mark = len(hotbus.events)
    plugin_dir.path.rename(elsewhere)
    write_file(elsewhere / "p.py", plugin_source(2))  # before the watcher can have noticed
    await hotbus.wait_for(WatcherLost, timeout=TIMEOUT)
    await running.idle()  # every event of the moved directory's watch went through
    assert commits_of(hotbus.events, "p", mark) == []
    assert await values(running) == [1]


async def test_a_plugin_directory_moved_back_is_watched_again_with_its_edits(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness, elsewhere: Path
) -> None:
    plugin_dir.path.rename(elsewhere)
    await hotbus.wait_for(WatcherLost, timeout=TIMEOUT)
    write_file(elsewhere / "p.py", plugin_source(2))
    elsewhere.rename(plugin_dir.path)
    await hotbus.wait_for(WatcherFound, timeout=TIMEOUT)
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert await values(running) == [2]


# -- the inotify watch limit ---------------------------------------------------------------------

CONFINED = Path(__file__).with_name("confined.py")


def confined(scenario: str) -> dict[str, Any]:
    """Run ``scenario`` of confined.py in a process of its own; skip when it cannot confine."""
    done = subprocess.run(
        [sys.executable, str(CONFINED), scenario],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    return result


@pytest.fixture(scope="module")
def unreadable() -> dict[str, Any]:
    """As an unprivileged user: q.py is mode 000 at start, p.py saved so while running, then
    both fixed (chmod 644); what was reported, and what served while p.py was unreadable."""
    return confined("unreadable")


def test_a_plugin_file_that_cannot_be_read_fails_to_load_naming_the_file_and_the_fix(
    unreadable: dict[str, Any],
) -> None:
    [(plugin, phase, message)] = unreadable["failed"]
    assert (plugin, phase) == ("q", "compile")
    assert "cannot read q.py: permission denied; fix its permissions" in message


def test_a_save_that_cannot_be_read_is_told_and_the_running_version_keeps_serving(
    unreadable: dict[str, Any],
) -> None:
    name, message = unreadable["told"]
    assert name == "p.py"
    assert message.startswith("cannot read p.py: permission denied; fix its permissions")
    assert ["p", "active", "1.0.1"] in unreadable["serving"]


def test_a_subdirectory_past_the_inotify_watch_limit_at_start_falls_back_to_polling() -> None:
    result = confined("watch-limit-at-start")
    assert result["observer"] == ["polling", "polling"]
    assert result["error"] == "[Errno 28] inotify watch limit reached"
    assert "max_user_watches" in result["hint"]


def test_a_new_subdirectory_past_the_inotify_watch_limit_falls_back_to_polling() -> None:
    result = confined("watch-limit-after-start")  # its plugin loads, and a save reloads
    assert result["observer"] == ["native", "polling"]
    assert result["error"] == "[Errno 28] inotify watch limit reached"
    assert result["watching"]


# -- symlinked plugins ---------------------------------------------------------------------------


@pytest.fixture
def target_dir(tmp_path: Path) -> Path:
    """A directory outside the plugin directory, where symlinked plugins really are."""
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    return directory


async def test_an_edit_to_the_target_of_a_symlinked_plugin_file_reloads_it(
    plugin_dir: PluginDir, hotbus: Harness, target_dir: Path
) -> None:
    write_file(target_dir / "p.py", plugin_source(1))
    (plugin_dir / "p.py").symlink_to(target_dir / "p.py")
    runtime = await hotbus.start()
    write_file(target_dir / "p.py", plugin_source(2))
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert await values(runtime) == [2]


async def test_an_atomic_save_of_the_target_of_a_symlinked_plugin_file_reloads_it(
    plugin_dir: PluginDir, hotbus: Harness, target_dir: Path
) -> None:
    write_file(target_dir / "p.py", plugin_source(1))
    (plugin_dir / "p.py").symlink_to(target_dir / "p.py")
    runtime = await hotbus.start()
    write_file(target_dir / ".p.py.tmp", plugin_source(2))
    (target_dir / ".p.py.tmp").replace(target_dir / "p.py")
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert await values(runtime) == [2]


async def test_an_edit_in_a_symlinked_plugin_package_reloads_it(
    plugin_dir: PluginDir, hotbus: Harness, target_dir: Path
) -> None:
    package = target_dir / "pkg"
    package.mkdir()
    write_file(package / "helper.py", "VALUE = 1\n")
    write_file(
        package / "__init__.py",
        plugin_source(1, name="pkg", header=IMPORTS_HELPER, body=SERVES_HELPER),
    )
    (plugin_dir / "pkg").symlink_to(package, target_is_directory=True)
    runtime = await hotbus.start()
    write_file(package / "helper.py", "VALUE = 7\n")
    await hotbus.wait_for(ReloadCommitted, committed("pkg", 1), timeout=TIMEOUT)
    assert await values(runtime, "pkg") == [7]


async def test_a_symlink_made_while_running_loads_and_edits_to_its_target_reload_it(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness, target_dir: Path
) -> None:
    write_file(target_dir / "q.py", plugin_source(1, name="q"))
    (plugin_dir / "q.py").symlink_to(target_dir / "q.py")
    await hotbus.wait_for(ReloadCommitted, committed("q", 1), timeout=TIMEOUT)
    write_file(target_dir / "q.py", plugin_source(2, name="q"))
    await hotbus.wait_for(ReloadCommitted, committed("q", 2), timeout=TIMEOUT)
    assert await values(running, "q") == [2]
