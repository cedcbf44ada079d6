"""``hotbus run`` with hostile plugins, as a real process: the console answers every line,
and Ctrl+C, SIGTERM or the end of the input ends it in bounded time whatever plugins do; a
second Ctrl+C ends it at once."""

from __future__ import annotations

import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.console import Console

#: How long stopping may take with every hostile plugin below at its worst (their limits are
#: tenths of seconds: this bound is what separates "bounded" from "hangs").
STOP_BOUND = 8.0

ECHO = """
from hotbus import ChatMessage, ChatReply, Plugin, subscribe


class Echo(Plugin):
    name = "echo"
    version = "1.0.0"

    async def teardown(self) -> None:
        self.ctx.logger.info("teardown echo ran")

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        if message.text.startswith("!echo "):
            reply = ChatReply(plugin=self.name, text=message.text[6:], in_reply_to=message.event_id)
            await self.ctx.publish(reply)
"""

#: Each hostile plugin does its worst when told (``!<name>``), or at import, setup, teardown.
HOSTILE = {
    "spin.py": """
        from hotbus import Plugin

        while True:  # a runaway import
            pass


        class Spin(Plugin):
            name = "spin"
            version = "1.0.0"
    """,
    "hang.py": """
        import asyncio

        from hotbus import ChatMessage, Plugin, subscribe


        class Hang(Plugin):
            name = "hang"
            version = "1.0.0"

            @subscribe(ChatMessage)
            async def on_message(self, message: ChatMessage) -> None:
                if message.text == "!hang":
                    await asyncio.Event().wait()  # never returns
    """,
    "block.py": """
        from hotbus import ChatMessage, Plugin, subscribe


        class Block(Plugin):
            name = "block"
            version = "1.0.0"

            @subscribe(ChatMessage)
            def on_message(self, message: ChatMessage) -> None:
                if message.text == "!block":
                    while True:  # holds the event loop
                        pass
    """,
    "raiser.py": """
        import asyncio

        from hotbus import ChatMessage, Plugin, subscribe


        class Raiser(Plugin):
            name = "raiser"
            version = "1.0.0"

            @subscribe(ChatMessage)
            async def on_message(self, message: ChatMessage) -> None:
                if message.text == "!interrupt":
                    raise KeyboardInterrupt
                if message.text == "!exit":
                    raise SystemExit(1)
                if message.text == "!cancel":
                    raise asyncio.CancelledError
    """,
    "kbd.py": """
        from hotbus import Plugin


        class Kbd(Plugin):
            name = "kbd"
            version = "1.0.0"

            async def setup(self) -> None:
                raise KeyboardInterrupt
    """,
    "stubborn.py": """
        import asyncio

        from hotbus import Plugin


        class Stubborn(Plugin):
            name = "stubborn"
            version = "1.0.0"

            async def teardown(self) -> None:
                while True:  # swallows every cancellation
                    try:
                        await asyncio.sleep(10)
                    except asyncio.CancelledError:
                        pass
    """,
    "worker.py": """
        import threading
        import time

        from hotbus import Plugin


        class Worker(Plugin):
            name = "worker"
            version = "1.0.0"

            async def setup(self) -> None:  # a thread nobody stops, not a daemon
                threading.Thread(target=time.sleep, args=(3600,), name="plugin-worker").start()
    """,
}

#: A teardown that holds the event loop in a call no interruption reaches.
SLEEPY = """
    import time

    from hotbus import Plugin


    class Sleepy(Plugin):
        name = "sleepy"
        version = "1.0.0"

        async def teardown(self) -> None:
            time.sleep(30)
"""

LIMITS = """
import_timeout_s = 0.4
setup_timeout_s = 0.4
teardown_timeout_s = 0.4
quiesce_timeout_s = 0.3
stall_threshold_ms = 100
stall_limit_s = 0.4
stop_timeout_s = {stop}
"""

StartConsole = Callable[..., Console]


