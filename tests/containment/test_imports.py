"""Module code runs on the loader thread under ``import_timeout_s``: a runaway import fails that
plugin at phase import, naming its file and line, and everything else goes on."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from hotbus.schemas import (
    Phase,
    PluginState,
    ReloadCommitted,
    ReloadRejected,
)
from hotbus.testing import Harness, PluginDir

from tests.containment.conftest import MakeRuntime
from tests.containment.helpers import (
    LIMITS,
    RAISES,
    TIMEOUT,
    ask,
    failures,
    line_of,
    plugin_source,
    raising,
    wait_until,
)

S = PluginState
SPIN = """
while True:  # HERE
    pass
"""
INTERRUPTED = "hotbus.schemas.PluginInterrupted"


def _spin_lines(source: str) -> set[int]:
    """Where a spinning loop may be caught: its ``while`` line or the body's."""
    line = line_of(source)
    return {line, line + 1}


async def test_a_spinning_import_fails_at_import_naming_its_file_and_line(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    source = plugin_source("spin", module=SPIN)
    path = plugin_dir.write("spin.py", source)
    plugin_dir.write("good.py", plugin_source("good"))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "spin")
    assert (failure.phase, failure.error.type) == (Phase.IMPORT, INTERRUPTED)
    assert failure.error.file == path
    assert failure.error.line in _spin_lines(source)
    assert "import_timeout_s" in failure.error.message


async def test_a_spinning_import_leaves_the_other_plugins_serving(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("spin.py", plugin_source("spin", module=SPIN))
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    await runtime.start()
    assert {r.name: r.state for r in runtime.status()} == {"good": S.ACTIVE, "spin": S.FAILED}
    assert await ask(runtime, "good") == 7


async def test_other_plugins_answer_while_an_import_spins(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime(import_timeout_s=2.0)
    await runtime.start()
    spin = plugin_dir.write("spin.py", plugin_source("spin", module=SPIN))
    loading = asyncio.ensure_future(runtime.load(spin))
    await asyncio.sleep(0.1)  # the import is spinning on the loader thread by now
    begin = time.monotonic()
    assert await ask(runtime, "good", timeout=1.0) == 7
    assert time.monotonic() - begin < 0.5
    assert not loading.done()
    await loading
    assert {r.name: r.state for r in runtime.status()} == {"good": S.ACTIVE, "spin": S.FAILED}


@pytest.mark.no_cover  # a tracer holds frames and delays interrupts: measure as users run
async def test_an_import_sleeping_in_a_call_is_abandoned_and_purged_when_it_returns(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    source = plugin_source("nap", module="time.sleep(3)  # HERE")
    path = plugin_dir.write("nap.py", source)
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    begin = time.monotonic()
    with runtime.bus.record() as recorded:
        await runtime.start()
    assert time.monotonic() - begin < 2.5  # not held up until the sleep returns
    (failure,) = failures(recorded, "nap")
    assert (failure.phase, failure.error.type) == (Phase.IMPORT, INTERRUPTED)
    assert (failure.error.file, failure.error.line) == (path, line_of(source))
    assert "abandoned" in failure.error.message
    assert await ask(runtime, "good") == 7

    def purged() -> bool:
        return not [name for name in sys.modules if name.endswith(".nap")]

    await wait_until(purged)


@pytest.mark.parametrize("kind", sorted(RAISES))
async def test_a_base_exception_at_import_fails_only_that_plugin_at_import(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, kind: str
) -> None:
    source = plugin_source("bad", module=raising(kind))
    path = plugin_dir.write("bad.py", source)
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "bad")
    assert failure.phase is Phase.IMPORT
    assert failure.error.type.rsplit(".", 1)[-1] == kind
    assert (failure.error.file, failure.error.line) == (path, line_of(source))
    assert await ask(runtime, "good") == 7


async def test_a_spinning_save_is_rejected_while_the_old_version_serves_and_a_fix_commits(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source("p", 1))
    runtime = await hotbus.start(**{**LIMITS, "import_timeout_s": 1.0}, watch=True)
    spinning = plugin_source("p", 2, module=SPIN)
    path = await plugin_dir.save("p.py", spinning)
    await hotbus.wait_for("hotbus.reload.planned", timeout=TIMEOUT)
    assert await ask(runtime, "p", timeout=0.5) == 1  # served while the new version spins
    rejected = await hotbus.wait_for(ReloadRejected, timeout=TIMEOUT)
    assert (rejected.phase, rejected.error.type) == (Phase.IMPORT, INTERRUPTED)
    assert (rejected.error.file, rejected.error.line in _spin_lines(spinning)) == (path, True)
    assert await ask(runtime, "p") == 1
    await plugin_dir.save("p.py", plugin_source("p", 3))
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    assert await ask(runtime, "p") == 3
