"""Hooks run as tasks of their own under their limits: whatever a hook raises (BaseExceptions
included) or however it hangs, only that plugin fails, at that phase, and the lifecycle stays
legal."""

from __future__ import annotations

import time

import pytest
from hotbus.schemas import (
    LoopStalled,
    Phase,
    PluginState,
    ReloadCommitted,
    ReloadRolledBack,
)
from hotbus.testing import PluginDir

from tests.containment import events
from tests.containment.conftest import MakeRuntime
from tests.containment.helpers import (
    RAISES,
    STUBBORN,
    TIMEOUT,
    ask,
    failures,
    line_of,
    plugin_source,
    raising,
    transitions,
)

S = PluginState
KINDS = sorted(RAISES)
SPIN = """
while True:  # HERE
    pass
"""


def _type(name: str) -> str:
    return name.rsplit(".", 1)[-1]


# -- setup at start --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_base_exception_in_setup_fails_only_that_plugin_at_setup(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, kind: str
) -> None:
    source = plugin_source("bad", setup=raising(kind))
    path = plugin_dir.write("bad.py", source)
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "bad")
    assert (failure.phase, _type(failure.error.type)) == (Phase.SETUP, kind)
    assert (failure.error.file, failure.error.line) == (path, line_of(source))
    assert transitions(recorded, "bad")[-2:] == [(S.LOADED, S.STARTING), (S.STARTING, S.FAILED)]
    assert await ask(runtime, "good") == 7
    await runtime.stop()
    assert events.JOURNAL == ["teardown good"]


async def test_a_setup_swallowing_cancellation_is_abandoned_and_named(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    source = plugin_source("stubborn", setup=STUBBORN)
    path = plugin_dir.write("stubborn.py", source)
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "stubborn")
    assert failure.phase is Phase.SETUP
    assert "ignored cancellation" in failure.error.message
    assert "hotbus:hook:stubborn:setup" in failure.error.message
    assert failure.error.file == path
    assert await ask(runtime, "good") == 7


async def test_a_setup_holding_the_loop_is_interrupted_and_fails_at_setup(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    source = plugin_source("spin", setup=SPIN)
    path = plugin_dir.write("spin.py", source)
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
        await recorded.wait_for(LoopStalled, lambda e: e.interrupted, timeout=TIMEOUT)
    (failure,) = failures(recorded, "spin")
    assert (failure.phase, failure.error.type) == (Phase.SETUP, "hotbus.schemas.PluginInterrupted")
    assert failure.error.file == path
    assert failure.error.line in {line_of(source), line_of(source) + 1}
    stalls = recorded.of(LoopStalled)
    assert [(s.plugin, s.doing, s.interrupted) for s in stalls] == [
        ("spin", "setup", False),
        ("spin", "setup", True),
    ]
    assert await ask(runtime, "good") == 7


# -- setup during a reload -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_base_exception_in_setup_during_a_reload_rolls_back_to_the_old_version(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, kind: str
) -> None:
    plugin_dir.write("p.py", plugin_source("p", 1))
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    await runtime.start()
    source = plugin_source("p", 2, setup=raising(kind))
    path = await plugin_dir.save("p.py", source)
    with runtime.bus.record() as recorded:
        outcome = await runtime.reload("p")
    assert isinstance(outcome, ReloadRolledBack)
    assert (outcome.phase, _type(outcome.error.type)) == (Phase.SETUP, kind)
    assert (outcome.error.file, outcome.error.line) == (path, line_of(source))
    assert await ask(runtime, "p") == 1
    assert {r.name: r.state for r in runtime.status()} == {"good": S.ACTIVE, "p": S.ACTIVE}
    assert transitions(recorded, "p")[-1] == (S.STARTING, S.ACTIVE)
    with runtime.bus.record() as stopping:
        await runtime.stop()  # no illegal transition: every plugin stops and is torn down
    assert {(t[-1]) for t in (transitions(stopping, n) for n in ("p", "good"))} == {
        (S.STOPPING, S.UNLOADED)
    }
    assert sorted(events.JOURNAL) == ["teardown good", "teardown p", "teardown p"]


async def test_the_watcher_reloads_after_a_setup_failed_with_a_cancelled_error(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("p.py", plugin_source("p", 1))
    runtime = make_runtime(watch=True)
    await runtime.start()
    with runtime.bus.record() as recorded:
        await plugin_dir.save("p.py", plugin_source("p", 2, setup=raising("CancelledError")))
        await recorded.wait_for(ReloadRolledBack, timeout=TIMEOUT)
        await plugin_dir.save("p.py", plugin_source("p", 3))
        await recorded.wait_for(ReloadCommitted, timeout=TIMEOUT)
    assert await ask(runtime, "p") == 3


# -- teardown --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_base_exception_in_teardown_fails_it_at_teardown_and_the_others_stop(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, kind: str
) -> None:
    source = plugin_source("bad", teardown=raising(kind))
    path = plugin_dir.write("bad.py", source)
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.stop()
    (failure,) = failures(recorded, "bad")
    assert (failure.phase, _type(failure.error.type)) == (Phase.TEARDOWN, kind)
    assert (failure.error.file, failure.error.line) == (path, line_of(source))
    assert transitions(recorded, "bad") == [(S.ACTIVE, S.STOPPING), (S.STOPPING, S.UNLOADED)]
    assert sorted(events.JOURNAL) == ["teardown bad", "teardown good"]


async def test_a_teardown_swallowing_cancellation_cannot_hold_up_the_stop(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    source = plugin_source("stubborn", teardown=STUBBORN)
    path = plugin_dir.write("stubborn.py", source)
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    await runtime.start()
    begin = time.monotonic()
    with runtime.bus.record() as recorded:
        await runtime.stop()
    took = time.monotonic() - begin
    assert took < 2.0  # its limit (0.4 s) and a grace as long
    (failure,) = failures(recorded, "stubborn")
    assert failure.phase is Phase.TEARDOWN
    assert "abandoned" in failure.error.message
    assert (failure.error.file, failure.error.line) == (path, line_of(source) + 2)
    assert sorted(events.JOURNAL) == ["teardown good", "teardown stubborn"]


async def test_a_teardown_holding_the_loop_is_interrupted_and_the_others_stop(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("spin.py", plugin_source("spin", teardown=SPIN))
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.stop()
    (failure,) = failures(recorded, "spin")
    assert (failure.phase, failure.error.type) == (
        Phase.TEARDOWN,
        "hotbus.schemas.PluginInterrupted",
    )
    assert sorted(events.JOURNAL) == ["teardown good", "teardown spin"]


# -- export_state ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_base_exception_in_export_state_is_reported_and_the_new_version_takes_over(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, kind: str
) -> None:
    source = plugin_source("p", 1, export=raising(kind))
    path = plugin_dir.write("p.py", source)
    runtime = make_runtime()
    await runtime.start()
    await plugin_dir.save("p.py", plugin_source("p", 2))
    with runtime.bus.record() as recorded:
        outcome = await runtime.reload("p")
    assert isinstance(outcome, ReloadCommitted)
    (failure,) = failures(recorded, "p")
    assert (failure.phase, _type(failure.error.type)) == (Phase.EXPORT, kind)
    assert (failure.error.file, failure.error.line) == (path, line_of(source))
    assert await ask(runtime, "p") == 2
