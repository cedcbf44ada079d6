"""The plugin author's API: `Plugin`, its `State`, and the `subscribe` marker.

A plugin is a class deriving from `Plugin`, in a module or package of a plugin directory::

    from pydantic import BaseModel
    from hotbus import Plugin, subscribe


    class DiceConfig(BaseModel):
        max_dice: int = 10


    class Dice(Plugin):
        name = "dice"
        version = "1.2.0"
        requires = ("rng>=1.0.0",)
        config_model = DiceConfig
        config: DiceConfig

        async def setup(self) -> None:
            self.ctx.logger.info("ready for up to %d dice", self.config.max_dice)

        @subscribe("chat.message")
        async def on_message(self, event: ChatMessage) -> None: ...

Importing a plugin module has no side effects: `subscribe` only records metadata, and the runtime
subscribes the handlers on the plugin's behalf once its `setup` has succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Final, NamedTuple, TypeVar

from hotbus.bus import TopicLike
from hotbus.schemas import Event, validate_pattern
from pydantic import BaseModel

if TYPE_CHECKING:
    from hotbus.runtime._plugins.context import Context

__all__ = ["MARKER", "Plugin", "State", "SubscriptionMarker", "subscribe", "subscribe_markers"]

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute under which `subscribe` records its markers on a function.
MARKER: Final = "__hotbus_subscriptions__"


class SubscriptionMarker(NamedTuple):
    """What `subscribe` recorded: the runtime subscribes the method with these arguments."""

    pattern: str
    priority: int
    timeout: float | None


def subscribe(
    topic: TopicLike, *, priority: int = 0, timeout: float | None = None
) -> Callable[[F], F]:
    """Mark a plugin method as a handler of ``topic`` (a topic, pattern or event class).

    Only records metadata: the runtime subscribes the bound method when the plugin starts and
    unsubscribes it when the plugin stops, whatever the plugin's own teardown does.
    """
    if isinstance(topic, type) and issubclass(topic, Event):
        pattern = topic.topic
    else:
        pattern = validate_pattern(topic, owner="@subscribe")

    def mark(func: F) -> F:
        markers: list[SubscriptionMarker] = func.__dict__.setdefault(MARKER, [])
        markers.append(SubscriptionMarker(pattern, priority, timeout))
        return func

    return mark


class State(BaseModel):
    """Base of a plugin's hand-off state: what survives a reload.

    Bump ``schema_version`` when the fields change incompatibly; the new plugin version then
    gets the old data through `Plugin.migrate_state`.
    """

    schema_version: ClassVar[int] = 1


class Plugin:
    """Base class of every plugin.

    Declare, as class attributes: ``name`` (a lowercase identifier), ``version`` (semantic
    version), ``requires`` (plugin names, optionally ``"name>=1.2.0"``), ``config_model`` (a
    pydantic model validated from the plugin's ``[plugins.<name>]`` config section) and
    ``state_model`` (a `State` subclass, for hand-off across reloads), and ``hot_patch``
    (False: every save reloads it in full, even one that changes only function bodies).

    The runtime creates the instance with its `Context` (``self.ctx``) and the validated config
    (``self.config``; annotate it with your model's type).
    """

    name: ClassVar[str]
    version: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    config_model: ClassVar[type[BaseModel] | None] = None
    state_model: ClassVar[type[State] | None] = None
    #: Whether a save that changes only function bodies patches the running instance in place
    #: (its attributes, tasks and connections kept); False reloads it in full on every save.
    hot_patch: ClassVar[bool] = True

    config: Any

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.config = ctx.config

    async def setup(self) -> None:
        """Start: open connections, load data. Runs before any handler is subscribed."""

    async def teardown(self) -> None:
        """Stop. The runtime cancels tasks, runs disposers and unsubscribes handlers anyway."""

    async def export_state(self) -> State | None:
        """Return the state to hand to the next version (called before `teardown`)."""
        return None

    async def import_state(self, state: State) -> None:
        """Take over the state exported by the previous version (called after `setup`)."""

    def migrate_state(self, data: dict[str, Any], from_version: int) -> State | None:
        """Turn state of an older ``schema_version`` into this version's `state_model`.

        Return None (the default) to start fresh instead; the runtime says so in an event.
        """
        return None

    def __repr__(self) -> str:
        return f"<plugin {getattr(self, 'name', '?')} {getattr(self, 'version', '?')}>"


def subscribe_markers(instance: Plugin, ctx: Context) -> None:
    """Subscribe, through ``ctx``, every method of ``instance`` marked with `subscribe`."""
    seen: set[str] = set()
    for klass in type(instance).__mro__:
        if klass is Plugin or klass is object:
            continue  # they define no handlers
        for attr, value in vars(klass).items():
            if attr in seen:
                continue
            seen.add(attr)
            for marker in getattr(value, MARKER, None) or ():
                ctx.subscribe(
                    marker.pattern,
                    getattr(instance, attr),
                    priority=marker.priority,
                    timeout=marker.timeout,
                )
