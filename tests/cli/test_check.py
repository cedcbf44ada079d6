"""``hotbus check``: a table of every plugin, and a ``file:line: plugin: ...`` line per problem."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hotbus.testing import PluginDir

from tests.cli.console import PLUGINS, Result, hotbus, run_hotbus

EXAMPLES = ["dice", "eightball", "greeter", "quotes", "rng", "trivia"]

SYNTAX_ERROR = """\
    from hotbus import Plugin


    class Broken(Plugin):
        name = "broken"
        version = "1.0.0"
        def oops(:
            pass
"""
RAISES_AT_IMPORT = """\
    from hotbus import Plugin

    raise RuntimeError("no config server")


    class Boom(Plugin):
        name = "boom"
        version = "1.0.0"
"""
BAD_VERSION = """\
    from hotbus import Plugin


    class Bad(Plugin):
        name = "bad"
        version = "one"
"""
NEEDS_GHOST = """\
    from hotbus import Plugin


    class Needy(Plugin):
        name = "needy"
        version = "1.0.0"
        requires = ("ghost",)
"""
CHICKEN = """\
    from hotbus import Plugin


    class Chicken(Plugin):
        name = "chicken"
        version = "1.0.0"
        requires = ("egg",)
"""
EGG = """\
    from hotbus import Plugin


    class Egg(Plugin):
        name = "egg"
        version = "1.0.0"
        requires = ("chicken",)
"""
CONFIGURED = """\
    from pydantic import BaseModel, Field

    from hotbus import Plugin


    class DiceConfig(BaseModel):
        max_dice: int = Field(default=10, ge=1)


    class Dice(Plugin):
        name = "dice"
        version = "1.0.0"
        config_model = DiceConfig
"""
TWO_PLUGINS = """\
    from hotbus import Plugin


    class Salt(Plugin):
        name = "salt"
        version = "1.0.0"


    class Pepper(Plugin):
        name = "pepper"
        version = "1.0.0"
"""

#: Writes a broken plugin directory; returns the extra arguments of ``hotbus check``.
Breaker = Callable[[PluginDir, Path], list[str]]


def syntax_error(plugins: PluginDir, tmp_path: Path) -> list[str]:
    plugins.write("broken.py", SYNTAX_ERROR)
    return []


def raises_at_import(plugins: PluginDir, tmp_path: Path) -> list[str]:
    plugins.write("boom.py", RAISES_AT_IMPORT)
    return []


def bad_version(plugins: PluginDir, tmp_path: Path) -> list[str]:
    plugins.write("bad.py", BAD_VERSION)
    return []


def missing_dependency(plugins: PluginDir, tmp_path: Path) -> list[str]:
    plugins.write("needy.py", NEEDS_GHOST)
    return []


def dependency_cycle(plugins: PluginDir, tmp_path: Path) -> list[str]:
    plugins.write("chicken.py", CHICKEN)
    plugins.write("egg.py", EGG)
    return []


def invalid_config(plugins: PluginDir, tmp_path: Path) -> list[str]:
    plugins.write("dice.py", CONFIGURED)
    config = tmp_path / "hotbus.toml"
    config.write_text("[plugins.dice]\nmax_dice = 0\n", encoding="utf-8")
    return ["--config", str(config)]


def two_plugins(plugins: PluginDir, tmp_path: Path) -> list[str]:
    plugins.write("cruet.py", TWO_PLUGINS)
    return []


BREAKERS: dict[str, Breaker] = {
    "syntax error": syntax_error,
    "exception at import": raises_at_import,
    "invalid manifest": bad_version,
    "missing dependency": missing_dependency,
    "dependency cycle": dependency_cycle,
    "invalid config": invalid_config,
    "two plugins in one module": two_plugins,
}


def check(plugins: PluginDir, tmp_path: Path, breaker: Breaker) -> Result:
    """``hotbus check`` on ``plugins`` after ``breaker`` wrote into it."""
    extra = breaker(plugins, tmp_path)
    return hotbus("check", str(plugins.path), *extra)


def problems(result: Result) -> list[str]:
    """The problem lines: those after the blank line that ends the table."""
    lines = result.out_lines
    return lines[lines.index("") + 1 :] if "" in lines else []


def line_of(path: Path, text: str) -> int:
    """The number of the first line of ``path`` containing ``text``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


@pytest.fixture(scope="module")
def examples() -> Result:
    """``hotbus check plugins`` on the examples."""
    return hotbus("check", str(PLUGINS))


def test_a_good_directory_exits_0(examples: Result) -> None:
    assert examples.code == 0


def test_the_table_has_a_header(examples: Result) -> None:
    assert examples.out_lines[0].split() == ["plugin", "version", "status", "source"]


def test_the_table_has_an_ok_row_per_plugin(examples: Result) -> None:
    rows = [line.split() for line in examples.out_lines[1 : examples.out_lines.index("")]]
    assert sorted((row[0], row[2]) for row in rows) == [(name, "ok") for name in EXAMPLES]


def test_a_row_names_the_version_and_the_source(examples: Result) -> None:
    row = next(line for line in examples.out_lines if line.startswith("dice "))
    assert re.fullmatch(rf"dice +1\.0\.0\+\w+ +ok +{re.escape(str(PLUGINS / 'dice.py'))}", row)


def test_a_good_directory_says_all_plugins_are_fine(examples: Result) -> None:
    assert examples.out_lines[-1] == "all 6 plugins are fine"


def test_an_empty_directory_says_it_found_no_plugins(plugin_dir: PluginDir) -> None:
    assert hotbus("check", str(plugin_dir.path)).out_lines == [
        f"no plugins found in {plugin_dir.path}"
    ]


@pytest.mark.parametrize("breaker", BREAKERS.values(), ids=BREAKERS.keys())
def test_a_problem_exits_1(plugin_dir: PluginDir, tmp_path: Path, breaker: Breaker) -> None:
    assert check(plugin_dir, tmp_path, breaker).code == 1


@pytest.mark.parametrize("breaker", BREAKERS.values(), ids=BREAKERS.keys())
def test_a_problem_is_marked_in_the_table(
    plugin_dir: PluginDir, tmp_path: Path, breaker: Breaker
) -> None:
    result = check(plugin_dir, tmp_path, breaker)
    rows = [line.split() for line in result.out_lines[1 : result.out_lines.index("")]]
    assert {row[2] for row in rows} <= {"failed", "blocked"}


def test_a_syntax_error_is_reported_at_its_file_and_line(
    plugin_dir: PluginDir, tmp_path: Path
) -> None:
    result = check(plugin_dir, tmp_path, syntax_error)
    path = plugin_dir / "broken.py"
    (line,) = problems(result)
    assert line.startswith(f"{path}:{line_of(path, 'def oops(:')}: broken: SyntaxError: ")


def test_an_exception_at_import_is_reported_at_the_raising_line(
    plugin_dir: PluginDir, tmp_path: Path
) -> None:
    result = check(plugin_dir, tmp_path, raises_at_import)
    path = plugin_dir / "boom.py"
    assert problems(result) == [
        f"{path}:{line_of(path, 'raise')}: boom: RuntimeError: no config server"
    ]


def test_a_bad_version_is_reported_at_the_class_with_the_value(
    plugin_dir: PluginDir, tmp_path: Path
) -> None:
    result = check(plugin_dir, tmp_path, bad_version)
    path = plugin_dir / "bad.py"
    where = f"{path}:{line_of(path, 'class Bad')}"
    (line,) = problems(result)
    assert re.fullmatch(
        rf"{re.escape(where)}: bad: ManifestError: class Bad: invalid declaration: version: "
        r".*\(got 'one'\).*",
        line,
    )


def test_a_missing_dependency_is_named(plugin_dir: PluginDir, tmp_path: Path) -> None:
    result = check(plugin_dir, tmp_path, missing_dependency)
    path = plugin_dir / "needy.py"
    (line,) = problems(result)
    assert re.fullmatch(
        rf"{re.escape(str(path))}(:\d+)?: needy: missing dependency ghost: .+", line
    )


def test_a_dependency_cycle_is_reported_for_both_plugins_naming_both(
    plugin_dir: PluginDir, tmp_path: Path
) -> None:
    result = check(plugin_dir, tmp_path, dependency_cycle)
    cycle = r"dependency cycle (chicken -> egg -> chicken|egg -> chicken -> egg)"
    reported = {
        name: any(
            re.fullmatch(rf"{re.escape(str(plugin_dir / name))}\.py(:\d+)?: {name}: {cycle}.*", p)
            for p in problems(result)
        )
        for name in ("chicken", "egg")
    }
    assert reported == {"chicken": True, "egg": True}


def test_an_invalid_config_names_the_field_and_the_value(
    plugin_dir: PluginDir, tmp_path: Path
) -> None:
    result = check(plugin_dir, tmp_path, invalid_config)
    config = tmp_path / "hotbus.toml"
    (line,) = problems(result)
    assert re.fullmatch(
        rf"{re.escape(str(config))}:\d+: dice: ConfigError: invalid \[plugins\.dice\] config: "
        r"max_dice: .*\(got 0\); fix the value in \[plugins\.dice\] .+",
        line,
    )


def test_two_plugins_in_one_module_are_named_both(plugin_dir: PluginDir, tmp_path: Path) -> None:
    result = check(plugin_dir, tmp_path, two_plugins)
    path = plugin_dir / "cruet.py"
    (line,) = problems(result)
    assert re.fullmatch(
        rf"{re.escape(str(path))}:\d+: cruet: ManifestError: defines 2 plugins \(Salt and "
        r"Pepper\): .+",
        line,
    )


@pytest.mark.parametrize(
    ("breaker", "plugin"),
    [(missing_dependency, "needy"), (dependency_cycle, "chicken")],
    ids=["missing dependency", "dependency cycle"],
)
def test_a_dependency_problem_is_reported_at_the_requires_line(
    plugin_dir: PluginDir, tmp_path: Path, breaker: Breaker, plugin: str
) -> None:
    result = check(plugin_dir, tmp_path, breaker)
    path = plugin_dir / f"{plugin}.py"
    line = next(p for p in problems(result) if f": {plugin}: " in p)
    assert line.startswith(f"{path}:{line_of(path, 'requires = ')}: {plugin}: ")


def test_check_starts_no_plugin(plugin_dir: PluginDir, tmp_path: Path) -> None:
    plugin_dir.write(
        "loud.py",
        """\
        from hotbus import Plugin


        class Loud(Plugin):
            name = "loud"
            version = "1.0.0"

            async def setup(self) -> None:
                raise RuntimeError("setup ran")
        """,
    )
    assert hotbus("check", str(plugin_dir.path)).code == 0


def test_one_plugin_is_counted_in_the_singular(tmp_path: Path) -> None:
    shutil.copy(PLUGINS / "greeter.py", tmp_path / "greeter.py")
    assert run_hotbus("check", str(tmp_path)).out_lines[-1] == "1 plugin is fine"


def test_two_plugins_are_counted_in_the_plural(tmp_path: Path) -> None:
    for name in ("greeter.py", "rng.py"):
        shutil.copy(PLUGINS / name, tmp_path / name)
    assert run_hotbus("check", str(tmp_path)).out_lines[-1] == "all 2 plugins are fine"
