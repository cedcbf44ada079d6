"""The hotbus runtime: plugins, their lifecycle, loading, settings and the reload pipeline.

Plugin authors and hosts need only the ``hotbus`` facade (`Plugin`, `State`, `subscribe`,
`Context`, `Runtime`, ...); this package adds the parts a host may want to reach directly.
"""

from hotbus.runtime._config.settings import ENV_PREFIX, load_settings, validate_plugin_config
from hotbus.runtime._engine.graph import dependents_closure, find_cycles, topological_order
from hotbus.runtime._engine.lifecycle import TRANSITIONS, check_transition
from hotbus.runtime._eventlog import EventLogger
from hotbus.runtime._loading.loader import ENTRY_POINT_GROUP, NAMESPACE, PluginSource, discover
from hotbus.runtime._loading.paths import is_ignored
from hotbus.runtime._plugins.chat import ChatMessage, ChatReply
from hotbus.runtime._plugins.context import Context, Disposer
from hotbus.runtime._plugins.plugin import Plugin, State, subscribe
from hotbus.runtime._runtime import Runtime

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_PREFIX",
    "NAMESPACE",
    "TRANSITIONS",
    "ChatMessage",
    "ChatReply",
    "Context",
    "Disposer",
    "EventLogger",
    "Plugin",
    "PluginSource",
    "Runtime",
    "State",
    "check_transition",
    "dependents_closure",
    "discover",
    "find_cycles",
    "is_ignored",
    "load_settings",
    "subscribe",
    "topological_order",
    "validate_plugin_config",
]
