"""Each step of a reload is a bus subscription: publishing the event before a step runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotbus import Bus
from hotbus.runtime._reload.debouncer import Debouncer
from hotbus.schemas import (
    FileChanged,
    FileChangeKind,
    FileSettled,
    PluginStateChanged,
    ReloadCommitted,
    SettleOutcome,
)
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import TIMEOUT, plugin_source, sha256, write_file

K = FileChangeKind


async def test_a_settled_plugin_file_runs_the_whole_transaction_in_order(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start(watch=False)
    text = plugin_source(2)
    path = plugin_dir.write("p.py", text).resolve()
    mark = len(hotbus.events)
    await runtime.bus.publish(
        FileSettled(path=path, outcome=SettleOutcome.CHANGED, content_hash=sha256(text), absorbed=1)
    )
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    steps = [
        f"{e.topic} {e.previous}->{e.state}" if isinstance(e, PluginStateChanged) else e.topic
        for e in hotbus.events.events[mark:]
    ]
    assert steps == [
        "hotbus.file.settled",
        "hotbus.reload.requested",
        "hotbus.reload.planned",
        "hotbus.plugin.state active->stopping",
        "hotbus.plugin.state stopping->loaded",
        "hotbus.plugin.state loaded->starting",
        "hotbus.plugin.state starting->active",
        "hotbus.reload.committed",
    ]


def changed(kind: FileChangeKind, path: Path) -> FileChanged:
    return FileChanged(kind=kind, path=path)


async def test_a_burst_of_raw_file_events_settles_once_absorbing_them_all(tmp_path: Path) -> None:
    bus = Bus()
    debouncer = Debouncer(bus, write_window_ms=20)
    debouncer.attach()
    target = tmp_path / "p.py"
    write_file(target, "VALUE = 1\n")
    debouncer.remember([target])
    write_file(target, "VALUE = 2\n")
    burst = [K.CLOSED, K.MODIFIED, K.CLOSED, K.MODIFIED, K.CLOSED, K.CREATED, K.CLOSED]
    barrier = tmp_path / "barrier.py"
    with bus.record(FileSettled) as recorded:
        for kind in burst:
            await bus.publish(changed(kind, target))
        await recorded.wait_for(FileSettled, timeout=TIMEOUT)
        write_file(barrier, "later\n")  # settles after anything still pending for the target
        await bus.publish(changed(K.CLOSED, barrier))
        await recorded.wait_for(FileSettled, lambda e: e.path == barrier, timeout=TIMEOUT)
    settled = [(e.outcome, e.absorbed) for e in recorded.of(FileSettled) if e.path == target]
    assert settled == [(SettleOutcome.CHANGED, len(burst))]


async def test_every_raw_event_of_in_place_saves_counts_as_absorbed(tmp_path: Path) -> None:
    bus = Bus()
    debouncer = Debouncer(bus, write_window_ms=20)
    debouncer.attach()
    target = tmp_path / "p.py"
    write_file(target, "VALUE = 1\n")
    debouncer.remember([target])
    write_file(target, "VALUE = 2\n")
    saves = [K.MODIFIED, K.CLOSED] * 3  # what inotify reports for three in-place saves
    with bus.record(FileSettled) as recorded:
        for kind in saves:
            await bus.publish(changed(kind, target))
        settled = await recorded.wait_for(FileSettled, timeout=TIMEOUT)
    assert (settled.path, settled.absorbed) == (target, len(saves))


async def test_raw_file_events_on_a_file_whose_content_did_not_change_settle_nothing(
    tmp_path: Path,
) -> None:
    bus = Bus()
    debouncer = Debouncer(bus, write_window_ms=20)
    debouncer.attach()
    target = tmp_path / "p.py"
    write_file(target, "VALUE = 1\n")
    debouncer.remember([target])
    write_file(target, "VALUE = 1\n")  # saved again with the same content
    barrier = tmp_path / "barrier.py"
    with bus.record(FileSettled) as recorded:
        await bus.publish(changed(K.MODIFIED, target))
        await bus.publish(changed(K.CLOSED, target))
        write_file(barrier, "later\n")
        await bus.publish(changed(K.CLOSED, barrier))
        await recorded.wait_for(FileSettled, lambda e: e.path == barrier, timeout=TIMEOUT)
    assert [e.path for e in recorded.of(FileSettled)] == [barrier]


async def test_a_write_window_counts_from_when_the_raw_event_happened(tmp_path: Path) -> None:
    bus = Bus()
    debouncer = Debouncer(bus, write_window_ms=400)
    debouncer.attach()
    # Both change; settling together, they would settle in the order of their paths.
    early, late = tmp_path / "z.py", tmp_path / "a.py"
    write_file(early, "VALUE = 1\n")
    write_file(late, "VALUE = 1\n")
    happened = datetime.now(UTC) - timedelta(milliseconds=100)  # handed over late
    with bus.record(FileSettled) as recorded:
        await bus.publish(FileChanged(kind=K.CLOSED, path=early, timestamp=happened))
        await bus.publish(changed(K.CLOSED, late))
        await recorded.wait_for(FileSettled, lambda e: e.path == late, timeout=TIMEOUT)
    assert [e.path for e in recorded.of(FileSettled)] == [early, late]


async def test_a_write_completing_a_save_is_handed_over_while_its_path_settles(
    tmp_path: Path,
) -> None:
    bus = Bus()
    written: list[Path] = []
    debouncer = Debouncer(bus, write_window_ms=20, written=written.append)
    debouncer.attach()
    in_place, replaced = tmp_path / "a.py", tmp_path / "b.py"
    write_file(in_place, "VALUE = 1\n")
    write_file(replaced, "VALUE = 1\n")
    with bus.record(FileSettled) as recorded:
        await bus.publish(changed(K.MODIFIED, in_place))  # not complete yet
        await bus.publish(changed(K.CLOSED, in_place))
        await bus.publish(changed(K.CLOSED, tmp_path / ".b.py.swp"))  # ignored
        await bus.publish(FileChanged(kind=K.MOVED, path=tmp_path / "b.py.tmp", dest_path=replaced))
        await recorded.wait_for(FileSettled, lambda e: e.path == in_place, timeout=TIMEOUT)
        await recorded.wait_for(FileSettled, lambda e: e.path == replaced, timeout=TIMEOUT)
    assert written == [in_place, replaced]
