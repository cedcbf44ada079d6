"""A plugin that rewrites its own file as it starts is throttled, not reloaded forever.

Its setup (or a task it starts) appends a statement to its own source: each reload changes the
file it was loaded from, and not only inside a function body (that would be patched, which runs
no setup, and the loop would end by itself). After ``reload_loop_limit`` such changes in a row
its next reload waits, with a delay that doubles at each round, announced by
``hotbus.reload.throttled`` and a warning; the reloads held back still happen, and an edit is
applied at once. Edits saved right after each reload, however many, are never throttled.
"""

from __future__ import annotations

import logging

import pytest
from hotbus import Runtime
from hotbus.schemas import ReloadCommitted, ReloadThrottled
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import TIMEOUT, commits_of, committed, plugin_source, values

#: The default ``reload_loop_limit``.
LIMIT = 5
#: How each kind of plugin code writes its own source as the plugin starts.
WRITERS = {
    "setup": """
async def setup(self) -> None:
    with open(__file__, "a", encoding="utf-8") as handle:
        handle.write("TOUCHED = True\\n")
""",
    "task": """
async def setup(self) -> None:
    self.ctx.start_task(self.touch())

async def touch(self) -> None:
    with open(__file__, "a", encoding="utf-8") as handle:
        handle.write("TOUCHED = True\\n")
""",
}


@pytest.fixture(params=sorted(WRITERS))
async def looping(request: pytest.FixtureRequest, plugin_dir: PluginDir, hotbus: Harness) -> int:
    """``p`` saved with code that writes its own source; returns once its reload is throttled.

    Returns the index in ``hotbus.events`` from which its commits are counted.
    """
    plugin_dir.write("p.py", plugin_source(1))
    await hotbus.start()
    mark = len(hotbus.events)
    await plugin_dir.save("p.py", plugin_source(2, body=WRITERS[request.param]), "atomic")
    await hotbus.wait_for(ReloadThrottled, timeout=TIMEOUT)
    return mark


def delays(hotbus: Harness) -> list[float]:
    return [event.delay_s for event in hotbus.events.of(ReloadThrottled)]


async def test_its_reload_is_held_back_after_the_limit_of_reloads_in_a_row(
    looping: int, hotbus: Harness, plugin_dir: PluginDir
) -> None:
    (event,) = hotbus.events.of(ReloadThrottled)
    assert (event.plugin, event.reloads, event.delay_s, event.paths) == (
        "p",
        LIMIT,
        1.0,
        [plugin_dir.path / "p.py"],
    )
    assert len(commits_of(hotbus.events, "p", looping)) == LIMIT


async def test_the_reloads_held_back_still_happen_with_a_delay_doubling_each_round(
    looping: int, hotbus: Harness
) -> None:
    first = len(hotbus.events)
    await hotbus.wait_for(ReloadThrottled, lambda e: e.delay_s == 4.0, timeout=TIMEOUT)
    assert delays(hotbus) == [1.0, 2.0, 4.0]
    assert len(commits_of(hotbus.events, "p", first)) == 2  # one after 1 s, one after 2 s


async def test_it_is_a_warning_line_naming_the_plugin_the_count_and_the_fix(
    plugin_dir: PluginDir, hotbus: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    await hotbus.start()
    with caplog.at_level(logging.WARNING, logger="hotbus.reload"):
        await plugin_dir.save("p.py", plugin_source(2, body=WRITERS["setup"]), "atomic")
        await hotbus.wait_for(ReloadThrottled, timeout=TIMEOUT)
    assert [r.getMessage() for r in caplog.records if r.name == "hotbus.reload"] == [
        "⚠ p reloads itself: p.py changed 5 times in a row while it was starting; next reload "
        "in 1 s; a plugin that writes its own source reloads forever: write data elsewhere, "
        "outside the plugin directory"
    ]


async def test_an_edit_while_its_reload_is_held_back_is_applied_at_once(
    looping: int, hotbus: Harness, plugin_dir: PluginDir
) -> None:
    runtime = hotbus.runtime
    assert runtime is not None
    await plugin_dir.save("p.py", plugin_source(3), "atomic")
    await hotbus.wait_for(ReloadCommitted, committed("p", 3), timeout=TIMEOUT)
    assert await values(runtime) == [3]


async def test_edits_saved_right_after_each_reload_are_never_throttled(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    runtime: Runtime = await hotbus.start()
    for value in range(2, 2 * LIMIT + 3):
        await plugin_dir.save("p.py", plugin_source(value), "atomic")
        await hotbus.wait_for(ReloadCommitted, committed("p", value), timeout=TIMEOUT)
    assert (hotbus.events.of(ReloadThrottled), await values(runtime)) == ([], [2 * LIMIT + 2])


#: Writes its own source at each of its first five start-ups (``events.KEPT`` counts them).
WRITES_FIVE_TIMES = """
async def setup(self) -> None:
    if len(events.KEPT) < 5:
        events.KEPT.append(self.VALUE)
        with open(__file__, "a", encoding="utf-8") as handle:
            handle.write("TOUCHED = True\\n")
"""


async def test_idle_waits_for_the_reloads_held_back(plugin_dir: PluginDir, hotbus: Harness) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start()
    mark = len(hotbus.events)
    await plugin_dir.save("p.py", plugin_source(2, body=WRITES_FIVE_TIMES), "atomic")
    await hotbus.wait_for(ReloadThrottled, timeout=TIMEOUT)
    await runtime.idle()
    # five reloads in a row, each writing the file again, then the one held back for 1 s
    assert (delays(hotbus), len(commits_of(hotbus.events, "p", mark))) == ([1.0], LIMIT + 1)
