"""blinker is the registry of record: receivers connected with blinker's own API get the events."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import blinker
import pytest
from hotbus.bus import RUNTIME, Bus
from hotbus.schemas import Event, HandlerFailed, TopicError


class Ping(Event):
    topic = "test.signal.ping"

    n: int = 0


class Pong(Event):
    topic = "test.signal.pong"


class ReceiverError(Exception):
    """Raised by a receiver on purpose."""


def _recording(calls: list[str], name: str) -> Callable[[Event], None]:
    def receiver(event: Event) -> None:
        calls.append(name)

    return receiver


def explode(event: Event) -> None:
    raise ReceiverError("the receiver broke")


class Listener:
    """An object whose bound method is connected."""

    def __init__(self, received: list[Event]) -> None:
        self.received = received

    def on_ping(self, event: Event) -> None:
        self.received.append(event)


# -- what a connected receiver gets ------------------------------------------------------------


async def test_receiver_connected_to_a_topic_signal_gets_its_events(bus: Bus) -> None:
    received: list[Event] = []
    bus.signal("test.signal.ping").connect(received.append, weak=False)
    ping = Ping()
    await bus.publish(ping)
    await bus.publish(Pong())
    assert received == [ping]


async def test_receiver_connected_to_a_pattern_signal_gets_matching_events(bus: Bus) -> None:
    received: list[str] = []

    def receiver(event: Event) -> None:
        received.append(event.topic)

    bus.signal("test.*.ping").connect(receiver)
    await bus.publish(Ping())
    await bus.publish(Pong())
    assert received == [Ping.topic]


async def test_receiver_is_called_with_the_event_alone(bus: Bus) -> None:
    calls: list[tuple[Any, ...]] = []

    def receiver(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    bus.signal(Ping).connect(receiver)
    ping = Ping()
    await bus.publish(ping)
    assert calls == [((ping,), {})]


async def test_async_receiver_is_awaited(bus: Bus) -> None:
    received: list[Event] = []

    async def receiver(event: Event) -> None:
        received.append(event)

    bus.signal(Ping).connect(receiver)
    ping = Ping()
    await bus.publish(ping)
    assert received == [ping]


async def test_receivers_and_subscriptions_run_in_subscription_order(bus: Bus) -> None:
    calls: list[str] = []
    first = _recording(calls, "subscribed exact")
    second = _recording(calls, "connected exact")
    third = _recording(calls, "subscribed pattern")
    fourth = _recording(calls, "connected pattern")
    fifth = _recording(calls, "connected everything")
    bus.subscribe(Ping, first)
    bus.signal(Ping).connect(second)
    bus.subscribe("test.signal.*", third)
    bus.signal("test.signal.*").connect(fourth)
    bus.signal(">").connect(fifth)
    await bus.publish(Ping())
    assert calls == [
        "subscribed exact",
        "connected exact",
        "subscribed pattern",
        "connected pattern",
        "connected everything",
    ]


async def test_higher_priority_subscriptions_run_before_connected_receivers(bus: Bus) -> None:
    calls: list[str] = []
    connected = _recording(calls, "connected")
    bus.signal(Ping).connect(connected)
    bus.subscribe(Ping, _recording(calls, "late but urgent"), priority=1)
    bus.subscribe(Ping, _recording(calls, "late and low"), priority=-1)
    await bus.publish(Ping())
    assert calls == ["late but urgent", "connected", "late and low"]


async def test_receiver_connected_again_keeps_its_place(bus: Bus) -> None:
    calls: list[str] = []
    early = _recording(calls, "early")
    bus.signal(Ping).connect(early)
    bus.subscribe(Ping, _recording(calls, "later"))
    bus.signal(Ping).connect(early)
    await bus.publish(Ping())
    assert calls == ["early", "later"]


async def test_receiver_is_delivered_to_as_the_runtime_owner(bus: Bus) -> None:
    received: list[Event] = []
    bus.signal(Ping).connect(received.append, weak=False)
    bus.subscribe(Ping, lambda event: None, owner="dice")
    ping = Ping()
    reached = await bus.deliver(ping, owner=RUNTIME)
    assert (reached, received) == (1, [ping])


async def test_receiver_connected_for_one_sender_gets_no_bus_events(bus: Bus) -> None:
    received: list[Event] = []
    bus.signal(Ping).connect(received.append, sender="someone", weak=False)
    await bus.publish(Ping())
    assert (received, bus.has_subscribers(Ping.topic)) == ([], False)


# -- what the bus knows comes from blinker -----------------------------------------------------


def test_connected_receivers_are_runtime_subscriptions(bus: Bus) -> None:
    def receiver(event: Event) -> None:
        pass

    bus.signal("test.signal.*").connect(receiver)
    subscribed = bus.subscribe(Ping, receiver, owner="dice")
    assert [(s.pattern, s.owner, s.name) for s in bus.subscriptions()] == [
        ("test.signal.*", RUNTIME, receiver.__module__ + "." + receiver.__qualname__),
        (Ping.topic, "dice", subscribed.name),
    ]


def test_owners_include_the_runtime_for_connected_receivers(bus: Bus) -> None:
    bus.subscribe(Ping, lambda event: None, owner="dice")
    bus.signal(Pong).connect(explode)
    assert bus.owners() == [RUNTIME, "dice"]


async def test_unsubscribe_owner_runtime_disconnects_connected_receivers(bus: Bus) -> None:
    received: list[Event] = []
    signal = bus.signal(Ping)
    signal.connect(received.append, weak=False)
    ended = bus.unsubscribe_owner(RUNTIME)
    await bus.publish(Ping())
    assert (ended, received, dict(signal.receivers)) == (1, [], {})


async def test_cancelling_a_connected_receivers_subscription_disconnects_it(bus: Bus) -> None:
    received: list[Event] = []
    signal = bus.signal(Ping)
    signal.connect(received.append, weak=False)
    (sub,) = bus.subscriptions()
    assert sub.cancel()
    await bus.publish(Ping())
    assert (received, sub.active, dict(signal.receivers)) == ([], False, {})


def test_subscribe_connects_the_subscription_to_the_signal(bus: Bus) -> None:
    connected: list[object] = []
    signal = bus.signal(Ping)

    def on_connected(signal: Any, **kwargs: Any) -> None:
        connected.append(kwargs["receiver"])

    signal.receiver_connected.connect(on_connected, sender=signal)
    sub = bus.subscribe(Ping, lambda event: None)
    assert (connected, bus.namespace[Ping.topic]) == ([sub], signal)


async def test_disconnecting_a_subscription_through_blinker_cancels_it(bus: Bus) -> None:
    received: list[Event] = []
    sub = bus.subscribe(Ping, received.append)
    bus.signal(Ping).disconnect(sub)
    await bus.publish(Ping())
    assert (received, sub.active, sub.cancel()) == ([], False, False)


def test_signal_is_the_one_of_the_namespace(bus: Bus) -> None:
    bus.subscribe("test.signal.*", lambda event: None)
    assert bus.signal("test.signal.*") is bus.namespace["test.signal.*"]


def test_signal_of_an_event_class_is_the_signal_of_its_topic(bus: Bus) -> None:
    assert bus.signal(Ping) is bus.signal(Ping.topic)


def test_signal_is_a_named_blinker_signal(bus: Bus) -> None:
    signal = bus.signal(Ping)
    assert (isinstance(signal, blinker.NamedSignal), signal.name) == (True, Ping.topic)


def test_signal_without_receivers_is_not_in_the_namespace(bus: Bus) -> None:
    bus.signal(Ping)
    assert Ping.topic not in bus.namespace


async def test_signal_held_while_it_had_no_receivers_still_delivers(bus: Bus) -> None:
    received: list[Event] = []
    signal = bus.signal(Ping)
    bus.subscribe(Ping, lambda event: None).cancel()
    signal.connect(received.append, weak=False)
    ping = Ping()
    await bus.publish(ping)
    assert (received, bus.signal(Ping) is signal) == ([ping], True)


# -- the namespace is the bus's own ------------------------------------------------------------


async def test_two_buses_do_not_share_receivers() -> None:
    first, second = Bus(), Bus()
    received: list[Event] = []
    first.signal(Ping).connect(received.append, weak=False)
    await second.publish(Ping())
    assert (received, second.has_subscribers(Ping.topic)) == ([], False)


def test_two_buses_have_distinct_signals_for_a_topic() -> None:
    assert Bus().signal(Ping) is not Bus().signal(Ping)


def test_signal_is_not_in_blinkers_global_namespace(bus: Bus) -> None:
    bus.signal(Ping).connect(explode)
    assert blinker.default_namespace.get(Ping.topic) is not bus.signal(Ping)


# -- invalid topics ----------------------------------------------------------------------------


def test_signal_rejects_an_invalid_topic_as_subscribe_does(bus: Bus) -> None:
    with pytest.raises(TopicError) as by_subscribe:
        bus.subscribe("test.>.ping", explode)
    with pytest.raises(TopicError) as by_signal:
        bus.signal("test.>.ping")
    assert (str(by_signal.value), by_signal.value.topic, by_signal.value.owner) == (
        str(by_subscribe.value),
        "test.>.ping",
        RUNTIME,
    )


def test_signal_rejects_a_non_string_topic(bus: Bus) -> None:
    not_a_topic: Any = 42
    with pytest.raises(TopicError, match="expected a string, got int"):
        bus.signal(not_a_topic)


# -- blinker's connected_to, muted and disconnect ----------------------------------------------


async def test_connected_to_delivers_only_inside_the_block(bus: Bus) -> None:
    received: list[Event] = []
    inside = Ping(n=2)
    await bus.publish(Ping(n=1))
    with bus.signal(Ping).connected_to(received.append):
        await bus.publish(inside)
    await bus.publish(Ping(n=3))
    assert received == [inside]


async def test_blinker_muted_signal_delivers_nothing_to_its_receivers(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(Ping, received.append)
    with bus.signal(Ping).muted():
        await bus.publish(Ping(n=1))
    after = Ping(n=2)
    await bus.publish(after)
    assert received == [after]


async def test_blinker_muted_pattern_signal_leaves_other_signals_delivering(bus: Bus) -> None:
    calls: list[str] = []
    bus.subscribe("test.signal.*", _recording(calls, "pattern"))
    bus.subscribe(Ping, _recording(calls, "exact"))
    with bus.signal("test.signal.*").muted():
        await bus.publish(Ping())
    assert calls == ["exact"]


async def test_blinker_muted_signal_has_no_subscribers(bus: Bus) -> None:
    bus.subscribe(Ping, lambda event: None)
    bus.has_subscribers(Ping.topic)  # caches "somebody"
    with bus.signal(Ping).muted():
        muted = bus.has_subscribers(Ping.topic)
    assert (muted, bus.has_subscribers(Ping.topic)) == (False, True)


async def test_disconnect_through_blinker_stops_delivery(bus: Bus) -> None:
    received: list[Event] = []
    receiver = received.append  # blinker tells receivers apart by id: keep this one
    signal = bus.signal("test.signal.*")
    signal.connect(receiver, weak=False)
    first = Ping(n=1)
    await bus.publish(first)  # the plan for the topic is cached now
    signal.disconnect(receiver)
    await bus.publish(Ping(n=2))
    assert (received, bus.has_subscribers(Ping.topic)) == ([first], False)


async def test_disconnect_from_one_sender_leaves_the_receiver_connected(bus: Bus) -> None:
    received: list[Event] = []
    receiver = received.append
    signal = bus.signal(Ping)
    signal.connect(receiver, weak=False)
    signal.disconnect(receiver, sender="someone")
    ping = Ping()
    await bus.publish(ping)
    assert received == [ping]


async def test_disconnect_of_the_last_receiver_removes_the_signal_from_the_namespace(
    bus: Bus,
) -> None:
    signal = bus.signal(Ping)
    signal.connect(explode)
    signal.disconnect(explode)
    assert Ping.topic not in bus.namespace


async def test_receiver_disconnected_during_dispatch_misses_the_event_in_flight(
    bus: Bus,
) -> None:
    received: list[Event] = []
    receiver = received.append
    signal = bus.signal(Ping)
    bus.subscribe(Ping, lambda event: signal.disconnect(receiver), priority=1)
    signal.connect(receiver, weak=False)
    await bus.publish(Ping())
    assert received == []


# -- weak references, as blinker holds them ----------------------------------------------------


async def test_weakly_connected_bound_method_stops_when_its_object_is_collected(
    bus: Bus,
) -> None:
    received: list[Event] = []
    listener = Listener(received)
    bus.signal(Ping).connect(listener.on_ping)
    first = Ping(n=1)
    await bus.publish(first)
    del listener
    gc.collect()
    await bus.publish(Ping(n=2))
    assert (received, bus.has_subscribers(Ping.topic), bus.subscriptions()) == ([first], False, [])


async def test_strongly_connected_bound_method_stays_when_nothing_else_holds_it(
    bus: Bus,
) -> None:
    received: list[Event] = []
    bus.signal(Ping).connect(Listener(received).on_ping, weak=False)
    gc.collect()
    ping = Ping()
    await bus.publish(ping)
    assert received == [ping]


# -- isolation ---------------------------------------------------------------------------------


async def test_raising_receiver_is_reported_and_delivery_goes_on(bus: Bus) -> None:
    failures: list[HandlerFailed] = []
    received: list[Event] = []
    bus.subscribe(HandlerFailed, failures.append)
    bus.signal(Ping).connect(explode)
    bus.signal(Ping).connect(received.append, weak=False)
    ping = Ping()
    await bus.publish(ping)
    assert received == [ping]
    assert [(f.handler, f.owner, f.event_topic, f.error.message) for f in failures] == [
        (f"{__name__}.explode", RUNTIME, Ping.topic, "the receiver broke")
    ]


async def test_raising_async_receiver_is_reported(bus: Bus) -> None:
    failures: list[HandlerFailed] = []
    bus.subscribe(HandlerFailed, failures.append)

    async def broken(event: Event) -> None:
        raise ReceiverError("async receiver broke")

    bus.signal("test.signal.>").connect(broken)
    await bus.publish(Ping())
    assert [f.error.message for f in failures] == ["async receiver broke"]


async def test_strict_bus_re_raises_a_raising_receivers_exception(strict_bus: Bus) -> None:
    strict_bus.signal(Ping).connect(explode)
    with pytest.raises(ReceiverError, match="the receiver broke"):
        await strict_bus.publish(Ping())
