"""Every exception hotbus raises, under one root.

Each subclass takes its culprit (a topic, a plugin, a path) as attributes and builds a message that
names it and says what to do about it, so that a log line alone is enough to fix the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "BusError",
    "ConfigError",
    "DependencyError",
    "HandlerTimeoutError",
    "HotbusError",
    "LifecycleError",
    "ManifestError",
    "NoResponderError",
    "PluginError",
    "PluginLoadError",
    "PublishDepthError",
    "RequestError",
    "RequestTimeoutError",
    "ResponderError",
    "SettingsError",
    "TopicConflictError",
    "TopicError",
    "UnknownPluginError",
    "UnknownTopicError",
]


class HotbusError(Exception):
    """Raised by hotbus, as the root of all its errors: ``except HotbusError`` catches them all."""

    __module__ = "hotbus.schemas"


class TopicError(HotbusError, ValueError):
    """Raised when a topic or a subscription pattern is not a valid NATS subject.

    Attributes:
        topic: the offending topic or pattern.
        owner: the event class or subscriber that used it, when known.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, topic: object, reason: str, *, owner: str | None = None) -> None:
        self.topic = topic
        self.owner = owner
        where = f"{owner}: " if owner else ""
        super().__init__(
            f"{where}invalid topic {topic!r}: {reason}. A topic is dot-separated tokens of "
            "letters, digits, '_' and '-' (e.g. 'chat.message'); patterns may use '*' for one "
            "token and a final '>' for the rest."
        )


class TopicConflictError(HotbusError):
    """Raised when one module defines two event classes for the same topic.

    Attributes:
        topic: the topic claimed twice.
        existing: qualified name of the class registered first.
        duplicate: qualified name of the class that tried to register second.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, topic: str, existing: str, duplicate: str, *, reason: str = "") -> None:
        self.topic = topic
        self.existing = existing
        self.duplicate = duplicate
        super().__init__(
            reason
            or f"topic {topic!r} is defined twice in one module, by {existing} and {duplicate}: "
            "give one of them another topic, or delete one of them"
        )


class UnknownTopicError(HotbusError, LookupError):
    """Raised when no event class is registered for a topic.

    Attributes:
        topic: the topic that was looked up.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, topic: str, known: Sequence[str] = ()) -> None:
        self.topic = topic
        close = [t for t in known if t.split(".")[0] == topic.split(".", maxsplit=1)[0]][:5]
        hint = f" (known topics with that prefix: {', '.join(close)})" if close else ""
        super().__init__(
            f"no event class is registered for topic {topic!r}{hint}: import the module that "
            "defines it before parsing its events"
        )


class BusError(HotbusError, RuntimeError):
    """Raised when the bus is used in a way it cannot honour (wrong thread, no loop, ...)."""

    __module__ = "hotbus.schemas"


class PublishDepthError(BusError):
    """Raised inside a handler whose publish would nest deeper than the bus allows.

    Attributes:
        topic: the topic whose publish was refused.
        chain: the topics of the publish chain that led here, outermost first.
        limit: the configured maximum depth.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, topic: str, chain: Sequence[str], limit: int) -> None:
        self.topic = topic
        self.chain = tuple(chain)
        self.limit = limit
        shown = " -> ".join(
            self.chain if len(self.chain) <= 6 else (*self.chain[:3], "...", *self.chain[-3:])
        )
        super().__init__(
            f"publishing {topic!r} would nest {len(self.chain) + 1} publishes deep "
            f"(limit {limit}); chain: {shown}. Two handlers probably publish each other's "
            "topics in a loop: break the loop, or raise Bus(max_depth=...) if the chain is intended"
        )


class HandlerTimeoutError(HotbusError, TimeoutError):
    """Raised (and reported) when an async handler runs past its subscription's timeout.

    Attributes:
        handler: qualified name of the handler.
        topic: the topic being delivered.
        timeout: the limit in seconds.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, handler: str, topic: str, timeout: float) -> None:
        self.handler = handler
        self.topic = topic
        self.timeout = timeout
        super().__init__(
            f"handler {handler} took longer than {timeout:g} s for {topic!r} and was cancelled: "
            "make it faster, move slow work to a background task, or raise its timeout"
        )


