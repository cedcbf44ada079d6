"""The hotbus runtime: plugins, their lifecycle, and the ``hotbus`` command.

Plugin authors use `Plugin`, `State`, `subscribe` and `Context`; hosts use `Runtime`.
"""

from runtime._chat import ChatMessage, ChatReply
from runtime._cli import cli, main
from runtime._context import Context, Disposer
from runtime._editor import SAVE_STYLES, PluginDir, SaveStyle
from runtime._graph import dependents_closure, find_cycles, topological_order
from runtime._harness import Harness
from runtime._lifecycle import TRANSITIONS, check_transition
from runtime._loader import ENTRY_POINT_GROUP, NAMESPACE, PluginSource, discover
from runtime._logging import EventLogger
from runtime._paths import is_ignored
from runtime._plugin import Plugin, State, subscribe
from runtime._runtime import Runtime
from runtime._settings import ENV_PREFIX, load_settings, validate_plugin_config

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
