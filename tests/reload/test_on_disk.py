"""What runs is what is on disk: the hazards the `OnDisk` state machine found, one test each.

Once the files are quiet and the reload finished, every plugin whose source on disk is valid
runs exactly that source, and a broken one keeps serving its last good version and says why.
Each test here is the minimal sequence of saves that broke this on a real runtime, with a
real watcher, before it was fixed.
"""

from __future__ import annotations

from pathlib import Path

from hotbus import Event, Runtime
from hotbus.schemas import FileChanged, FileSettled, PluginState
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import (
    IMPORTS_HELPER,
    SERVES_HELPER,
    TIMEOUT,
    plugin_source,
    status_of,
    values,
)

EXPORT_RAISES = """
async def export_state(self) -> Counter:
    raise RuntimeError('export_state fails on purpose')
"""
TEARDOWN_RAISES = """
async def teardown(self) -> None:
    raise RuntimeError('teardown fails on purpose')
"""
SYNTAX_ERROR = "def broken(:\n"


def requiring(value: int, name: str, requirement: str, trailer: str = "") -> str:
    """Plugin ``name`` serving ``value`` and requiring plugin ``requirement``."""
    return plugin_source(value, name=name, body=f"requires = ({requirement!r},)", trailer=trailer)


async def settle(hotbus: Harness, plugin_dir: PluginDir, *names: str) -> Runtime:
    """Wait until files ``names`` have settled (in any order) and the runtime is idle again."""
    runtime = hotbus.runtime
    assert runtime is not None
    waiting = {(plugin_dir / name).resolve() for name in names}

    def pending(event: FileSettled) -> bool:
        return event.path in waiting

    while waiting:
        waiting.discard((await hotbus.wait_for(FileSettled, pending, timeout=TIMEOUT)).path)
    await runtime.idle()
    return runtime


async def test_a_valid_save_runs_although_a_dependent_of_it_is_broken_on_disk(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("alpha.py", plugin_source(1, name="alpha"))
    plugin_dir.write("beta.py", requiring(1, "beta", "alpha"))
    await hotbus.start()
    await plugin_dir.save("beta.py", requiring(2, "beta", "alpha", trailer=SYNTAX_ERROR))
    await settle(hotbus, plugin_dir, "beta.py")

    await plugin_dir.save("alpha.py", plugin_source(3, name="alpha"))
    runtime = await settle(hotbus, plugin_dir, "alpha.py")

    assert await values(runtime, "alpha") == [3]


async def test_a_helper_save_reaches_one_importer_although_another_is_broken_on_disk(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("helper.py", "VALUE = 1\n")
    plugin_dir.write(
        "alpha.py", plugin_source(0, name="alpha", header=IMPORTS_HELPER, body=SERVES_HELPER)
    )
    plugin_dir.write(
        "delta.py", plugin_source(0, name="delta", header=IMPORTS_HELPER, body=SERVES_HELPER)
    )
    await hotbus.start()
    broken = plugin_source(
        0, name="delta", header=IMPORTS_HELPER, body=SERVES_HELPER, trailer=SYNTAX_ERROR
    )
    await plugin_dir.save("delta.py", broken)
    await settle(hotbus, plugin_dir, "delta.py")

    await plugin_dir.save("helper.py", "VALUE = 2\n")
    runtime = await settle(hotbus, plugin_dir, "helper.py")

    assert await values(runtime, "alpha") == [2]


async def test_a_valid_save_replaces_a_version_whose_export_state_raises(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=EXPORT_RAISES))
    await hotbus.start()

    await plugin_dir.save("p.py", plugin_source(2))
    runtime = await settle(hotbus, plugin_dir, "p.py")

    assert await values(runtime) == [2]


async def test_a_valid_save_replaces_a_version_whose_teardown_raises(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=TEARDOWN_RAISES))
    await hotbus.start()

    await plugin_dir.save("p.py", plugin_source(2))
    runtime = await settle(hotbus, plugin_dir, "p.py")

    assert await values(runtime) == [2]


