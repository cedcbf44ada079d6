"""Small builders shared by the runtime tests: plugin sources and views of recorded events."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable

from hotbus import Runtime
from hotbus.bus import Recorder
from hotbus.schemas import PluginFailed, PluginState, PluginStateChanged

__all__ = ["MakeRuntime", "failures", "plugin_source", "transitions"]

#: The ``make_runtime`` fixture: builds a `Runtime` on ``plugin_dir``; keywords are settings.
MakeRuntime = Callable[..., Runtime]
Transition = tuple[PluginState | None, PluginState]


def plugin_source(
    name: str,
    *,
    version: str = "1.0.0",
    requires: Iterable[str] = (),
    body: str = "",
    header: str = "",
) -> str:
    """The source of a plugin ``name`` whose setup and teardown write to the journal.

    ``body`` (indented as a class body or not at all) is added to the class; ``header`` goes
    after the imports.
    """
    class_name = "".join(part.title() for part in name.split("_"))
    members = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    return (
        "from hotbus.runtime import Plugin, subscribe\n"
        "from tests.runtime import events\n"
        f"{textwrap.dedent(header)}\n\n"
        f"class {class_name}(Plugin):\n"
        f"    name = {name!r}\n"
        f"    version = {version!r}\n"
        f"    requires = {tuple(requires)!r}\n\n"
        "    async def setup(self) -> None:\n"
        f"        events.note('setup {name}')\n\n"
        "    async def teardown(self) -> None:\n"
        f"        events.note('teardown {name}')\n\n"
        f"{members}\n"
    )


def transitions(recorder: Recorder, plugin: str) -> list[Transition]:
    """The ``(previous, state)`` pairs recorded for ``plugin``, in order."""
    return [
        (event.previous, event.state)
        for event in recorder.of(PluginStateChanged)
        if event.plugin == plugin
    ]


def failures(recorder: Recorder, plugin: str) -> list[PluginFailed]:
    """The `PluginFailed` events recorded for ``plugin``, in order."""
    return [event for event in recorder.of(PluginFailed) if event.plugin == plugin]
