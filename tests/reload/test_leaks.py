"""After a commit the old version is checked for collectability, off the critical path."""

from __future__ import annotations

import gc
import weakref

from hotbus.schemas import PluginLeaked, ReloadCommitted
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import TIMEOUT, committed, plugin_source, status_of

KEEPS_ITSELF = """
async def setup(self) -> None:
    events.KEPT.append(self)  # outlives this version: a leak
"""


async def test_a_committed_reload_reports_no_leak(plugin_dir: PluginDir, hotbus: Harness) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start()
    await plugin_dir.save("p.py", plugin_source(2), "atomic")
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    await runtime.idle()  # the leak check runs in a task started right after the commit
    assert hotbus.events.of(PluginLeaked) == []


async def test_a_committed_reload_leaves_the_old_version_collectable(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start()
    old_class = weakref.ref(type(runtime.plugin("p")))
    await plugin_dir.save("p.py", plugin_source(2), "atomic")
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    await runtime.idle()
    gc.collect()
    assert old_class() is None


async def test_a_plugin_version_kept_alive_after_its_reload_is_reported_as_leaked(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=KEEPS_ITSELF))
    runtime = await hotbus.start()
    old_version = status_of(runtime, "p").version
    await plugin_dir.save("p.py", plugin_source(2, body=KEEPS_ITSELF), "atomic")
    leaked = await hotbus.wait_for(PluginLeaked, timeout=TIMEOUT)
    assert (leaked.plugin, leaked.version) == ("p", old_version)
