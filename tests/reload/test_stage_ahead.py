"""A save is loaded while it settles; its reload takes that load only if the files it read are
unchanged, so that no stale code ever commits, and a load that hangs stalls nothing.

Every test saves real files under a real watcher, with a long write window so that a second
save can land inside it. Plugin files record each execution of their module code
(`events.EXECUTED`) with a label and the time.
"""

from __future__ import annotations

import pytest
from hotbus.runtime._loading.loader import owner_generations
from hotbus.schemas import FileSettled, PluginFailed, ReloadCommitted, ReloadRejected
from hotbus.testing import Harness, PluginDir

from tests.containment.helpers import wait_until
from tests.reload import events
from tests.reload.helpers import (
    IMPORTS_HELPER,
    SERVES_HELPER,
    TIMEOUT,
    commits_of,
    committed,
    plugin_source,
    values,
)

#: Long enough that a test saves a second time before the first save settles.
WINDOW_MS = 400.0


def recording(value: int, label: str, *, header: str = "", body: str = "") -> str:
    """Plugin ``p`` serving ``value``, whose module code records ``label`` when it runs."""
    return plugin_source(
        value,
        header=f"import time\nevents.EXECUTED.append(({label!r}, time.time()))\n{header}",
        body=body,
    )


def labels() -> list[str]:
    return [label for label, _ in events.EXECUTED]


async def executed(label: str) -> float:
    """When module code recorded ``label`` (waiting for it, up to `TIMEOUT`)."""
    await wait_until(lambda: label in labels())
    return next(when for found, when in events.EXECUTED if found == label)


@pytest.mark.parametrize("stage_ahead", [True, False], ids=["ahead", "off"])
async def test_a_save_is_loaded_while_it_settles_and_its_reload_takes_that_load(
    plugin_dir: PluginDir, hotbus: Harness, stage_ahead: bool
) -> None:
    plugin_dir.write("p.py", recording(1, "v1"))
    runtime = await hotbus.start(debounce_ms=WINDOW_MS, stage_ahead=stage_ahead)
    path = (plugin_dir.path / "p.py").resolve()
    await plugin_dir.save("p.py", recording(2, "v2"))
    settled = await hotbus.wait_for(FileSettled, lambda e: e.path == path, timeout=TIMEOUT)
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    # Loaded while it settled, or (setting stage_ahead = false) only once it settled.
    assert (await executed("v2") < settled.timestamp.timestamp()) is stage_ahead
    assert (labels(), await values(runtime)) == (["v1", "v2"], [2])


async def test_a_second_save_inside_the_window_commits_its_own_bytes(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", recording(1, "v1"))
    runtime = await hotbus.start(debounce_ms=WINDOW_MS)
    mark = len(hotbus.events.events)
    await plugin_dir.save("p.py", recording(2, "v2"))
    await executed("v2")  # the first save's load is done before the second save
    await plugin_dir.save("p.py", recording(3, "v3"))
    await hotbus.wait_for(ReloadCommitted, committed("p", 3), timeout=TIMEOUT)
    assert await values(runtime) == [3]
    assert len(commits_of(hotbus.events, "p", mark)) == 1  # version 2 never ran
    assert labels() == ["v1", "v2", "v3"]


async def test_a_helper_saved_after_the_plugin_was_loaded_ahead_is_loaded_anew(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("helper.py", "VALUE = 1\n")
    plugin_dir.write("p.py", recording(1, "v1", header=IMPORTS_HELPER, body=SERVES_HELPER))
    runtime = await hotbus.start(debounce_ms=WINDOW_MS)
    assert await values(runtime) == [1]
    mark = len(hotbus.events.events)
    await plugin_dir.save("p.py", recording(2, "v2", header=IMPORTS_HELPER, body=SERVES_HELPER))
    await executed("v2")  # loaded ahead with the helper as it was
    await plugin_dir.save("helper.py", "VALUE = 5\n")
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert await values(runtime) == [5]
    assert len(commits_of(hotbus.events, "p", mark)) == 1  # the old helper never served
    assert labels() == ["v1", "v2", "v2"]


async def test_a_load_ahead_that_hangs_and_is_never_taken_is_stopped_and_stalls_nothing(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    original = recording(1, "v1")
    plugin_dir.write("p.py", original)
    runtime = await hotbus.start(debounce_ms=WINDOW_MS, import_timeout_s=0.5)
    mark = len(hotbus.events.events)
    await plugin_dir.save("p.py", recording(2, "hang", header="while True:\n    pass"))
    await executed("hang")
    assert len(generations("p")) == 2  # the running version's, and the one hanging
    await plugin_dir.save("p.py", original)  # back before it settled: no reload takes it
    # stopped at its time limit, its modules purged:
    await wait_until(lambda: len(generations("p")) == 1)
    await plugin_dir.save("p.py", recording(3, "v3"))
    await hotbus.wait_for(ReloadCommitted, committed("p", 3), timeout=TIMEOUT)
    assert await values(runtime) == [3]
    assert not [
        event
        for event in hotbus.events.events[mark:]
        if isinstance(event, ReloadRejected | PluginFailed)
    ]


def generations(source: str) -> list[str]:
    """The packages of the live generations loading plugin source ``source``."""
    return [name for name, g in owner_generations().items() if g.source == source]


async def test_a_new_plugin_file_is_loaded_while_it_settles(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", recording(1, "v1"))
    runtime = await hotbus.start(debounce_ms=WINDOW_MS)
    path = (plugin_dir.path / "q.py").resolve()
    plugin_dir.write("q.py", plugin_source(7, name="q", header=RECORDS_NEW))
    settled = await hotbus.wait_for(FileSettled, lambda e: e.path == path, timeout=TIMEOUT)
    await hotbus.wait_for(ReloadCommitted, committed("q", 7), timeout=TIMEOUT)
    assert await executed("new") < settled.timestamp.timestamp()
    assert (labels(), await values(runtime, "q")) == (["v1", "new"], [7])


RECORDS_NEW = "import time\nevents.EXECUTED.append(('new', time.time()))"
