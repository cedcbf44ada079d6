"""hotbus: a Python plugin runtime in which reload is just another event.

This is the API for plugin authors and hosts::

    from hotbus import ChatMessage, ChatReply, Plugin, subscribe

Everything else lives in the subpackages: ``hotbus.schemas`` (every event, enum and error),
``hotbus.bus`` (the bus and its helpers), ``hotbus.runtime`` (the runtime's parts) and
``hotbus.testing`` (test support and the pytest plugin).
"""

from hotbus.bus import Bus
from hotbus.runtime import ChatMessage, ChatReply, Context, Plugin, Runtime, State, subscribe
from hotbus.schemas import Event, HotbusError, Settings

__all__ = [
    "Bus",
    "ChatMessage",
    "ChatReply",
    "Context",
    "Event",
    "HotbusError",
    "Plugin",
    "Runtime",
    "Settings",
    "State",
    "subscribe",
]
