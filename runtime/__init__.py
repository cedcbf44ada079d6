"""The hotbus runtime: plugins, their lifecycle, loading, settings and the reload pipeline.

Plugin authors and hosts need only the ``hotbus`` facade (`Plugin`, `State`, `subscribe`,
`Context`, `Runtime`, ...); this package adds the parts a host may want to reach directly.

Names are imported when first used, so that reaching one private module of the runtime (the
``hotbus`` command's argument parser, say) does not load all of it.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotbus.runtime._chat.host import ChatHost
    from hotbus.runtime._chat.irc import IrcAddress, IrcSecrets, IrcTransport
    from hotbus.runtime._chat.transport import Transport
    from hotbus.runtime._config.settings import ENV_PREFIX, load_settings, validate_plugin_config
    from hotbus.runtime._console.transport import ConsoleTransport
    from hotbus.runtime._dashboard.server import Dashboard
    from hotbus.runtime._engine.graph import dependents_closure, find_cycles, topological_order
    from hotbus.runtime._engine.lifecycle import TRANSITIONS, check_transition
    from hotbus.runtime._eventlog import EventLogger
    from hotbus.runtime._loading.loader import ENTRY_POINT_GROUP, NAMESPACE, PluginSource, discover
    from hotbus.runtime._loading.paths import is_ignored
    from hotbus.runtime._plugins.chat import ChatJoined, ChatMessage, ChatParted, ChatReply
    from hotbus.runtime._plugins.context import Context, Disposer
    from hotbus.runtime._plugins.plugin import Plugin, State, subscribe
    from hotbus.runtime._runtime import Runtime

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_PREFIX",
    "NAMESPACE",
    "TRANSITIONS",
    "ChatHost",
    "ChatJoined",
    "ChatMessage",
    "ChatParted",
    "ChatReply",
    "ConsoleTransport",
    "Context",
    "Dashboard",
    "Disposer",
    "EventLogger",
    "IrcAddress",
    "IrcSecrets",
    "IrcTransport",
    "Plugin",
    "PluginSource",
    "Runtime",
    "State",
    "Transport",
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

#: Where each name lives.
_HOMES = {
    "ChatHost": "hotbus.runtime._chat.host",
    "ConsoleTransport": "hotbus.runtime._console.transport",
    "IrcAddress": "hotbus.runtime._chat.irc",
    "IrcSecrets": "hotbus.runtime._chat.irc",
    "IrcTransport": "hotbus.runtime._chat.irc",
    "Transport": "hotbus.runtime._chat.transport",
    "ChatJoined": "hotbus.runtime._plugins.chat",
    "ChatMessage": "hotbus.runtime._plugins.chat",
    "ChatParted": "hotbus.runtime._plugins.chat",
    "ChatReply": "hotbus.runtime._plugins.chat",
    "Context": "hotbus.runtime._plugins.context",
    "Dashboard": "hotbus.runtime._dashboard.server",
    "Disposer": "hotbus.runtime._plugins.context",
    "ENTRY_POINT_GROUP": "hotbus.runtime._loading.loader",
    "ENV_PREFIX": "hotbus.runtime._config.settings",
    "EventLogger": "hotbus.runtime._eventlog",
    "NAMESPACE": "hotbus.runtime._loading.loader",
    "Plugin": "hotbus.runtime._plugins.plugin",
    "PluginSource": "hotbus.runtime._loading.loader",
    "Runtime": "hotbus.runtime._runtime",
    "State": "hotbus.runtime._plugins.plugin",
    "TRANSITIONS": "hotbus.runtime._engine.lifecycle",
    "check_transition": "hotbus.runtime._engine.lifecycle",
    "dependents_closure": "hotbus.runtime._engine.graph",
    "discover": "hotbus.runtime._loading.loader",
    "find_cycles": "hotbus.runtime._engine.graph",
    "is_ignored": "hotbus.runtime._loading.paths",
    "load_settings": "hotbus.runtime._config.settings",
    "subscribe": "hotbus.runtime._plugins.plugin",
    "topological_order": "hotbus.runtime._engine.graph",
    "validate_plugin_config": "hotbus.runtime._config.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hotbus.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
