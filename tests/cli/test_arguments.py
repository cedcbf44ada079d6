"""``hotbus`` arguments: version, help, commands, usage errors, plugin directories, config."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.cli.console import PLUGINS, copy_plugins, hotbus, run_hotbus


def test_version_prints_the_version_of_the_distribution() -> None:
    assert hotbus("--version").out_lines == [f"hotbus {version('hotbus')}"]


def test_version_exits_0() -> None:
    assert hotbus("--version").code == 0


def test_help_lists_the_commands() -> None:
    lines = hotbus("--help").out_lines
    commands = [match.group(1) for line in lines if (match := re.match(r" {4}(\w+) ", line))]
    assert commands == ["run", "check", "events", "fleet"]


def test_help_exits_0() -> None:
    assert hotbus("--help").code == 0


def test_no_command_asks_to_choose_one() -> None:
    assert hotbus().err_lines == ["hotbus: error: choose a command: run, check, events or fleet"]


def test_no_command_exits_2() -> None:
    assert hotbus().code == 2


def test_fleet_without_a_command_asks_to_choose_one() -> None:
    result = hotbus("fleet")
    assert (result.code, result.err_lines) == (
        2,
        ["hotbus: error: choose a fleet command: status or reload"],
    )


def test_fleet_without_a_server_asks_for_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTBUS_NATS_URL", raising=False)
    result = hotbus("fleet", "status")
    assert (result.code, result.err_lines) == (
        2,
        ["hotbus: error: give the NATS server: --nats nats://HOST:PORT"],
    )


def test_an_unknown_option_is_a_usage_error_on_stderr() -> None:
    assert hotbus("run", "--frobnicate").err_lines == [
        "hotbus: error: unrecognized arguments: --frobnicate",
        "usage: hotbus [-h] [--version] COMMAND ...",
    ]


def test_an_unknown_option_exits_2() -> None:
    assert hotbus("run", "--frobnicate").code == 2


def test_a_debounce_that_is_not_a_number_is_a_usage_error_on_stderr() -> None:
    lines = hotbus("run", str(PLUGINS), "--debounce", "abc").err_lines
    assert lines[:2] == [
        "hotbus: error: argument --debounce: invalid float value: 'abc'",
        "usage: hotbus run [-h] [--config FILE] [--debounce MS] [--no-watch]",
    ]


def test_a_debounce_that_is_not_a_number_exits_2() -> None:
    assert hotbus("run", str(PLUGINS), "--debounce", "abc").code == 2


def test_a_usage_error_writes_nothing_to_stdout() -> None:
    assert hotbus("run", "--frobnicate").out == ""


def test_a_missing_plugin_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert hotbus("run", str(missing)).err_lines == [
        f"hotbus: error: plugin directory '{missing}' does not exist: create it, or name an "
        "existing directory"
    ]


def test_a_missing_plugin_directory_exits_2(tmp_path: Path) -> None:
    assert hotbus("run", str(tmp_path / "nowhere")).code == 2


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    assert hotbus("run", str(PLUGINS), "--config", str(missing)).err_lines == [
        f"hotbus: error: config file '{missing}' does not exist: create it, or leave --config out"
    ]


def test_a_missing_config_file_exits_2(tmp_path: Path) -> None:
    assert hotbus("run", str(PLUGINS), "--config", str(tmp_path / "nowhere.toml")).code == 2


def test_without_a_directory_run_says_it_uses_plugins_in_the_working_directory(
    tmp_path: Path,
) -> None:
    copy_plugins(tmp_path / "plugins")
    result = run_hotbus("run", "--no-watch", input="", cwd=tmp_path)
    assert result.err_lines[0] == "hotbus: no plugin directory given, using ./plugins"


def test_without_a_directory_run_uses_plugins_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_plugins(tmp_path / "plugins")
    (tmp_path / "plugins" / "dice.py").write_text(
        (PLUGINS / "dice.py").read_text(encoding="utf-8").replace("🎲", "🎯"), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    result = hotbus("run", "--no-watch", "--user", "ann", input="!roll d6\n")
    assert re.fullmatch(r"dice: 🎯 d6: [1-6]\n", result.out)


def test_without_a_directory_and_without_plugins_here_run_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert hotbus("run", "--no-watch").code == 2


def test_an_unknown_setting_in_the_config_file_names_the_file_and_the_setting(
    tmp_path: Path,
) -> None:
    config = tmp_path / "hotbus.toml"
    config.write_text("bogus = 1\n", encoding="utf-8")
    (line,) = hotbus("run", str(PLUGINS), "--config", str(config)).err_lines
    assert line.startswith(f"hotbus: error: {config}: unknown setting bogus: ")


def test_an_invalid_config_file_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "hotbus.toml"
    config.write_text("bogus = 1\n", encoding="utf-8")
    assert hotbus("run", str(PLUGINS), "--config", str(config)).code == 2


def test_a_negative_debounce_names_the_setting_and_the_value() -> None:
    assert hotbus("run", str(PLUGINS), "--debounce", "-5").err_lines == [
        "hotbus: error: invalid settings: debounce_ms (from arguments): Input should be greater "
        "than 0, got -5.0"
    ]


def test_a_negative_debounce_exits_2() -> None:
    assert hotbus("run", str(PLUGINS), "--debounce", "-5").code == 2


def test_an_events_file_that_cannot_be_created_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "events.jsonl"
    assert hotbus("run", str(PLUGINS), "--no-watch", "--events-jsonl", str(target)).code == 2


def test_an_events_file_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "events.jsonl"
    result = hotbus("run", str(PLUGINS), "--no-watch", "--events-jsonl", str(target))
    assert re.match(rf"hotbus: error: .*{re.escape(str(target))}", result.err)