async def test_a_valid_save_runs_although_a_dependent_cannot_export_its_state(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("alpha.py", plugin_source(1, name="alpha"))
    body = f"requires = ('alpha',)\n{EXPORT_RAISES}"
    plugin_dir.write("beta.py", plugin_source(1, name="beta", body=body))
    await hotbus.start()

    await plugin_dir.save("alpha.py", plugin_source(2, name="alpha"))
    runtime = await settle(hotbus, plugin_dir, "alpha.py")

    assert await values(runtime, "alpha") == [2]


async def test_a_broken_save_leaves_the_error_in_the_status_of_the_plugin_serving_on(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    await hotbus.start()

    await plugin_dir.save("p.py", plugin_source(2, trailer=SYNTAX_ERROR))
    runtime = await settle(hotbus, plugin_dir, "p.py")

    row = status_of(runtime, "p")
    assert (row.state, row.error is not None) == (PluginState.ACTIVE, True)


async def test_a_save_all_of_a_valid_plugin_and_a_broken_dependent_runs_the_valid_one(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("alpha.py", plugin_source(1, name="alpha"))
    plugin_dir.write("beta.py", requiring(1, "beta", "alpha"))
    await hotbus.start()

    await plugin_dir.save("alpha.py", plugin_source(2, name="alpha"))
    await plugin_dir.save("beta.py", requiring(2, "beta", "alpha", trailer=SYNTAX_ERROR))
    runtime = await settle(hotbus, plugin_dir, "alpha.py", "beta.py")

    assert await values(runtime, "alpha") == [2]


async def test_a_broken_helper_leaves_the_error_in_the_status_of_its_importer(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("helper.py", "VALUE = 1\n")
    plugin_dir.write("p.py", plugin_source(0, header=IMPORTS_HELPER, body=SERVES_HELPER))
    await hotbus.start()

    await plugin_dir.save("helper.py", f"VALUE = 2\n{SYNTAX_ERROR}")
    runtime = await settle(hotbus, plugin_dir, "helper.py")

    row = status_of(runtime, "p")
    assert (row.state, row.error is not None) == (PluginState.ACTIVE, True)


async def test_a_new_plugin_saved_with_a_broken_one_starts(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    await hotbus.start()

    plugin_dir.write("q.py", plugin_source(1, name="q"))
    await plugin_dir.save("p.py", plugin_source(2, trailer=SYNTAX_ERROR))
    runtime = await settle(hotbus, plugin_dir, "q.py", "p.py")

    assert (status_of(runtime, "q").state, await values(runtime, "q")) == (
        PluginState.ACTIVE,
        [1],
    )


async def test_a_blocked_plugin_saved_broken_with_its_broken_requirement_never_starts_stale(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("alpha.py", plugin_source(1, name="alpha", trailer=SYNTAX_ERROR))
    plugin_dir.write("beta.py", requiring(1, "beta", "alpha"))
    await hotbus.start()
    await plugin_dir.save("alpha.py", plugin_source(2, name="alpha", trailer=SYNTAX_ERROR))
    await plugin_dir.save("beta.py", requiring(2, "beta", "alpha", trailer=SYNTAX_ERROR))
    await settle(hotbus, plugin_dir, "alpha.py", "beta.py")

    await plugin_dir.save("alpha.py", plugin_source(3, name="alpha"))
    runtime = await settle(hotbus, plugin_dir, "alpha.py")

    assert await values(runtime, "beta") == []


# -- a file changing while a reload stages ---------------------------------------------------

OUTCOMES = ("hotbus.reload.committed", "hotbus.reload.rejected", "hotbus.reload.rolled_back")


async def quiet(hotbus: Harness, plugin_dir: PluginDir) -> Runtime:
    """Wait until every raw file event so far reached the runtime, and it is idle again.

    A marker file is written last: the watcher reports one directory's events in order, so
    once the marker's own event is recorded, every earlier event has been handed over.
    """
    runtime = hotbus.runtime
    assert runtime is not None
    marker = plugin_dir.write("marker.txt", "quiet\n").resolve()

    def at_marker(event: FileChanged) -> bool:
        return event.path == marker

    await hotbus.wait_for(FileChanged, at_marker, timeout=TIMEOUT)
    await runtime.idle()
    return runtime


async def edit_while_staging(
    hotbus: Harness, plugin_dir: PluginDir, name: str, during: str, after: str
) -> Runtime:
    """Save ``helper.py`` anew; while the reload it causes stages (right after it is
    planned), write ``during`` into ``name``; once it ends, write ``after`` back."""
    runtime = hotbus.runtime
    assert runtime is not None
    edited: list[Path] = []

    def edit(event: Event) -> None:
        if not edited:
            edited.append(plugin_dir.write(name, during))

    with runtime.bus.connected_to(edit, "hotbus.reload.planned"):
        await plugin_dir.save("helper.py", "VALUE = 2\n")
        await hotbus.wait_for("hotbus.reload.*", lambda e: e.topic in OUTCOMES, timeout=TIMEOUT)
    assert edited, "the reload was never planned"
    plugin_dir.write(name, after)
    return await quiet(hotbus, plugin_dir)


async def test_a_helper_save_runs_although_another_member_is_rewritten_while_it_stages(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("helper.py", "VALUE = 1\n")
    plugin_dir.write("p.py", plugin_source(0, header=IMPORTS_HELPER, body=SERVES_HELPER))
    q = requiring(1, "q", "p")
    plugin_dir.write("q.py", q)
    await hotbus.start()

    runtime = await edit_while_staging(hotbus, plugin_dir, "q.py", during="", after=q)

    assert await values(runtime, "p") == [2]


async def test_a_member_changed_and_changed_back_while_a_reload_stages_runs_what_is_on_disk(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("helper.py", "VALUE = 1\n")
    plugin_dir.write("p.py", plugin_source(0, header=IMPORTS_HELPER, body=SERVES_HELPER))
    q = requiring(1, "q", "p")
    plugin_dir.write("q.py", q)
    await hotbus.start()

    runtime = await edit_while_staging(
        hotbus, plugin_dir, "q.py", during=requiring(7, "q", "p"), after=q
    )

    assert await values(runtime, "q") == [1]


SETUP_RAISES = """
async def setup(self) -> None:
    raise RuntimeError('setup fails on purpose')
"""


async def test_a_dependent_failing_at_setup_never_brings_back_its_stale_version(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("alpha.py", plugin_source(1, name="alpha"))
    plugin_dir.write("beta.py", requiring(1, "beta", "alpha", trailer=SYNTAX_ERROR))
    plugin_dir.write("gamma.py", requiring(1, "gamma", "beta"))
    await hotbus.start()
    await plugin_dir.save("beta.py", requiring(2, "beta", "alpha"))
    broken = plugin_source(2, name="gamma", body=f"requires = ('beta',)\n{SETUP_RAISES}")
    await plugin_dir.save("gamma.py", broken)
    await settle(hotbus, plugin_dir, "beta.py", "gamma.py")

    await plugin_dir.save("beta.py", requiring(3, "beta", "alpha"))
    runtime = await settle(hotbus, plugin_dir, "beta.py")

    assert await values(runtime, "gamma") == []
