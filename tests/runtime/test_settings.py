"""Settings resolve in one place: arguments, then ``HOTBUS_*`` variables, then hotbus.toml, then
defaults."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hotbus.runtime import Runtime, load_settings
from hotbus.schemas import Settings, SettingsError

NO_ENV: dict[str, str] = {}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A hotbus.toml setting ``setup_timeout_s = 2``, with one plugin section."""
    path = tmp_path / "conf" / "hotbus.toml"
    path.parent.mkdir()
    path.write_text("setup_timeout_s = 2\n\n[plugins.dice]\nmax_dice = 3\n", encoding="utf-8")
    return path


def test_defaults_apply_when_nothing_is_set() -> None:
    assert load_settings(env=NO_ENV).setup_timeout_s == 10.0


def test_the_file_overrides_the_defaults(config_file: Path) -> None:
    assert load_settings(config_file, env=NO_ENV).setup_timeout_s == 2.0


def test_the_environment_overrides_the_file(config_file: Path) -> None:
    settings = load_settings(config_file, env={"HOTBUS_SETUP_TIMEOUT_S": "3"})
    assert settings.setup_timeout_s == 3.0


def test_arguments_override_the_environment(config_file: Path) -> None:
    settings = load_settings(config_file, env={"HOTBUS_SETUP_TIMEOUT_S": "3"}, setup_timeout_s=4)
    assert settings.setup_timeout_s == 4.0


def test_an_argument_of_none_leaves_the_setting_to_the_next_layer(config_file: Path) -> None:
    settings = load_settings(config_file, env={"HOTBUS_SETUP_TIMEOUT_S": "3"}, setup_timeout_s=None)
    assert settings.setup_timeout_s == 3.0


def test_an_empty_variable_leaves_the_setting_to_the_file(config_file: Path) -> None:
    settings = load_settings(config_file, env={"HOTBUS_SETUP_TIMEOUT_S": ""})
    assert settings.setup_timeout_s == 2.0


def test_the_runtime_reads_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOTBUS_TEARDOWN_TIMEOUT_S", "0.5")
    assert Runtime([tmp_path]).settings.teardown_timeout_s == 0.5


def test_hotbus_config_file_names_the_file(config_file: Path) -> None:
    settings = load_settings(env={"HOTBUS_CONFIG_FILE": str(config_file)})
    assert (settings.config_file, settings.setup_timeout_s) == (config_file.resolve(), 2.0)


def test_plugin_sections_of_the_file_are_kept_by_plugin_name(config_file: Path) -> None:
    assert load_settings(config_file, env=NO_ENV).plugins == {"dice": {"max_dice": 3}}


def test_plugin_dirs_in_the_environment_are_split_on_the_path_separator(tmp_path: Path) -> None:
    joined = os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])
    settings = load_settings(env={"HOTBUS_PLUGIN_DIRS": joined})
    assert settings.plugin_dirs == (tmp_path / "a", tmp_path / "b")


def test_relative_plugin_dirs_in_the_file_are_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "conf" / "hotbus.toml"
    config.parent.mkdir()
    config.write_text('plugin_dirs = ["plugins", "/opt/bot/plugins"]\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(config, env=NO_ENV)
    assert settings.plugin_dirs == (config.parent.resolve() / "plugins", Path("/opt/bot/plugins"))


def test_unknown_keys_in_the_file_raise_settings_error_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "hotbus.toml"
    config.write_text("setup_timeout = 2\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=re.escape(f"{config}: unknown setting setup_timeout")):
        load_settings(config, env=NO_ENV)


def test_unknown_keys_in_the_file_carry_the_file_as_path(tmp_path: Path) -> None:
    config = tmp_path / "hotbus.toml"
    config.write_text("setup_timeout = 2\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env=NO_ENV)
    assert caught.value.path == config.resolve()


def test_invalid_toml_raises_settings_error_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "hotbus.toml"
    config.write_text("setup_timeout_s = = 2\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=re.escape(f"{config}: not valid TOML")) as caught:
        load_settings(config, env=NO_ENV)
    assert caught.value.path == config.resolve()


def test_a_missing_file_raises_settings_error_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "nowhere.toml"
    with pytest.raises(SettingsError, match=re.escape(f"{config}: config file not found")):
        load_settings(config, env=NO_ENV)


def test_plugin_config_outside_plugin_tables_raises_settings_error(tmp_path: Path) -> None:
    config = tmp_path / "hotbus.toml"
    config.write_text('plugins = "dice"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"\[plugins\.<plugin name>\]"):
        load_settings(config, env=NO_ENV)


def test_an_invalid_environment_value_names_the_variable() -> None:
    with pytest.raises(
        SettingsError,
        match=re.escape("setup_timeout_s (from environment variable HOTBUS_SETUP_TIMEOUT_S)"),
    ) as caught:
        load_settings(env={"HOTBUS_SETUP_TIMEOUT_S": "soon"})
    assert "'soon'" in str(caught.value)


def test_an_invalid_file_value_names_the_file(config_file: Path) -> None:
    config_file.write_text("setup_timeout_s = -1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=re.escape(f"(from {config_file.resolve()})")):
        load_settings(config_file, env=NO_ENV)


def test_an_unknown_argument_raises_settings_error() -> None:
    with pytest.raises(SettingsError, match="unknown setting setup_timeout:"):
        load_settings(env=NO_ENV, setup_timeout=3)


def test_a_runtime_given_settings_validates_its_overrides() -> None:
    with pytest.raises(SettingsError, match=r"debounce_ms \(from arguments\)") as raised:
        Runtime(settings=Settings(), debounce_ms=-5, watch="maybe")
    assert "watch (from arguments)" in str(raised.value)


def test_a_runtime_given_settings_rejects_an_unknown_override() -> None:
    with pytest.raises(SettingsError, match="unknown setting bogus"):
        Runtime(settings=Settings(), bogus=1)


def test_a_runtime_given_settings_and_plugin_dirs_runs_on_those_dirs(tmp_path: Path) -> None:
    runtime = Runtime([tmp_path], settings=Settings(setup_timeout_s=3))
    assert (runtime.settings.plugin_dirs, runtime.settings.setup_timeout_s) == ((tmp_path,), 3.0)


async def test_switching_watching_validates_the_new_windows(tmp_path: Path) -> None:
    runtime = Runtime([tmp_path], entry_points=False, watch=False)
    with pytest.raises(SettingsError, match=r"debounce_ms \(from arguments\)"):
        await runtime.watch(False, debounce_ms=0)
    assert runtime.settings.debounce_ms == 20.0


def test_the_config_file_of_the_first_plugin_dir_is_found(tmp_path: Path) -> None:
    (tmp_path / "hotbus.toml").write_text("setup_timeout_s = 2\n", encoding="utf-8")
    settings = load_settings(env=NO_ENV, plugin_dirs=[tmp_path])
    assert (settings.config_file, settings.setup_timeout_s) == (tmp_path / "hotbus.toml", 2.0)


def test_the_config_file_of_the_working_directory_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "hotbus.toml").write_text("setup_timeout_s = 2\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env=NO_ENV, plugin_dirs=[tmp_path / "plugins"])
    assert settings.config_file == (tmp_path / "hotbus.toml").resolve()


def test_a_runtime_on_a_plugin_dir_uses_its_config_file(tmp_path: Path) -> None:
    (tmp_path / "hotbus.toml").write_text("[plugins.dice]\nmax_dice = 3\n", encoding="utf-8")
    runtime = Runtime([tmp_path], entry_points=False)
    assert runtime.settings.plugins == {"dice": {"max_dice": 3}}
