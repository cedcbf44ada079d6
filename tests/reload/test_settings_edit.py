"""Editing runtime settings in hotbus.toml while running: those that can change live (windows,
limits, timeouts) apply at once; the others are named in one warning, as needing a restart; a
setting given as an argument keeps its value."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hotbus import Runtime
from hotbus.schemas import FileSettled
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import TIMEOUT, plugin_source, write_file


async def edit(hotbus: Harness, runtime: Runtime, config: Path, text: str) -> None:
    """Save ``config`` with ``text``, and wait until the runtime has acted on it."""
    mark = len(hotbus.events)
    write_file(config, text)
    await hotbus.wait_for(
        FileSettled,
        lambda e: e.path == config.resolve() and hotbus.events.events.index(e) >= mark,
        timeout=TIMEOUT,
    )
    await runtime.idle()


@pytest.fixture
async def started(plugin_dir: PluginDir, hotbus: Harness, tmp_path: Path) -> tuple[Runtime, Path]:
    config = tmp_path / "hotbus.toml"
    write_file(config, "debounce_ms = 20\n")
    plugin_dir.write("p.py", plugin_source(1))
    return await hotbus.start(config_file=config), config


async def test_an_edited_debounce_applies_while_running(
    started: tuple[Runtime, Path], hotbus: Harness
) -> None:
    runtime, config = started
    await edit(hotbus, runtime, config, "debounce_ms = 35\nsetup_timeout_s = 3\n")
    assert (runtime.settings.debounce_ms, runtime.settings.setup_timeout_s) == (35, 3)


async def test_an_applied_setting_is_logged(
    started: tuple[Runtime, Path], hotbus: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, config = started
    with caplog.at_level(logging.INFO, logger="hotbus.reload"):
        await edit(hotbus, runtime, config, "debounce_ms = 35\n")
    assert "hotbus.toml: settings applied: debounce_ms = 35.0" in caplog.messages


async def test_a_setting_removed_from_the_file_returns_to_its_default(
    started: tuple[Runtime, Path], hotbus: Harness
) -> None:
    runtime, config = started
    await edit(hotbus, runtime, config, "stop_timeout_s = 7\n")
    await edit(hotbus, runtime, config, "")
    assert runtime.settings.stop_timeout_s == 30


async def test_a_setting_that_needs_a_restart_is_named_in_one_warning(
    started: tuple[Runtime, Path], hotbus: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, config = started
    with caplog.at_level(logging.WARNING, logger="hotbus.reload"):
        await edit(hotbus, runtime, config, "debounce_ms = 20\nleak_check = false\n")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "hotbus.toml: leak_check changed, which takes effect only when hotbus starts: restart "
        "it to apply (it keeps leak_check = True)"
    ]


async def test_a_setting_that_needs_a_restart_keeps_its_value(
    started: tuple[Runtime, Path], hotbus: Harness
) -> None:
    runtime, config = started
    await edit(hotbus, runtime, config, "debounce_ms = 20\nleak_check = false\n")
    assert runtime.settings.leak_check is True


async def test_an_argument_wins_over_an_edit_of_the_file(
    plugin_dir: PluginDir, hotbus: Harness, tmp_path: Path
) -> None:
    config = tmp_path / "hotbus.toml"
    write_file(config, "")
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start(config_file=config, debounce_ms=25)
    await edit(hotbus, runtime, config, "debounce_ms = 60\n")
    assert runtime.settings.debounce_ms == 25


async def test_an_invalid_edit_keeps_the_settings_and_says_why(
    started: tuple[Runtime, Path], hotbus: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, config = started
    with caplog.at_level(logging.ERROR, logger="hotbus.reload"):
        await edit(hotbus, runtime, config, "debounce_ms = -1\n")
    assert (runtime.settings.debounce_ms, len(caplog.records)) == (20, 1)
