"""Hot patch: a save that changes only function bodies updates the running instance in place.

Every test saves real files under a real watcher. Plugin ``p`` answers `Ask` with a value that
each of its functions computes (``Ask(plugin=<which>)`` picks the function): a body-only edit
of one of them is patched (`ReloadPatched`), the instance, its undeclared attributes and its
task are kept, no hook runs, and the next call runs the new code. Every other kind of change
takes the full transaction, which says why (`VersionChange.not_patched`).
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

import pytest
from hotbus import Runtime
from hotbus.schemas import (
    PluginLeaked,
    ReloadCommitted,
    ReloadPatched,
    ReloadPlanned,
    ReloadRejected,
)
from hotbus.testing import SAVE_STYLES, Harness, PluginDir, SaveStyle

from tests.reload import events
from tests.reload.events import Answer, Ask
from tests.reload.helpers import TIMEOUT, status_of

HELPER = """\
def value() -> int:
    return 10  # HELPER
"""

SOURCE = """\
import asyncio
import weakref

from hotbus.runtime import Plugin, subscribe
from tests.reload import events

from . import helper


def scale(x: int) -> int:
    return x * 1  # SCALE


def maker():
    def inner(x: int) -> int:
        return x + 60  # NESTED

    return inner


class P(Plugin):
    name = "p"
    version = "1.0.0"

    async def setup(self) -> None:
        events.CALLS.append("setup")
        events.KEPT.append(weakref.ref(self))
        self.cache = {"opened": True}
        self.count = 0
        self.ctx.start_task(self.background())

    async def teardown(self) -> None:
        events.CALLS.append("teardown")

    def step(self) -> int:
        return 70  # STEP

    async def background(self) -> None:
        last = None
        while True:
            value = self.step()
            if value != last:
                await self.ctx.publish(events.Answer(plugin="task", value=value))
                last = value
            await asyncio.sleep(0.002)

    @staticmethod
    def static_value() -> int:
        return 20  # STATIC

    @classmethod
    def class_value(cls) -> int:
        return 30  # CLASS

    async def numbers(self):
        yield 40  # AGEN

    @subscribe("test.ask")
    async def on_ask(self, event: events.Ask) -> None:
        which = event.plugin
        if which == "handler":
            value = 1  # HANDLER
        elif which == "helper":
            value = helper.value()
        elif which == "scale":
            value = scale(5)
        elif which == "static":
            value = self.static_value()
        elif which == "class":
            value = self.class_value()
        elif which == "nested":
            value = maker()(0)
        elif which == "agen":
            value = [v async for v in self.numbers()][-1]
        elif which == "slow":
            await self.ctx.publish(events.Busy())
            await events.GATES["slow"].wait()
            value = 50  # SLOW
        else:
            return
        self.count += 1
        await self.ctx.publish(events.Answer(plugin=which, value=value, count=self.count))
"""


def edited(marker: str, old: str, new: str, source: str = SOURCE) -> str:
    """``source`` with the line marked ``# marker`` changed from ``old`` to ``new``."""
    line = f"{old}  # {marker}"
    assert line in source, line
    return source.replace(line, f"{new}  # {marker}")


async def ask(runtime: Runtime, which: str) -> Answer:
    """Ask ``p`` for the value of function ``which``; its one answer."""
    with runtime.bus.record(Answer) as recorded:
        await runtime.bus.publish(Ask(plugin=which))
        return await recorded.wait_for(Answer, lambda a: a.plugin == which, timeout=TIMEOUT)


async def start(plugin_dir: PluginDir, hotbus: Harness, **settings: object) -> Runtime:
    plugin_dir.write("helper.py", HELPER)
    plugin_dir.write("p.py", SOURCE)
    runtime = await hotbus.start(**settings)
    await hotbus.wait_for(Answer, lambda a: a.plugin == "task" and a.value == 70, timeout=TIMEOUT)
    return runtime


# -- what is patched --------------------------------------------------------------------------


class Edit(NamedTuple):
    """A body-only edit of one function: where, what changes, and what ``which`` answers."""

    file: str
    marker: str
    old: str
    new: str
    which: str
    function: str
    before: int
    after: int


