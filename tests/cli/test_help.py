"""``hotbus --help`` and each command's help, as printed by the real command: every argument
described with its default, how hotbus.toml is found, the ``HOTBUS_*`` variables, the exit
statuses; and printing help loads nothing of the runtime."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hotbus.runtime._console.cli import SETTINGS
from hotbus.schemas import Settings

from tests.cli.console import DEADLINE, ROOT, command, copy_plugins, environment, run_hotbus

COMMANDS = [(), ("run",), ("check",), ("events",)]
IDS = ["hotbus", "run", "check", "events"]


def help_of(*args: str) -> str:
    result = run_hotbus(*args, "--help")
    assert (result.code, result.err) == (0, "")
    return result.out


def described(text: str) -> dict[str, bool]:
    """Each argument of a help text, and whether a description follows it."""
    lines = text.splitlines()
    found: dict[str, bool] = {}
    section = ""
    for index, line in enumerate(lines):
        if line and not line.startswith(" "):
            section = line
            continue
        if section not in {"positional arguments:", "options:"}:
            continue
        match = re.match(r"  (\S+(?:, \S+)*(?: [A-Z_.\[\] ]+?)?)(?:\s{2,}(\S.*))?$", line)
        if match and not line.startswith("    "):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            found[match.group(1)] = bool(match.group(2)) or following.startswith(" " * 8)
    return found


@pytest.mark.parametrize("args", COMMANDS, ids=IDS)
def test_every_argument_is_described(args: tuple[str, ...]) -> None:
    arguments = described(help_of(*args))
    assert arguments and all(arguments.values()), arguments


@pytest.mark.parametrize("args", [("run",), ("check",)], ids=["run", "check"])
def test_the_plugin_directory_default_is_named(args: tuple[str, ...]) -> None:
    text = " ".join(help_of(*args).split())
    assert "(default: the directories in $HOTBUS_PLUGIN_DIRS, else ./plugins)" in text


@pytest.mark.parametrize("args", [("run",), ("check",)], ids=["run", "check"])
def test_how_the_config_file_is_found_is_said(args: tuple[str, ...]) -> None:
    text = " ".join(help_of(*args).split())
    assert (
        "(default: $HOTBUS_CONFIG_FILE, else the hotbus.toml of the first plugin directory, "
        "else of the working directory, else none)" in text
    )


@pytest.mark.parametrize("args", [("run",), ("check",)], ids=["run", "check"])
def test_the_environment_variables_are_listed(args: tuple[str, ...]) -> None:
    text = help_of(*args)
    assert [
        v for v in ("HOTBUS_CONFIG_FILE", "HOTBUS_PLUGIN_DIRS", "HOTBUS_<SETTING>") if v not in text
    ] == []


@pytest.mark.parametrize("args", [("run",), ("check",)], ids=["run", "check"])
def test_every_setting_is_named(args: tuple[str, ...]) -> None:
    text = " ".join(help_of(*args).split())
    assert [name for name in Settings.model_fields if name != "plugins" and name not in text] == []


def test_the_settings_named_are_those_of_the_model() -> None:
    assert list(SETTINGS) == [name for name in Settings.model_fields if name != "plugins"]


@pytest.mark.parametrize("args", [("run",), ("check",), ("events",)], ids=IDS[1:])
def test_the_exit_statuses_are_listed(args: tuple[str, ...]) -> None:
    assert "exit status" in help_of(*args)


@pytest.mark.parametrize("args", COMMANDS, ids=IDS)
def test_help_loads_nothing_of_the_runtime(args: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command((*args, "--help"))[1:]],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment(),
        timeout=DEADLINE,
        check=True,
    )
    modules = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    heavy = {"pydantic", "blinker", "watchdog", "asyncio", "hotbus.schemas", "hotbus.bus"}
    assert sorted(modules & heavy) == []


def test_run_takes_its_plugin_directories_from_the_environment(tmp_path: Path) -> None:
    plugins = copy_plugins(tmp_path / "elsewhere")
    done = subprocess.run(
        command(("run", "--no-watch")),
        input="",
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env={**environment(), "HOTBUS_PLUGIN_DIRS": str(plugins)},
        timeout=DEADLINE,
        check=False,
    )
    assert done.stderr.splitlines()[0] == (
        f"hotbus: no plugin directory given, using HOTBUS_PLUGIN_DIRS: {plugins}"
    )
