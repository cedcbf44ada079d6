"""The `Event` base model every event derives from, and the topic registry behind it."""

from __future__ import annotations

import itertools
import os
import socket
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, Self
from uuid import UUID, SafeUUID

from hotbus.schemas._errors import TopicConflictError, TopicError, UnknownTopicError
from hotbus.schemas._topic import validate_topic
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "REMOTE_PREFIX",
    "RESERVED_PREFIX",
    "Event",
    "TopicRegistry",
    "current_source",
    "is_remote",
    "registry",
    "use_source",
]

#: Topics under this prefix belong to hotbus's own vocabulary (the ``schemas`` package).
RESERVED_PREFIX = "hotbus."

#: The ``source`` of an event that another host of a fleet published: ``fleet:<host>``.
REMOTE_PREFIX = "fleet:"

_PROCESS_SOURCE = f"{socket.gethostname()}:{os.getpid()}"
_source: ContextVar[str] = ContextVar("hotbus_source", default=_PROCESS_SOURCE)
#: `current_source` without a Python frame: the default factory of ``Event.source``.
_source_now: Callable[[], str] = _source.get


def current_source() -> str:
    """The ``source`` stamped on events created now: the runtime's id, else ``host:pid``."""
    return _source.get()


def is_remote(event: Event) -> bool:
    """Whether ``event`` came from another host of a fleet (its source is ``fleet:<host>``).

    The runtime's own machinery (the reload pipeline, the console's lines) acts only on events
    of its own host; subscribers of a plugin see both.
    """
    return event.source.startswith(REMOTE_PREFIX)


class use_source:
    """Stamp events created inside the block (and in tasks started from it) with ``source``.

    >>> with use_source("bot-1"):
    ...     pass
    """

    __slots__ = ("_source", "_token")

    def __init__(self, source: str) -> None:
        self._source = source
        self._token: Any = None

    def __enter__(self) -> str:
        self._token = _source.set(self._source)
        return self._source

    def __exit__(self, *exc_info: object) -> None:
        _source.reset(self._token)


#: When an event was created: ``datetime.now(UTC)``, called from pydantic-core without a
#: Python frame in between.
_now: Callable[[], datetime] = partial(datetime.now, UTC)

# An event id is a version-4 UUID: a random prefix drawn once per process (and again in a forked
# child) above a counter. Ids are unique within a process by construction and across processes
# by the prefix's 58 random bits; they identify, they protect nothing. That saves a system call
# (`uuid.uuid4` reads ``os.urandom`` for every id) and the random draw per event.
_COUNTER_BITS = 62  # the low bits, right below the two variant bits
_FIXED = (0xF000 << 64) | (0xC000 << 48) | ((1 << _COUNTER_BITS) - 1)
_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def _random_prefix() -> int:
    return (int.from_bytes(os.urandom(16)) & ~_FIXED) | _VERSION_4


def _event_ids() -> Callable[[], UUID]:
    """The factory of event ids, and a fork handler that draws the child a prefix of its own."""
    prefix = _random_prefix()
    count = itertools.count().__next__

    def reseed() -> None:
        nonlocal prefix
        prefix = _random_prefix()

    os.register_at_fork(after_in_child=reseed)

    def new_event_id(
        _new: Any = object.__new__,
        _uuid: type[UUID] = UUID,
        _set_int: Any = UUID.__dict__["int"].__set__,
        _set_safe: Any = UUID.__dict__["is_safe"].__set__,
        _unknown: SafeUUID = SafeUUID.unknown,
    ) -> UUID:
        # Built without `UUID.__init__` and its argument checks.
        event_id: UUID = _new(_uuid)
        _set_int(event_id, prefix | count())
        _set_safe(event_id, _unknown)
        return event_id

    return new_event_id


_new_event_id = _event_ids()


