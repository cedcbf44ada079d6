"""The hotbus runtime: plugins, their lifecycle, and the ``hotbus`` command.

Plugin authors use `Plugin`, `State`, `subscribe` and `Context`; hosts use `Runtime`.
"""

from hotbus.runtime._config.settings import ENV_PREFIX, load_settings, validate_plugin_config
from hotbus.runtime._console.cli import cli, main
from hotbus.runtime._console.eventlog import EventLogger
from hotbus.runtime._engine.graph import dependents_closure, find_cycles, topological_order
from hotbus.runtime._engine.lifecycle import TRANSITIONS, check_transition
from hotbus.runtime._loading.loader import ENTRY_POINT_GROUP, NAMESPACE, PluginSource, discover
from hotbus.runtime._loading.paths import is_ignored
from hotbus.runtime._plugins.chat import ChatMessage, ChatReply
from hotbus.runtime._plugins.context import Context, Disposer
from hotbus.runtime._plugins.plugin import Plugin, State, subscribe
from hotbus.runtime._runtime import Runtime
from hotbus.runtime._testing.harness import Harness
from hotbus.runtime._testing.plugin_dir import SAVE_STYLES, PluginDir, SaveStyle

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_PREFIX",
    "NAMESPACE",
    "SAVE_STYLES",
    "TRANSITIONS",
    "ChatMessage",
    "ChatReply",
    "Context",
    "Disposer",
    "EventLogger",
    "Harness",
    "Plugin",
    "PluginDir",
    "PluginSource",
    "Runtime",
    "SaveStyle",
    "State",
    "check_transition",
    "cli",
    "dependents_closure",
    "discover",
    "find_cycles",
    "is_ignored",
    "load_settings",
    "main",
    "subscribe",
    "topological_order",
    "validate_plugin_config",
]
