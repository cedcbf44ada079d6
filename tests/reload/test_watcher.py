"""The watcher: switched on and off at will, restarted when its thread dies, polling as a
fallback, and leaving no thread behind when it stops."""

from __future__ import annotations

import errno
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hotbus import Bus, Runtime
from hotbus.runtime._reload.watcher import Watcher
from hotbus.schemas import (
    FileChanged,
    FileChangeKind,
    ReloadCommitted,
    WatcherFellBack,
    WatcherRestarted,
    WatcherStarted,
    WatcherStopped,
)
from hotbus.testing import Harness, PluginDir
from watchdog.observers.api import BaseObserver
from watchdog.utils import BaseThread

from tests.reload.helpers import TIMEOUT, committed, plugin_source, values, write_file


@pytest.fixture
async def running(plugin_dir: PluginDir, hotbus: Harness) -> Runtime:
    """A runtime watching ``p.py`` (value 1)."""
    plugin_dir.write("p.py", plugin_source(1))
    return await hotbus.start()


def watchdog_threads() -> set[threading.Thread]:
    """The watchdog observer and emitter threads alive now."""
    return {t for t in threading.enumerate() if isinstance(t, BaseThread) and t.is_alive()}


# -- switching -----------------------------------------------------------------------------------


async def test_switching_watching_off_twice_and_on_twice_stops_and_starts_it_once(
    running: Runtime, hotbus: Harness
) -> None:
    mark = len(hotbus.events)
    await running.watch(False)
    await running.watch(False)
    await running.watch(True)
    await running.watch(True)
    topics = [e.topic for e in hotbus.events.events[mark:]]
    watcher = [t for t in topics if t in (WatcherStopped.topic, WatcherStarted.topic)]
    assert watcher == [WatcherStopped.topic, WatcherStarted.topic]


async def test_after_switching_watching_off_twice_and_on_twice_a_save_reloads(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await running.watch(False)
    await running.watch(False)
    await running.watch(True)
    await running.watch(True)
    await plugin_dir.save("p.py", plugin_source(2))
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert await values(running) == [2]


async def test_edits_saved_while_watching_is_off_reload_nothing(
    running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await running.watch(False)
    await plugin_dir.save("p.py", plugin_source(2))
    await running.watch(True)  # re-reads the files: the save above is not replayed
    await plugin_dir.save("p.py", plugin_source(3))
    first = await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    assert [(c.plugin, (c.new_version or "").split("+")[0]) for c in first.changes] == [
        ("p", "1.0.3")
    ]


# -- a dead observer -----------------------------------------------------------------------------


@pytest.fixture
async def restarted(running: Runtime, hotbus: Harness) -> WatcherRestarted:
    """The observer thread was stopped behind the watcher's back; returns the restart event."""
    observer = running._watcher._observer
    assert observer is not None
    observer.stop()
    return await hotbus.wait_for(WatcherRestarted, timeout=TIMEOUT)


async def test_a_dead_observer_thread_is_noticed_and_watching_restarts(
    restarted: WatcherRestarted, hotbus: Harness
) -> None:
    started = await hotbus.wait_for(WatcherStarted, timeout=TIMEOUT)
    assert (restarted.observer, started.observer) == ("native", "native")


async def test_after_a_dead_observer_restarts_a_save_still_reloads(
    restarted: WatcherRestarted, running: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await plugin_dir.save("p.py", plugin_source(2))
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert await values(running) == [2]


# -- falling back to polling -------------------------------------------------------------------


def no_inotify() -> BaseObserver:
    """A native observer that cannot start: the kernel's inotify limits are reached."""
    raise OSError(errno.ENOSPC, "inotify watch limit reached")


async def test_the_watcher_falls_back_to_polling_when_the_native_observer_cannot_start(
    tmp_path: Path,
) -> None:
    bus = Bus()
    watcher = Watcher(bus, [tmp_path], observer_class=no_inotify)
    with bus.record("hotbus.watcher.>") as recorded:
        await watcher.start()
        await watcher.stop()
    seen = [(e.topic, getattr(e, "observer", None)) for e in recorded.events[:2]]
    assert seen == [(WatcherFellBack.topic, "polling"), (WatcherStarted.topic, "polling")]


async def test_a_polling_watcher_still_reports_saved_files(tmp_path: Path) -> None:
    bus = Bus()
    watcher = Watcher(bus, [tmp_path], observer_class=no_inotify)
    target = tmp_path / "p.py"
    with bus.record(FileChanged) as recorded:
        await watcher.start()
        try:
            write_file(target, "VALUE = 1\n")
            change = await recorded.wait_for(FileChanged, lambda e: e.path == target, timeout=2)
        finally:
            await watcher.stop()
    assert change.path == target


# -- when an event happened ---------------------------------------------------------------------


def hold_the_loop(seconds: float) -> None:
    """Keep the calling thread (the loop's) busy, as a plugin hogging the loop would."""
    time.sleep(seconds)


async def test_a_raw_event_is_stamped_when_watchdog_hands_it_over_not_when_the_loop_runs(
    tmp_path: Path,
) -> None:
    bus = Bus()
    watcher = Watcher(bus, [tmp_path])
    target = tmp_path / "p.py"
    with bus.record(FileChanged) as recorded:
        await watcher.start()
        try:
            write_file(target, "VALUE = 1\n")
            hold_the_loop(0.3)  # watchdog hands the events over meanwhile
            held_until = datetime.now(UTC)
            change = await recorded.wait_for(FileChanged, lambda e: e.path == target, timeout=2)
        finally:
            await watcher.stop()
    assert change.timestamp < held_until


async def test_reading_a_watched_file_hands_nothing_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[tuple[str, str]] = []
    emit = Watcher._emit

    def noting(self: Watcher, stamp: float, kind: str, src: bytes | str, *rest: object) -> None:
        handed.append((kind, os.fsdecode(src)))
        emit(self, stamp, kind, src, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(Watcher, "_emit", noting)
    target, barrier = tmp_path / "p.py", tmp_path / "barrier.py"
    write_file(target, "VALUE = 1\n")
    bus = Bus()
    watcher = Watcher(bus, [tmp_path])
    with bus.record(FileChanged) as recorded:
        await watcher.start()
        try:
            assert target.read_bytes() == b"VALUE = 1\n"  # opened, read, closed
            write_file(barrier, "later\n")  # its events come after any of the read's
            await recorded.wait_for(
                FileChanged,
                lambda e: e.path == barrier and e.kind is FileChangeKind.CLOSED,
                timeout=2,
            )
        finally:
            await watcher.stop()
    assert [kind for kind, path in handed if path == str(target)] == []


# -- stopping ------------------------------------------------------------------------------------


async def test_stopping_the_watcher_leaves_no_watchdog_thread_alive(tmp_path: Path) -> None:
    before = watchdog_threads()
    watcher = Watcher(Bus(), [tmp_path])
    await watcher.start()
    assert watchdog_threads() - before, "the watcher started no thread to stop"
    await watcher.stop()
    assert watchdog_threads() - before == set()


async def test_switching_watching_off_leaves_no_watchdog_thread_alive(running: Runtime) -> None:
    ours = watchdog_threads()
    await running.watch(False)
    assert ours & watchdog_threads() == set()