EDITS = {
    "handler": Edit("p.py", "HANDLER", "value = 1", "value = 2", "handler", "P.on_ask", 1, 2),
    "helper": Edit(
        "helper.py", "HELPER", "return 10", "return 11", "helper", "helper.value", 10, 11
    ),
    "function": Edit("p.py", "SCALE", "return x * 1", "return x * 3", "scale", "scale", 5, 15),
    "staticmethod": Edit(
        "p.py", "STATIC", "return 20", "return 21", "static", "P.static_value", 20, 21
    ),
    "classmethod": Edit(
        "p.py", "CLASS", "return 30", "return 31", "class", "P.class_value", 30, 31
    ),
    "nested": Edit("p.py", "NESTED", "return x + 60", "return x + 61", "nested", "maker", 60, 61),
    "async_gen": Edit("p.py", "AGEN", "yield 40", "yield 41", "agen", "P.numbers", 40, 41),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
async def test_a_body_only_edit_is_patched_and_the_next_call_runs_the_new_code(
    plugin_dir: PluginDir, hotbus: Harness, edit: Edit
) -> None:
    runtime = await start(plugin_dir, hotbus)
    assert (await ask(runtime, edit.which)).value == edit.before
    source = SOURCE if edit.file == "p.py" else HELPER
    await plugin_dir.save(edit.file, edited(edit.marker, edit.old, edit.new, source))
    event = await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
    answer = await ask(runtime, edit.which)
    assert (event.plugin, event.functions, event.restored) == ("p", [edit.function], False)
    assert (answer.value, answer.count) == (edit.after, 2)  # the instance's own count goes on


async def test_a_patch_keeps_the_instance_its_attributes_and_runs_no_hook(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await start(plugin_dir, hotbus)
    instance = events.KEPT[0]()
    cache = instance.cache
    await plugin_dir.save("p.py", edited("HANDLER", "value = 1", "value = 2"))
    await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
    assert (await ask(runtime, "handler")).value == 2
    assert events.CALLS == ["setup"]
    assert [ref() for ref in events.KEPT] == [instance]
    assert instance.cache is cache


async def test_a_method_called_by_a_running_task_runs_its_new_code_in_that_task(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await start(plugin_dir, hotbus)
    await plugin_dir.save("p.py", edited("STEP", "return 70", "return 71"))
    event = await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
    await hotbus.wait_for(Answer, lambda a: a.plugin == "task" and a.value == 71, timeout=TIMEOUT)
    assert (event.functions, events.CALLS) == (["P.step"], ["setup"])


async def test_a_patch_is_staged_first_and_reports_versions_and_duration(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await start(plugin_dir, hotbus)
    old = status_of(runtime, "p").version
    await plugin_dir.save("p.py", edited("HANDLER", "value = 1", "value = 2"))
    event = await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
    plan = await hotbus.wait_for(ReloadPlanned, lambda e: e.plan_id == event.plan_id, timeout=0)
    assert plan.triggers == ["p"]
    assert (event.old_version, event.new_version) == (old, status_of(runtime, "p").version)
    assert event.old_version != event.new_version
    assert event.new_version.startswith("1.0.0+")
    assert event.duration_ms > 0


@pytest.mark.parametrize("style", SAVE_STYLES)
async def test_every_save_style_patches_once(
    plugin_dir: PluginDir, hotbus: Harness, style: SaveStyle
) -> None:
    runtime = await start(plugin_dir, hotbus)
    with runtime.bus.record("hotbus.reload.>") as outcomes:
        await plugin_dir.save("p.py", edited("HANDLER", "value = 1", "value = 2"), style)
        await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
        assert (await ask(runtime, "handler")).value == 2
        await runtime.idle()
    topics = [e.topic for e in outcomes.events if e.topic != "hotbus.reload.requested"]
    assert topics == ["hotbus.reload.planned", "hotbus.reload.patched"]


async def test_a_call_in_flight_finishes_on_the_old_code_and_the_next_runs_the_new(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await start(plugin_dir, hotbus)
    events.GATES["slow"] = asyncio.Event()
    with runtime.bus.record(Answer) as answers:
        await runtime.bus.publish(Ask(plugin="slow"))
        await hotbus.wait_for(events.Busy, timeout=TIMEOUT)
        await plugin_dir.save("p.py", edited("SLOW", "value = 50", "value = 51"))
        await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
        events.GATES["slow"].set()
        first = await answers.wait_for(Answer, lambda a: a.plugin == "slow", timeout=TIMEOUT)
    assert first.value == 50
    assert (await ask(runtime, "slow")).value == 51


async def test_a_body_only_edit_of_a_dependency_does_not_restart_its_dependents(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write(
        "q.py",
        """\
        from hotbus.runtime import Plugin
        from tests.reload import events


        class Q(Plugin):
            name = "q"
            version = "1.0.0"
            requires = ("p",)

            async def setup(self) -> None:
                events.CALLS.append("q setup")
        """,
    )
    runtime = await start(plugin_dir, hotbus)
    await plugin_dir.save("p.py", edited("HANDLER", "value = 1", "value = 2"))
    event = await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
    await runtime.idle()
    assert event.dependents == ["q"]
    assert sorted(events.CALLS) == ["q setup", "setup"]


async def test_a_comment_only_edit_is_a_patch_of_no_function_that_keeps_line_numbers_right(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await start(plugin_dir, hotbus)
    await plugin_dir.save("p.py", SOURCE.replace("import asyncio\n", "import asyncio\n\n# a\n", 1))
    event = await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
    assert (event.functions, event.relocated > 0) == ([], True)
    instance = events.KEPT[0]()
    step_line = SOURCE.replace("import asyncio\n", "import asyncio\n\n# a\n", 1).splitlines()
    assert (
        instance.step.__code__.co_firstlineno == step_line.index("    def step(self) -> int:") + 1
    )
    assert (await ask(runtime, "handler")).value == 1


async def test_a_patched_version_is_not_reported_as_a_leak(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await start(plugin_dir, hotbus, leak_check=True)
    with runtime.bus.record(PluginLeaked) as leaks:
        for value in (2, 3, 4):
            await plugin_dir.save("p.py", edited("HANDLER", "value = 1", f"value = {value}"))
            await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
            assert (await ask(runtime, "handler")).value == value
        await runtime.idle()
    assert leaks.events == []


# -- what is not patched ----------------------------------------------------------------------

STRUCTURAL = [
    (
        "a new method",
        edited("STEP", "return 70", "return 70\n\n    def extra(self) -> int:\n        return 1"),
        "function P.extra was added",
    ),
    (
        "a changed signature",
        SOURCE.replace("def step(self) -> int:", "def step(self, n: int = 0) -> int:"),
        "the signature or decorators of P.step changed",
    ),
    (
        "a changed decorator",
        SOURCE.replace('@subscribe("test.ask")', '@subscribe("test.ask", priority=1)'),
        "the signature or decorators of P.on_ask changed",
    ),
    (
        "a changed class attribute",
        SOURCE.replace('version = "1.0.0"\n', 'version = "1.0.0"\n    limit = 3\n'),
        "a statement of class P was added (p.py:24)",
    ),
    (
        "a changed version",
        SOURCE.replace('version = "1.0.0"', 'version = "1.0.1"'),
        "its manifest changed (version '1.0.0' -> '1.0.1')",
    ),
    (
        "a new module constant",
        SOURCE.replace("import weakref\n", "import weakref\n\nLIMIT = 3\n", 1),
        "a module-level statement was added (p.py:4)",
    ),
    (
        "a changed module constant",
        edited("SCALE", "return x * 1", "return x * 1\n\n\nLIMIT = 3"),
        "a module-level statement was added (p.py:14)",
    ),
    (
        "a new use of super()",
        SOURCE.replace(
            'events.CALLS.append("teardown")',
            'events.CALLS.append("teardown")\n        await super().teardown()',
        ),
        "P.teardown now uses other variables of its enclosing scope",
    ),
    (
        "a function that becomes a generator",
        edited("STEP", "return 70", "return 70\n        yield 1"),
        "P.step changed kind",
    ),
]


@pytest.mark.parametrize(("what", "source", "reason"), STRUCTURAL, ids=[s[0] for s in STRUCTURAL])
async def test_a_structural_change_takes_the_full_transaction_and_says_why(
    plugin_dir: PluginDir, hotbus: Harness, what: str, source: str, reason: str
) -> None:
    runtime = await start(plugin_dir, hotbus)
    with runtime.bus.record(ReloadPatched) as patches:
        await plugin_dir.save("p.py", source)
        event = await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    (change,) = event.changes
    assert change.not_patched is not None
    assert reason in change.not_patched
    assert (patches.events, events.CALLS) == ([], ["setup", "teardown", "setup"])


async def test_a_new_helper_import_takes_the_full_transaction(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await start(plugin_dir, hotbus)
    plugin_dir.write("other.py", "X = 1\n")
    source = SOURCE.replace("from . import helper\n", "from . import helper, other\n")
    await plugin_dir.save("p.py", source)
    event = await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    assert event.changes[0].not_patched is not None
    assert "other" in event.changes[0].not_patched
    assert (await ask(runtime, "handler")).value == 1


async def test_a_syntax_error_in_a_body_is_rejected_with_nothing_touched(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await start(plugin_dir, hotbus)
    version = status_of(runtime, "p").version
    await plugin_dir.save("p.py", edited("HANDLER", "value = 1", "value = (1"))
    rejected = await hotbus.wait_for(ReloadRejected, timeout=TIMEOUT)
    assert rejected.error.file is not None and rejected.error.file.name == "p.py"
    assert (await ask(runtime, "handler")).value == 1
    assert (status_of(runtime, "p").version, events.CALLS) == (version, ["setup"])


CONFIGURED = """\
from pydantic import BaseModel

from hotbus.runtime import Plugin, subscribe
from tests.reload import events


class Config(BaseModel):
    base: int = 100


class C(Plugin):
    name = "c"
    version = "1.0.0"
    config_model = Config
    config: Config

    @subscribe("test.ask")
    async def on_ask(self, event: events.Ask) -> None:
        if event.plugin == "c":
            value = self.config.base + 1  # CONFIGURED
            await self.ctx.publish(events.Answer(plugin="c", value=value))
"""


async def test_a_plugin_with_a_config_model_is_patched_keeping_its_config(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("c.py", CONFIGURED)
    runtime = await hotbus.start()
    assert (await ask(runtime, "c")).value == 101
    await plugin_dir.save("c.py", CONFIGURED.replace("base + 1", "base + 2"))
    event = await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
    assert (event.functions, (await ask(runtime, "c")).value) == (["C.on_ask"], 102)


async def test_a_patch_of_a_plugin_serving_on_after_a_broken_save_clears_its_error(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await start(plugin_dir, hotbus)
    await plugin_dir.save("p.py", edited("HANDLER", "value = 1", "value = (1"))
    await hotbus.wait_for(ReloadRejected, timeout=TIMEOUT)
    assert status_of(runtime, "p").error is not None
    await plugin_dir.save("p.py", edited("HANDLER", "value = 1", "value = 3"))
    await hotbus.wait_for(ReloadPatched, timeout=TIMEOUT)
    assert (status_of(runtime, "p").error, (await ask(runtime, "handler")).value) == (None, 3)


@pytest.mark.parametrize("how", ["setting", "class attribute"])
async def test_hot_patch_turned_off_reloads_in_full(
    plugin_dir: PluginDir, hotbus: Harness, how: str
) -> None:
    if how == "setting":
        runtime = await start(plugin_dir, hotbus, hot_patch=False)
        source, expected = edited("HANDLER", "value = 1", "value = 2"), "setting hot_patch"
    else:
        off = SOURCE.replace('version = "1.0.0"\n', 'version = "1.0.0"\n    hot_patch = False\n')
        plugin_dir.write("helper.py", HELPER)
        plugin_dir.write("p.py", off)
        runtime = await hotbus.start()
        source, expected = edited("HANDLER", "value = 1", "value = 2", off), "hot_patch = False"
    await plugin_dir.save("p.py", source)
    event = await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    assert expected in (event.changes[0].not_patched or "")
    assert (await ask(runtime, "handler")).value == 2
