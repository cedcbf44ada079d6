"""Dependencies: start in dependency order; a missing or failed one blocks only its dependents."""

from __future__ import annotations

from hotbus.runtime._testing.plugin_dir import PluginDir
from hotbus.schemas import PluginState

from tests.runtime import events
from tests.runtime.helpers import MakeRuntime, plugin_source

S = PluginState

FAILING_SETUP = """
    async def setup(self) -> None:
        raise ValueError("no entropy")
"""


def _journal(prefix: str) -> list[str]:
    return [entry.split()[1] for entry in events.JOURNAL if entry.startswith(prefix + " ")]


def _write_chain(plugin_dir: PluginDir) -> None:
    """``alpha <- beta <- gamma`` written so that name order is the reverse of dependency order."""
    plugin_dir.write("gamma.py", plugin_source("gamma"))
    plugin_dir.write("beta.py", plugin_source("beta", requires=["gamma"]))
    plugin_dir.write("alpha.py", plugin_source("alpha", requires=["beta"]))


async def test_plugins_start_in_dependency_order(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    _write_chain(plugin_dir)
    runtime = make_runtime()
    await runtime.start()
    assert _journal("setup") == ["gamma", "beta", "alpha"]


async def test_plugins_stop_in_reverse_dependency_order(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    _write_chain(plugin_dir)
    runtime = make_runtime()
    await runtime.start()
    await runtime.stop()
    assert _journal("teardown") == ["alpha", "beta", "gamma"]


async def test_status_lists_plugins_in_dependency_order(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    _write_chain(plugin_dir)
    runtime = make_runtime()
    await runtime.start()
    assert [row.name for row in runtime.status()] == ["gamma", "beta", "alpha"]


async def test_a_missing_dependency_blocks_its_dependent_naming_it(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng>=1.0.0"]))
    runtime = make_runtime()
    await runtime.start()
    (row,) = runtime.status()
    assert row.state is S.BLOCKED
    assert "missing dependency rng" in row.reason


async def test_a_missing_dependency_blocks_only_its_dependents(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("coin.py", plugin_source("coin"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    plugin_dir.write("craps.py", plugin_source("craps", requires=["dice"]))
    plugin_dir.write("table.py", plugin_source("table", requires=["coin"]))
    runtime = make_runtime()
    await runtime.start()
    assert {r.name: r.state for r in runtime.status()} == {
        "coin": S.ACTIVE,
        "table": S.ACTIVE,
        "dice": S.BLOCKED,
        "craps": S.BLOCKED,
    }


async def test_a_failed_dependency_blocks_its_dependent(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng", body=FAILING_SETUP))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    rows = {row.name: row for row in runtime.status()}
    assert (rows["rng"].state, rows["dice"].state) == (S.FAILED, S.BLOCKED)
    assert "dependency rng failed" in rows["dice"].reason


async def test_a_dependency_failing_at_import_blocks_its_dependent(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng", header="raise ImportError('no entropy')"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    rows = {row.name: row for row in runtime.status()}
    assert (rows["rng"].state, rows["dice"].state) == (S.FAILED, S.BLOCKED)


async def test_a_cycle_blocks_its_members_naming_the_cycle(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("a.py", plugin_source("a", requires=["b"]))
    plugin_dir.write("b.py", plugin_source("b", requires=["a"]))
    runtime = make_runtime()
    await runtime.start()
    assert {(r.name, r.state, r.reason) for r in runtime.status()} == {
        ("a", S.BLOCKED, "dependency cycle a -> b -> a"),
        ("b", S.BLOCKED, "dependency cycle a -> b -> a"),
    }


async def test_a_cycle_lets_an_independent_plugin_start(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("a.py", plugin_source("a", requires=["b"]))
    plugin_dir.write("b.py", plugin_source("b", requires=["a"]))
    plugin_dir.write("c.py", plugin_source("c"))
    runtime = make_runtime()
    await runtime.start()
    assert runtime.plugin("c").name == "c"


async def test_an_unmet_version_requirement_blocks_saying_what_was_found(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng", version="1.0.0"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng>=2.0.0"]))
    runtime = make_runtime()
    await runtime.start()
    row = next(row for row in runtime.status() if row.name == "dice")
    assert (row.state, row.reason) == (S.BLOCKED, "needs rng>=2.0.0, found rng 1.0.0")


async def test_a_met_version_requirement_starts_the_dependent(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng", version="2.1.0"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng>=2.0.0"]))
    runtime = make_runtime()
    await runtime.start()
    assert runtime.plugin("dice").name == "dice"


async def test_a_blocked_plugin_starts_once_its_dependency_is_loaded(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    assert runtime.status()[0].state is S.BLOCKED
    await runtime.load(plugin_dir.write("rng.py", plugin_source("rng")))
    assert [(r.name, r.state) for r in runtime.status()] == [
        ("rng", S.ACTIVE),
        ("dice", S.ACTIVE),
    ]


async def test_disabling_a_plugin_first_stops_its_dependents(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    await runtime.disable("rng")
    assert _journal("teardown") == ["dice", "rng"]


async def test_disabling_a_plugin_blocks_its_dependents(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    await runtime.disable("rng")
    rows = {row.name: row for row in runtime.status()}
    assert (rows["rng"].state, rows["rng"].enabled) == (S.LOADED, False)
    assert (rows["dice"].state, rows["dice"].reason) == (S.BLOCKED, "dependency rng was disabled")


async def test_enabling_a_plugin_starts_it_and_its_dependents_again(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    await runtime.disable("rng")
    await runtime.enable("rng")
    assert {r.name: r.state for r in runtime.status()} == {"rng": S.ACTIVE, "dice": S.ACTIVE}


async def test_unloading_a_dependency_blocks_its_dependents(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    await runtime.unload("rng")
    assert [(r.name, r.state) for r in runtime.status()] == [("dice", S.BLOCKED)]


async def test_reloading_a_dependency_restarts_its_dependents(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("rng.py", plugin_source("rng"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    events.reset()
    await runtime.reload("rng")
    assert events.JOURNAL == ["teardown dice", "teardown rng", "setup rng", "setup dice"]


async def test_a_dependent_blocked_by_an_unload_starts_when_the_dependency_is_loaded_again(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    rng = plugin_dir.write("rng.py", plugin_source("rng"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    await runtime.unload("rng")
    await runtime.load(rng)
    assert {r.name: r.state for r in runtime.status()} == {"rng": S.ACTIVE, "dice": S.ACTIVE}


async def test_a_dependency_is_found_by_its_declared_name_not_its_file_name(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("random_numbers.py", plugin_source("rng"))
    plugin_dir.write("dice.py", plugin_source("dice", requires=["rng"]))
    runtime = make_runtime()
    await runtime.start()
    assert {r.name: r.state for r in runtime.status()} == {"rng": S.ACTIVE, "dice": S.ACTIVE}


async def test_requires_given_as_one_string_is_one_requirement(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    # ("rng") is a string, not a tuple: a common slip the manifest model accepts as ("rng",).
    plugin_dir.write("rng.py", plugin_source("rng"))
    plugin_dir.write(
        "dice.py",
        """
        from hotbus import Plugin

        class Dice(Plugin):
            name = "dice"
            version = "1.0.0"
            requires = ("rng")
        """,
    )
    runtime = make_runtime()
    await runtime.start()
    assert [(r.name, r.state, r.requires) for r in runtime.status()] == [
        ("rng", S.ACTIVE, []),
        ("dice", S.ACTIVE, ["rng"]),
    ]
