"""Subscribing: by topic, pattern or class; delivery order; cancelling; ownership; blinker."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest
from hotbus.bus import RUNTIME, Bus
from hotbus.schemas import (
    BusError,
    Event,
    PluginDiscovered,
    PluginState,
    PluginStateChanged,
    RuntimeStopping,
    SourceKind,
    TopicError,
)


class Ping(Event):
    topic = "test.subscribe.ping"

    n: int = 0


class Pong(Event):
    topic = "test.subscribe.pong"


def _discovered() -> PluginDiscovered:
    return PluginDiscovered(plugin="dice", kind=SourceKind.MODULE)


def _state() -> PluginStateChanged:
    return PluginStateChanged(plugin="dice", previous=None, state=PluginState.LOADING)


def _ignore(event: Event) -> None:
    """A handler that does nothing."""


class Listener:
    """An object whose bound method is subscribed."""

    def __init__(self, received: list[Event]) -> None:
        self.received = received

    def on_ping(self, event: Event) -> None:
        self.received.append(event)


# -- what a subscription receives --------------------------------------------------------------


async def test_exact_topic_subscription_receives_events_of_that_topic(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe("test.subscribe.ping", received.append)
    ping = Ping()
    await bus.publish(ping)
    assert received == [ping]


async def test_exact_topic_subscription_ignores_other_topics(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe("test.subscribe.ping", received.append)
    await bus.publish(Pong())
    assert received == []


async def test_star_pattern_receives_topics_one_token_below(bus: Bus) -> None:
    received: list[str] = []
    bus.subscribe("hotbus.plugin.*", lambda event: received.append(event.topic))
    for event in (_discovered(), RuntimeStopping(), _state(), Ping()):
        await bus.publish(event)
    assert received == ["hotbus.plugin.discovered", "hotbus.plugin.state"]


async def test_greater_than_pattern_receives_every_topic_below_its_prefix(bus: Bus) -> None:
    received: list[str] = []
    bus.subscribe("hotbus.>", lambda event: received.append(event.topic))
    for event in (_discovered(), Ping(), RuntimeStopping()):
        await bus.publish(event)
    assert received == ["hotbus.plugin.discovered", "hotbus.runtime.stopping"]


async def test_lone_greater_than_receives_every_topic(bus: Bus) -> None:
    received: list[str] = []
    bus.subscribe(">", lambda event: received.append(event.topic))
    for event in (_discovered(), Ping(), RuntimeStopping()):
        await bus.publish(event)
    assert received == [
        "hotbus.plugin.discovered",
        "test.subscribe.ping",
        "hotbus.runtime.stopping",
    ]


async def test_event_class_subscription_receives_that_class_topic(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(Ping, received.append)
    ping = Ping()
    await bus.publish(Pong())
    await bus.publish(ping)
    assert received == [ping]


def test_event_class_subscription_subscribes_to_its_topic(bus: Bus) -> None:
    assert bus.subscribe(Ping, _ignore).pattern == "test.subscribe.ping"


async def test_async_handler_is_awaited(bus: Bus) -> None:
    received: list[Event] = []

    async def handler(event: Event) -> None:
        received.append(event)

    bus.subscribe(Ping, handler)
    ping = Ping()
    await bus.publish(ping)
    assert received == [ping]


async def test_callable_object_with_async_call_is_awaited(bus: Bus) -> None:
    received: list[Event] = []

    class AsyncCallable:
        async def __call__(self, event: Event) -> None:
            received.append(event)

    bus.subscribe(Ping, AsyncCallable())
    ping = Ping()
    await bus.publish(ping)
    assert received == [ping]


async def test_on_decorator_subscribes_the_function(bus: Bus) -> None:
    received: list[Event] = []

    @bus.on(Ping)
    def handler(event: Event) -> None:
        received.append(event)

    ping = Ping()
    await bus.publish(ping)
    assert received == [ping]


def test_on_decorator_returns_the_function_unchanged(bus: Bus) -> None:
    assert bus.on(Ping)(_ignore) is _ignore


# -- what subscribe refuses --------------------------------------------------------------------


def test_invalid_pattern_is_rejected_with_topic_error_naming_owner(bus: Bus) -> None:
    with pytest.raises(TopicError, match=r"^dice: invalid topic 'hotbus\.>\.state'") as caught:
        bus.subscribe("hotbus.>.state", _ignore, owner="dice")
    assert (caught.value.topic, caught.value.owner) == ("hotbus.>.state", "dice")


def test_non_callable_handler_is_rejected(bus: Bus) -> None:
    not_a_handler: Any = "print"
    with pytest.raises(BusError, match=r"cannot subscribe 'print' to .*must be callable"):
        bus.subscribe(Ping, not_a_handler)
    assert bus.subscriptions() == []


def test_timeout_on_a_sync_handler_is_rejected(bus: Bus) -> None:
    with pytest.raises(BusError, match=r"timeout=1\.0 given for sync handler .*_ignore"):
        bus.subscribe(Ping, _ignore, timeout=1.0)
    assert bus.subscriptions() == []


@pytest.mark.parametrize("timeout", [0, -1.5])
def test_non_positive_timeout_is_rejected(bus: Bus, timeout: float) -> None:
    async def handler(event: Event) -> None:
        pass

    with pytest.raises(BusError, match="timeout must be positive seconds or None"):
        bus.subscribe(Ping, handler, timeout=timeout)
    assert bus.subscriptions() == []


# -- order -------------------------------------------------------------------------------------


def _recording(calls: list[str], name: str) -> Callable[[Event], None]:
    def handler(event: Event) -> None:
        calls.append(name)

    return handler


def _recording_async(calls: list[str], name: str) -> Callable[[Event], Any]:
    async def handler(event: Event) -> None:
        calls.append(name)

    return handler


async def test_higher_priority_runs_first(bus: Bus) -> None:
    calls: list[str] = []
    bus.subscribe(Ping, _recording(calls, "low"), priority=-1)
    bus.subscribe(Ping, _recording(calls, "normal"))
    bus.subscribe(Ping, _recording(calls, "high"), priority=10)
    await bus.publish(Ping())
    assert calls == ["high", "normal", "low"]


async def test_equal_priorities_run_in_subscription_order(bus: Bus) -> None:
    calls: list[str] = []
    for name in ["first", "second", "third", "fourth"]:
        bus.subscribe(Ping, _recording(calls, name))
    await bus.publish(Ping())
    assert calls == ["first", "second", "third", "fourth"]


def _subscribe_mixed(bus: Bus, calls: list[str]) -> None:
    bus.subscribe(">", _recording(calls, "everything-sync"))
    bus.subscribe("hotbus.plugin.*", _recording_async(calls, "star-async"), priority=5)
    bus.subscribe(PluginStateChanged, _recording(calls, "class-sync"), priority=5)
    bus.subscribe("hotbus.>", _recording_async(calls, "rest-async"))
    bus.subscribe("hotbus.plugin.state", _recording_async(calls, "exact-async"), priority=-1)
    bus.subscribe("hotbus.plugin.state", _recording(calls, "exact-sync"))


async def test_order_mixes_exact_wildcard_sync_and_async_subscriptions(bus: Bus) -> None:
    calls: list[str] = []
    _subscribe_mixed(bus, calls)
    await bus.publish(_state())
    assert calls == [
        "star-async",
        "class-sync",
        "everything-sync",
        "rest-async",
        "exact-sync",
        "exact-async",
    ]


async def test_order_is_the_same_on_every_publish(bus: Bus) -> None:
    calls: list[str] = []
    _subscribe_mixed(bus, calls)
    await bus.publish(_state())
    first = list(calls)
    calls.clear()
    await bus.publish(_state())
    assert calls == first


# -- cancelling --------------------------------------------------------------------------------


def test_cancel_returns_true_then_false(bus: Bus) -> None:
    sub = bus.subscribe(Ping, _ignore)
    assert (sub.cancel(), sub.cancel()) == (True, False)


async def test_cancelled_handler_receives_nothing(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(Ping, received.append).cancel()
    await bus.publish(Ping())
    assert received == []


async def test_handler_cancelled_during_dispatch_misses_the_event_in_flight(bus: Bus) -> None:
    received: list[Event] = []
    later = bus.subscribe(Ping, received.append)
    bus.subscribe(Ping, lambda event: later.cancel(), priority=1)
    await bus.publish(Ping())
    assert received == []


async def test_handler_subscribed_during_dispatch_starts_with_the_next_event(bus: Bus) -> None:
    received: list[Event] = []

    def subscribe_latecomer(event: Event) -> None:
        bus.subscribe(Ping, received.append)
        starter.cancel()

    starter = bus.subscribe(Ping, subscribe_latecomer)
    first, second = Ping(n=1), Ping(n=2)
    await bus.publish(first)
    await bus.publish(second)
    assert received == [second]


def test_unsubscribe_owner_returns_how_many_subscriptions_it_ended(bus: Bus) -> None:
    bus.subscribe(Ping, _ignore, owner="dice")
    bus.subscribe("hotbus.>", _ignore, owner="dice")
    bus.subscribe(Ping, _ignore, owner="greeter")
    assert bus.unsubscribe_owner("dice") == 2


def test_unsubscribe_owner_of_an_unknown_owner_returns_zero(bus: Bus) -> None:
    assert bus.unsubscribe_owner("nobody") == 0


async def test_handlers_of_an_unsubscribed_owner_receive_nothing(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(Ping, received.append, owner="dice")
    bus.subscribe(">", received.append, owner="dice")
    bus.unsubscribe_owner("dice")
    await bus.publish(Ping())
    assert received == []


def test_unsubscribe_owner_leaves_other_owners_subscribed(bus: Bus) -> None:
    bus.subscribe(Ping, _ignore, owner="dice")
    kept = bus.subscribe(Ping, _ignore, owner="greeter")
    bus.unsubscribe_owner("dice")
    assert bus.subscriptions() == [kept]


def test_subscriptions_lists_active_subscriptions_in_subscription_order(bus: Bus) -> None:
    first = bus.subscribe(">", _ignore, owner="dice")
    second = bus.subscribe(Ping, _ignore, owner="greeter", priority=9)
    bus.subscribe(Pong, _ignore).cancel()
    third = bus.subscribe(Ping, _ignore, owner="dice")
    assert bus.subscriptions() == [first, second, third]


def test_subscriptions_of_an_owner(bus: Bus) -> None:
    first = bus.subscribe(">", _ignore, owner="dice")
    bus.subscribe(Ping, _ignore, owner="greeter")
    second = bus.subscribe(Pong, _ignore, owner="dice")
    assert bus.subscriptions("dice") == [first, second]


def test_owners_lists_every_owner_with_a_subscription(bus: Bus) -> None:
    bus.subscribe(Ping, _ignore, owner="greeter")
    bus.subscribe(Ping, _ignore)
    bus.subscribe(Pong, _ignore, owner="dice")
    bus.subscribe(Pong, _ignore, owner="stats").cancel()
    assert bus.owners() == [RUNTIME, "dice", "greeter"]


def test_subscription_owner_defaults_to_the_runtime(bus: Bus) -> None:
    assert bus.subscribe(Ping, _ignore).owner == RUNTIME


# -- blinker -----------------------------------------------------------------------------------


def test_namespace_has_a_signal_per_subscribed_pattern(bus: Bus) -> None:
    bus.subscribe(Ping, _ignore)
    bus.subscribe("test.subscribe.ping", _ignore)
    bus.subscribe("hotbus.>", _ignore)
    assert sorted(bus.namespace) == ["hotbus.>", "test.subscribe.ping"]


def test_signal_receiver_is_the_subscription(bus: Bus) -> None:
    sub = bus.subscribe("hotbus.plugin.*", _ignore)
    assert list(bus.namespace["hotbus.plugin.*"].receivers.values()) == [sub]


def test_raw_blinker_send_reaches_the_handler(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(Ping, received.append)
    ping = Ping()
    bus.namespace[Ping.topic].send(ping)
    assert received == [ping]


def test_signal_stays_while_a_subscription_of_its_pattern_remains(bus: Bus) -> None:
    first = bus.subscribe("hotbus.>", _ignore)
    bus.subscribe("hotbus.>", _ignore)
    first.cancel()
    assert "hotbus.>" in bus.namespace


def test_signal_disappears_when_its_last_subscription_is_cancelled(bus: Bus) -> None:
    first = bus.subscribe("hotbus.>", _ignore)
    second = bus.subscribe("hotbus.>", _ignore)
    first.cancel()
    second.cancel()
    assert "hotbus.>" not in bus.namespace


async def test_bound_method_stays_subscribed_when_nothing_else_holds_its_object(
    bus: Bus,
) -> None:
    received: list[Event] = []
    listener = Listener(received)
    bus.subscribe(Ping, listener.on_ping)
    del listener
    gc.collect()
    ping = Ping()
    await bus.publish(ping)
    assert received == [ping]


# -- has_subscribers ---------------------------------------------------------------------------


def test_has_subscribers_is_false_without_subscriptions(bus: Bus) -> None:
    assert not bus.has_subscribers(Ping.topic)


def test_has_subscribers_turns_true_after_subscribe(bus: Bus) -> None:
    bus.has_subscribers(Ping.topic)  # caches "nobody"
    bus.subscribe(Ping, _ignore)
    assert bus.has_subscribers(Ping.topic)


def test_has_subscribers_turns_false_after_cancel(bus: Bus) -> None:
    sub = bus.subscribe(Ping, _ignore)
    bus.has_subscribers(Ping.topic)  # caches "somebody"
    sub.cancel()
    assert not bus.has_subscribers(Ping.topic)


def test_has_subscribers_sees_a_wildcard_added_after_the_topic_was_cached(bus: Bus) -> None:
    bus.subscribe(Pong, _ignore)
    bus.has_subscribers(Ping.topic)  # caches "nobody"
    bus.subscribe("test.*.ping", _ignore)
    assert bus.has_subscribers(Ping.topic)


def test_has_subscribers_ignores_patterns_that_do_not_match(bus: Bus) -> None:
    bus.subscribe("hotbus.>", _ignore)
    bus.subscribe("test.subscribe.*.deeper", _ignore)
    assert not bus.has_subscribers(Ping.topic)


# -- reprs -------------------------------------------------------------------------------------


def test_subscription_repr_shows_pattern_handler_owner_and_state(bus: Bus) -> None:
    sub = bus.subscribe("hotbus.>", _ignore, owner="dice", priority=3)
    sub.cancel()
    assert repr(sub) == (
        f"<hotbus Subscription 'hotbus.>' -> {__name__}._ignore owner='dice' priority=3 cancelled>"
    )


def test_bus_repr_counts_subscriptions_and_owners(strict_bus: Bus) -> None:
    strict_bus.subscribe(Ping, _ignore, owner="dice")
    strict_bus.subscribe(Pong, _ignore, owner="dice")
    strict_bus.subscribe(Pong, _ignore)
    assert repr(strict_bus) == "<hotbus Bus strict subscriptions=3 owners=2>"


async def test_async_handler_cancelled_by_an_async_handler_misses_the_event_in_flight(
    bus: Bus,
) -> None:
    received: list[Event] = []

    async def record(event: Event) -> None:
        received.append(event)

    async def cancel_later(event: Event) -> None:
        later.cancel()

    later = bus.subscribe(Ping, record)
    bus.subscribe(Ping, cancel_later, priority=1)
    await bus.publish(Ping())
    assert received == []