def _write(directory: Path, files: dict[str, str], stop_timeout_s: float) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (directory / name).write_text(textwrap.dedent(source), encoding="utf-8")
    (directory / "hotbus.toml").write_text(LIMITS.format(stop=stop_timeout_s), encoding="utf-8")
    return directory


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Console]]:
    """Start ``hotbus run`` on a plugin directory holding ``files`` (each process is killed,
    if still running, when the test ends)."""
    started: list[Console] = []

    def run(files: dict[str, str], *, stop_timeout_s: float = 10.0) -> Console:
        plugins = _write(tmp_path / "plugins", {"echo.py": ECHO, **files}, stop_timeout_s)
        process = Console("run", str(plugins), "--no-watch", "--user", "ann", cwd=tmp_path)
        started.append(process)
        process.err.expect("hotbus started")
        return process

    yield run
    for process in started:
        process.close()


def _line(source: str, text: str) -> int:
    """The line of the plugin file written from ``source`` that holds ``text``."""
    lines = textwrap.dedent(source).splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def _stopped_within(process: Console, bound: float) -> tuple[int, float]:
    begin = time.monotonic()
    code = process.wait(bound)
    return code, time.monotonic() - begin


def test_every_line_is_answered_whatever_the_other_plugins_do(
    start: StartConsole,
) -> None:
    process = start(HOSTILE)
    for line in ("!hang", "!interrupt", "!exit", "!cancel", "!block", "!echo still here"):
        process.send(line)
    assert process.out.expect("echo:") == "echo: still here"
    where = f"block.py:{_line(HOSTILE['block.py'], 'while True')}"
    process.err.expect(lambda line: "interrupting" in line and where in line)
    process.send("!echo 1")
    process.send("!echo 2")
    process.send("!echo 3")
    assert [process.out.expect("echo:") for _ in range(3)] == ["echo: 1", "echo: 2", "echo: 3"]
    process.close_input()
    code, _ = _stopped_within(process, STOP_BOUND)
    assert code == 0
    err = "\n".join(process.err.rest())
    spin = _line(HOSTILE["spin.py"], "while True")
    assert "spin failed at import: hotbus.schemas.PluginInterrupted" in err
    assert f"(spin.py:{spin})" in err or f"(spin.py:{spin + 1})" in err
    assert "kbd failed at setup: KeyboardInterrupt" in err


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "end of input"])
def test_it_stops_in_bounded_time_whatever_plugins_do(start: StartConsole, how: str) -> None:
    process = start(HOSTILE)
    process.send("!hang")
    process.send("!echo ready")
    process.out.expect("echo: ready")
    if how == "end of input":
        process.close_input()
    else:
        process.signal(signal.Signals[how])
    code, took = _stopped_within(process, STOP_BOUND)
    err = process.err.rest()
    assert code == 0
    assert took < STOP_BOUND
    text = "\n".join(err)
    assert "teardown echo ran" in text  # the other plugins were torn down
    assert "stubborn failed at teardown" in text
    assert "abandoned" in text
    assert any(line.startswith("⏹ hotbus stopped") for line in err)
    assert err[-1] == "hotbus: not waiting for threads left running: plugin-worker"


def test_a_second_ctrl_c_exits_at_once(start: StartConsole) -> None:
    process = start({"sleepy.py": SLEEPY})
    process.signal(signal.SIGINT)
    process.err.expect("hotbus stopping")
    process.signal(signal.SIGINT)
    code, took = _stopped_within(process, 5.0)
    assert (code, took < 1.0) == (130, True)
    assert process.err.rest()[-1] == "hotbus: second SIGINT: exiting at once"


@pytest.mark.parametrize(("how", "status"), [("SIGTERM", 143), ("end of input", 1)])
def test_past_stop_timeout_it_exits_naming_what_held_it_up(
    start: StartConsole, how: str, status: int
) -> None:
    process = start({"sleepy.py": SLEEPY}, stop_timeout_s=1.5)
    if how == "end of input":
        process.close_input()
    else:
        process.signal(signal.SIGTERM)
    code, took = _stopped_within(process, 5.0)
    assert code == status
    assert 1.4 < took < 4.0
    last = process.err.rest()[-1]
    assert "still stopping after 1.5 s" in last
    assert "held by sleepy (teardown at" in last
    assert f"sleepy.py:{_line(SLEEPY, 'time.sleep(30)')})" in last