class Event(BaseModel):
    """A fact published on the bus. Frozen, strict about extra fields, routed by ``topic``.

    Subclass it and give the class a ``topic`` (a NATS subject without wildcards) to define an
    event; the class is then registered so that JSON for that topic can be parsed back::

        class ChatMessage(Event):
            topic = "chat.message"
            user: str
            text: str

    Route by topic, never by class identity: a plugin that defines an event class gets a new
    class object every time it is reloaded.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    topic: ClassVar[str]

    event_id: UUID = Field(default_factory=_new_event_id, description="Unique id of this event.")
    timestamp: AwareDatetime = Field(
        default_factory=_now, description="When the event was created (aware, UTC)."
    )
    source: str = Field(
        default_factory=_source_now,
        description="Which runtime instance or process published the event.",
    )

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "topic" not in cls.__dict__:
            return  # an abstract intermediate base, or a subclass reusing its parent's topic
        owner = f"{cls.__module__}.{cls.__qualname__}"
        topic = validate_topic(cls.__dict__["topic"], owner=owner)
        own = cls.__module__ == "hotbus.schemas" or cls.__module__.startswith("hotbus.schemas.")
        if topic.startswith(RESERVED_PREFIX) and not own:
            raise TopicError(
                topic,
                f"topics under {RESERVED_PREFIX!r} are reserved for hotbus's own events; "
                "pick a prefix of your own such as 'myhost.' or your plugin's name",
                owner=owner,
            )
        registry.register(cls)

    @classmethod
    def parse(cls, data: str | bytes) -> Self:
        """Validate JSON (as produced by ``model_dump_json``) into this event class."""
        return cls.model_validate_json(data)


class TopicRegistry:
    """Maps each topic to the event class that defines it.

    Classes are held weakly: when a plugin is unloaded and its module collected, its event classes
    leave the registry by themselves, so the registry never keeps an old plugin version alive.
    Two differently named classes of one module may not share a topic. Defining a class again
    (a reloaded plugin, which runs under a fresh module name, or a module executed again) replaces
    the earlier registration: the newest definition is the one that parses.
    """

    __slots__ = ("_classes",)

    def __init__(self) -> None:
        self._classes: weakref.WeakValueDictionary[str, type[Event]] = weakref.WeakValueDictionary()

    def register(self, cls: type[Event]) -> None:
        """Register ``cls`` under its topic (called for you when an event class is defined)."""
        topic = cls.topic
        existing = self._classes.get(topic)
        if (
            existing is not None
            and existing is not cls
            and existing.__module__ == cls.__module__
            and existing.__qualname__ != cls.__qualname__
        ):
            raise TopicConflictError(
                topic,
                f"{existing.__module__}.{existing.__qualname__}",
                f"{cls.__module__}.{cls.__qualname__}",
            )
        self._classes[topic] = cls

    def get(self, topic: str) -> type[Event]:
        """The class registered for ``topic``; raises `UnknownTopicError` if there is none."""
        try:
            return self._classes[topic]
        except KeyError:
            raise UnknownTopicError(topic, sorted(self._classes)) from None

    def parse(self, topic: str, data: str | bytes) -> Event:
        """Validate JSON for ``topic`` into an instance of the registered class."""
        return self.get(topic).model_validate_json(data)

    def topics(self) -> list[str]:
        """Every registered topic, sorted."""
        return sorted(self._classes)

    def __contains__(self, topic: object) -> bool:
        return topic in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self.topics())

    def __len__(self) -> int:
        return len(self._classes)

    def json_schema(self, prefix: str = "") -> dict[str, Any]:
        """JSON Schema of every registered event whose topic starts with ``prefix``.

        Returns an object ``{"topics": {topic: schema}}``; each schema carries its topic under
        ``"x-topic"`` so that tools in other languages can route and validate.
        """
        schemas: dict[str, Any] = {}
        for topic, cls in sorted(self._classes.items()):  # a snapshot: classes may be collected
            if not topic.startswith(prefix):
                continue
            schema = cls.model_json_schema()
            schema["x-topic"] = topic
            schemas[topic] = schema
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "hotbus events",
            "topics": schemas,
        }


#: The process-wide registry every `Event` subclass registers into.
registry = TopicRegistry()
