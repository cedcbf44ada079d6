"""Plugin sources and waits shared by the containment tests.

Every plugin written here answers `events.Ask` with the VALUE baked into its source and notes
its teardown in the journal, so a test sees which code serves and which teardowns ran. A
hostile part (module code, a hook's body, a handler of `events.Poke`) is spliced in where the
test says, and the test finds its line with `line_of`.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hotbus import Runtime
from hotbus.bus import Recorder
from hotbus.schemas import Event, PluginFailed, PluginState, PluginStateChanged

from tests.containment.events import Answer, Ask

__all__ = [
    "LIMITS",
    "STUBBORN",
    "TIMEOUT",
    "ask",
    "failures",
    "line_of",
    "plugin_source",
    "raising",
    "transitions",
    "wait_until",
]

#: The longest any wait of these tests lasts: each ends as soon as what it waits for happens.
TIMEOUT = 10.0
#: Small limits, so that hostile plugins cost the suite little time.
LIMITS = {
    "import_timeout_s": 0.4,
    "setup_timeout_s": 0.4,
    "teardown_timeout_s": 0.4,
    "quiesce_timeout_s": 0.3,
    "stall_threshold_ms": 100.0,
    "stall_limit_s": 0.4,
}

E = TypeVar("E", bound=Event)

#: Hook code that swallows every cancellation and never ends (until the test is over).
STUBBORN = """
while not events.RELEASE:  # HERE
    try:
        await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        pass
"""

#: ``raise <what>`` for each BaseException a plugin may raise, by the name of its type.
RAISES = {
    "KeyboardInterrupt": "raise KeyboardInterrupt",
    "SystemExit": "raise SystemExit(3)",
    "GeneratorExit": "raise GeneratorExit",
    "CancelledError": "raise asyncio.CancelledError",
}


def raising(kind: str) -> str:
    """The statement raising a ``kind`` (a name of `RAISES`), marked for `line_of`."""
    return f"{RAISES[kind]}  # HERE"


def plugin_source(
    name: str,
    value: int = 1,
    *,
    module: str = "",
    setup: str = "",
    teardown: str = "",
    export: str = "",
    poke: str = "",
    sync_poke: bool = False,
) -> str:
    """A plugin ``name`` serving ``value``, with hostile code where given.

    ``module`` runs at module level (after the imports), ``setup``, ``teardown`` and
    ``export`` open those hooks, ``poke`` is the body of its `events.Poke` handler (sync with
    ``sync_poke``). Mark the hostile line ``# HERE`` to find it with `line_of`.
    """
    class_name = "".join(part.title() for part in name.split("_"))

    def block(code: str, indent: int) -> str:
        code = textwrap.dedent(code).strip("\n")
        return textwrap.indent(code, " " * indent) + "\n" if code else ""

    handler_def = "def" if sync_poke else "async def"
    return (
        "import asyncio\n"
        "import threading\n"
        "import time\n"
        "\n"
        "from hotbus import Plugin, State, subscribe\n"
        "from tests.containment import events\n"
        "\n"
        f"{block(module, 0)}"
        "\n\n"
        "class Kept(State):\n"
        "    value: int = 0\n"
        "\n\n"
        f"class {class_name}(Plugin):\n"
        f"    name = {name!r}\n"
        f"    version = '1.0.{value}'\n"
        "    state_model = Kept\n"
        "\n"
        "    async def setup(self) -> None:\n"
        f"{block(setup, 8)}"
        "        pass\n"
        "\n"
        "    async def teardown(self) -> None:\n"
        f"        events.note('teardown {name}')\n"
        f"{block(teardown, 8)}"
        "\n"
        "    async def export_state(self) -> Kept:\n"
        f"{block(export, 8)}"
        f"        return Kept(value={value})\n"
        "\n"
        "    @subscribe('ct.ask')\n"
        "    def on_ask(self, event: events.Ask) -> None:\n"
        "        if event.plugin == self.name:\n"
        f"            self.ctx.publish_nowait(events.Answer(plugin=self.name, value={value}))\n"
        "\n"
        "    @subscribe('ct.poke')\n"
        f"    {handler_def} on_poke(self, event: events.Poke) -> None:\n"
        "        if event.plugin != self.name:\n"
        "            return\n"
        f"{block(poke, 8)}"
    )


def line_of(source: str, mark: str = "# HERE") -> int:
    """The 1-based line of ``source`` that carries ``mark``."""
    return next(n for n, line in enumerate(source.splitlines(), 1) if mark in line)


async def ask(runtime: Runtime, plugin: str, timeout: float = TIMEOUT) -> int:
    """Ask ``plugin`` for its value and wait for the answer; returns the value."""
    with runtime.bus.record(Answer) as recorded:
        await runtime.bus.publish(Ask(plugin=plugin))
        answer = await recorded.wait_for(Answer, lambda a: a.plugin == plugin, timeout=timeout)
    return answer.value


async def wait_until(check: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``check`` on the loop until it holds (for what no event announces)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


def transitions(recorder: Recorder, plugin: str) -> list[tuple[PluginState | None, PluginState]]:
    """The ``(previous, state)`` pairs recorded for ``plugin``, in order."""
    return [
        (event.previous, event.state)
        for event in recorder.of(PluginStateChanged)
        if event.plugin == plugin
    ]


def failures(recorder: Recorder, plugin: str) -> list[PluginFailed]:
    """The `PluginFailed` events recorded for ``plugin``, in order."""
    return [event for event in recorder.of(PluginFailed) if event.plugin == plugin]


def file_of(failure: PluginFailed) -> Path | None:
    """The file a failure names."""
    return failure.error.file
