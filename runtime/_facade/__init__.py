"""hotbus: a Python plugin runtime in which reload is just another event.

This is the API for plugin authors and hosts::

    from hotbus import ChatMessage, ChatReply, Plugin, subscribe

Everything else lives in the subpackages: ``hotbus.schemas`` (every event, enum and error),
``hotbus.bus`` (the bus and its helpers), ``hotbus.runtime`` (the runtime's parts) and
``hotbus.testing`` (test support and the pytest plugin).

Names are imported when first used, so that importing ``hotbus`` alone (as the pytest plugin
does in every test run of a project that has hotbus installed) costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotbus.bus import Bus
    from hotbus.runtime import (
        ChatJoined,
        ChatMessage,
        ChatParted,
        ChatReply,
        Context,
        Dashboard,
        Plugin,
        Runtime,
        State,
        subscribe,
    )
    from hotbus.schemas import Event, HotbusError, Settings

__all__ = [
    "Bus",
    "ChatJoined",
    "ChatMessage",
    "ChatParted",
    "ChatReply",
    "Context",
    "Dashboard",
    "Event",
    "HotbusError",
    "Plugin",
    "Runtime",
    "Settings",
    "State",
    "subscribe",
]

#: Where each name of the API lives.
_HOMES = {
    "Bus": "hotbus.bus",
    "ChatJoined": "hotbus.runtime",
    "ChatMessage": "hotbus.runtime",
    "ChatParted": "hotbus.runtime",
    "ChatReply": "hotbus.runtime",
    "Context": "hotbus.runtime",
    "Dashboard": "hotbus.runtime",
    "Event": "hotbus.schemas",
    "HotbusError": "hotbus.schemas",
    "Plugin": "hotbus.runtime",
    "Runtime": "hotbus.runtime",
    "Settings": "hotbus.schemas",
    "State": "hotbus.runtime",
    "subscribe": "hotbus.runtime",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hotbus' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