class SettingsError(HotbusError, ValueError):
    """Raised when runtime settings (arguments, ``HOTBUS_*`` variables, hotbus.toml) are invalid.

    Attributes:
        path: the settings file involved, when there is one.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class PluginError(HotbusError):
    """Raised when something is wrong with one plugin (the base of the plugin errors).

    Attributes:
        plugin: the plugin's name (or the source name when the name is not known yet).
        path: the file at fault, when known.
        line: the line at fault, when known.
    """

    __module__ = "hotbus.schemas"

    def __init__(
        self,
        plugin: str,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
    ) -> None:
        self.plugin = plugin
        self.path = Path(path) if path is not None else None
        self.line = line
        self.detail = message
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line else f"{self.path}: "
        super().__init__(f"{where}plugin {plugin!r}: {message}")


class PluginLoadError(PluginError):
    """Raised when a plugin's source cannot be compiled or executed."""

    __module__ = "hotbus.schemas"


class ManifestError(PluginError):
    """Raised when a plugin's declaration (name, version, dependencies, hooks) is invalid."""

    __module__ = "hotbus.schemas"


class ConfigError(PluginError):
    """Raised when a plugin's config section does not validate against its config model."""

    __module__ = "hotbus.schemas"


class DependencyError(PluginError):
    """Raised when a plugin's dependencies are missing, failed, too old or form a cycle.

    Attributes:
        missing: names of dependencies that are not available.
        cycle: the dependency cycle, first name repeated at the end, when there is one.
    """

    __module__ = "hotbus.schemas"

    def __init__(
        self,
        plugin: str,
        message: str,
        *,
        missing: Sequence[str] = (),
        cycle: Sequence[str] = (),
        path: Path | str | None = None,
    ) -> None:
        self.missing = tuple(missing)
        self.cycle = tuple(cycle)
        super().__init__(plugin, message, path=path)


class LifecycleError(PluginError):
    """Raised on an illegal lifecycle transition: a bug in the runtime, never a plugin's fault.

    Attributes:
        current: the state the plugin is in.
        target: the state that was asked for.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, plugin: str, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(
            plugin,
            f"illegal lifecycle transition {current} -> {target}; this is a bug in hotbus, "
            "please report it with the events that led here",
        )


class UnknownPluginError(PluginError, LookupError):
    """Raised when a plugin name is not known to the runtime."""

    __module__ = "hotbus.schemas"

    def __init__(self, plugin: str, known: Sequence[str] = ()) -> None:
        listing = ", ".join(sorted(known)) or "none"
        super().__init__(plugin, f"no such plugin is loaded (known plugins: {listing})")


class RequestError(HotbusError):
    """Raised when a request on the bus gets no reply (the base of the request errors).

    Attributes:
        topic: the topic of the request.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, topic: str, message: str) -> None:
        self.topic = topic
        super().__init__(f"request {topic!r}: {message}")


class NoResponderError(RequestError, LookupError):
    """Raised when nothing serves a request's topic, or whatever received it returned no reply.

    Attributes:
        received_by: the owners (plugins) that received the request and returned no event.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, topic: str, received_by: Sequence[str] = ()) -> None:
        self.received_by = tuple(received_by)
        if self.received_by:
            message = (
                f"{', '.join(self.received_by)} received it and returned no event: the "
                "responder's @subscribe handler must return its reply (an Event)"
            )
        else:
            message = (
                "no plugin serves this topic: load (or enable) the plugin that answers it, "
                "with a @subscribe handler of the topic that returns the reply"
            )
        super().__init__(topic, message)


class RequestTimeoutError(RequestError, TimeoutError):
    """Raised when a request's reply does not come within its timeout.

    Attributes:
        timeout: the limit in seconds.
        waiting: the owners (plugins) that had not finished with the request.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, topic: str, timeout: float, waiting: Sequence[str] = ()) -> None:
        self.timeout = timeout
        self.waiting = tuple(waiting)
        who = f" from {', '.join(self.waiting)}" if self.waiting else ""
        super().__init__(
            topic,
            f"no reply{who} within {timeout:g} s: make the responder answer faster (slow "
            "work in a task of its own), or give request() a longer timeout",
        )


class ResponderError(RequestError):
    """Raised when the plugin serving a request failed instead of replying.

    Attributes:
        plugin: the responder (owner) that failed.
        error: its error, as ``"Type: message (file:line)"``.
    """

    __module__ = "hotbus.schemas"

    def __init__(self, topic: str, plugin: str, error: str) -> None:
        self.plugin = plugin
        self.error = error
        super().__init__(
            topic,
            f"{plugin} failed to answer: {error}; fix the responder (its failure is also "
            "published as hotbus.handler.failed)",
        )
