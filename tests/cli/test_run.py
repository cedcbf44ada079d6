"""``hotbus run``: a console chat host that answers each line, reloads on edits, stops cleanly."""

from __future__ import annotations

import io
import os
import re
import signal
from pathlib import Path

import pytest

from tests.cli.conftest import StartConsole
from tests.cli.console import PLUGINS, ROOT, Result, copy_plugins, hotbus, run_hotbus

ROLL = re.compile(r"dice: 🎲 2d6: \d \+ \d = \d+")
STOPPING = re.compile(r"(\w+) stopping -> unloaded")


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def piped() -> Result:
    """``printf '!roll 2d6\\n' | hotbus run plugins``, in the project root, as a process."""
    return run_hotbus("run", "plugins", "--user", "ann", input="!roll 2d6\n", cwd=ROOT)


@pytest.fixture(scope="module")
def ended() -> Result:
    """``hotbus run`` in-process on the examples whose input ends at once."""
    return hotbus("run", str(PLUGINS), "--no-watch", "--user", "ann", input="")


def test_a_piped_roll_is_answered(piped: Result) -> None:
    assert [bool(ROLL.fullmatch(line)) for line in piped.out_lines] == [True]


def test_a_piped_run_exits_0(piped: Result) -> None:
    assert piped.code == 0


def test_a_roll_is_answered_in_process() -> None:
    result = hotbus("run", str(PLUGINS), "--no-watch", "--user", "ann", input="!roll 2d6\n")
    assert [bool(ROLL.fullmatch(line)) for line in result.out_lines] == [True]


def test_each_line_is_a_message_from_the_user() -> None:
    result = hotbus("run", str(PLUGINS), "--no-watch", "--user", "zoe", input="hi\n")
    assert result.out_lines == [
        "greeter: Hello, zoe! Try !roll 2d6, !8ball will it work?, !quote, !trivia or !help."
    ]


def test_blank_lines_are_not_messages() -> None:
    result = hotbus("run", str(PLUGINS), "--no-watch", input="\n   \n\n")
    assert result.out == ""


def test_end_of_input_exits_0(ended: Result) -> None:
    assert ended.code == 0


def test_end_of_input_stops_the_runtime(ended: Result) -> None:
    assert re.fullmatch(r"⏹ hotbus stopped in \d+\.\d ms", ended.err_lines[-1])


def test_end_of_input_stops_the_users_of_rng_before_rng(ended: Result) -> None:
    stopped = [match.group(1) for line in ended.err_lines if (match := STOPPING.match(line))]
    assert {"dice", "eightball", "trivia"} <= set(stopped[: stopped.index("rng")])


def test_end_of_input_stops_every_plugin(ended: Result) -> None:
    stopped = [match.group(1) for line in ended.err_lines if (match := STOPPING.match(line))]
    assert sorted(stopped) == ["dice", "eightball", "greeter", "quotes", "rng", "trivia"]


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_it_with_exit_0(console: StartConsole, number: signal.Signals) -> None:
    process = console("run", str(PLUGINS), "--no-watch")
    process.err.expect("hotbus started")
    process.signal(number)
    assert process.wait() == 0


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_plugin_before_it_exits(
    console: StartConsole, number: signal.Signals
) -> None:
    process = console("run", str(PLUGINS), "--no-watch")
    process.err.expect("hotbus started")
    process.signal(number)
    process.wait()
    assert re.fullmatch(r"⏹ hotbus stopped in \d+\.\d ms", process.err.rest()[-1])


def test_an_edit_while_it_runs_changes_the_reply(console: StartConsole, tmp_path: Path) -> None:
    plugins = copy_plugins(tmp_path / "plugins")
    process = console("run", str(plugins), "--user", "ann")
    process.err.expect("hotbus started")
    process.send("!roll 2d6")
    process.out.expect("dice: 🎲 2d6:")
    dice = plugins / "dice.py"
    temp = plugins / ".dice.py.tmp"
    temp.write_text(dice.read_text(encoding="utf-8").replace("🎲", "🎯"), encoding="utf-8")
    os.replace(temp, dice)
    process.err.expect(lambda line: "dice" in line and "patched" in line)  # a body-only edit
    process.send("!roll 2d6")
    assert re.fullmatch(r"dice: 🎯 2d6: \d \+ \d = \d+", process.out.expect("dice:"))


def test_stderr_has_no_colours_when_it_is_not_a_terminal() -> None:
    result = hotbus("run", str(PLUGINS), "--no-watch", "-v", input="!roll 2d6\n")
    assert "\033[" not in result.err


def test_stderr_has_colours_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    err = Terminal()
    hotbus("run", str(PLUGINS), "--no-watch", "-v", input="!roll 2d6\n", stderr=err)
    assert "\033[2m" in err.getvalue()


def test_no_color_switches_colours_off_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    err = Terminal()
    hotbus("run", str(PLUGINS), "--no-watch", "-v", input="!roll 2d6\n", stderr=err)
    assert "\033[" not in err.getvalue()
