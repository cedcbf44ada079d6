"""hotbus's delivery: the `Bus`, built on one blinker namespace.

Imports only ``schemas``.
"""

from hotbus.bus._bus import DEFAULT_MAX_DEPTH, Bus, TopicLike
from hotbus.bus._recorder import Recorder
from hotbus.bus._subscription import (
    RUNTIME,
    AsyncHandler,
    Handler,
    Subscription,
    SyncHandler,
    describe_handler,
    is_async_handler,
)

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "RUNTIME",
    "AsyncHandler",
    "Bus",
    "Handler",
    "Recorder",
    "Subscription",
    "SyncHandler",
    "TopicLike",
    "describe_handler",
    "is_async_handler",
]
