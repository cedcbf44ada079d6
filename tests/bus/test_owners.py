"""One owner's subscriptions: `Bus.subscriptions(owner)` and `Bus.owners()` agree with every
subscription connected to the bus's signals, however they come and go (subscribe and cancel,
`unsubscribe_owner`, blinker's own ``connect`` and ``disconnect``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable

from hotbus.bus import RUNTIME, Bus, Subscription
from hypothesis import given, settings
from hypothesis import strategies as st

OWNERS = ("alpha", "beta", RUNTIME)
TOPICS = ("test.owners.a", "test.owners.b", "test.owners.*")


def handler(event: object) -> None:
    """A handler (its identity does not matter)."""


def receiver_for(index: int) -> Callable[..., None]:
    """A distinct receiver for blinker's own ``connect``."""

    def receive(sender: object, **kwargs: object) -> None:
        pass

    receive.__name__ = f"receive_{index}"
    return receive


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("subscribe"), st.sampled_from(OWNERS), st.sampled_from(TOPICS)),
        st.tuples(st.just("cancel"), st.integers(0, 20), st.just("")),
        st.tuples(st.just("drop_owner"), st.sampled_from(OWNERS), st.just("")),
        st.tuples(st.just("connect"), st.integers(0, 3), st.sampled_from(TOPICS)),
        st.tuples(st.just("disconnect"), st.integers(0, 3), st.sampled_from(TOPICS)),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_each_owners_subscriptions_are_those_connected_to_the_signals(
    steps: list[tuple[str, str | int, str]],
) -> None:
    bus = Bus()
    made: list[Subscription] = []
    receivers = [receiver_for(i) for i in range(4)]
    for action, who, topic in steps:
        if action == "subscribe":
            made.append(bus.subscribe(topic, handler, owner=str(who)))
        elif action == "cancel" and made:
            made[int(who) % len(made)].cancel()
        elif action == "drop_owner":
            bus.unsubscribe_owner(str(who))
        elif action == "connect":
            bus.signal(topic).connect(receivers[int(who)], weak=False)
        elif action == "disconnect":
            bus.signal(topic).disconnect(receivers[int(who)])
        every = bus.subscriptions()
        for owner in OWNERS:
            assert bus.subscriptions(owner) == [s for s in every if s.owner == owner]
        assert bus.owners() == sorted({s.owner for s in every})


def test_a_cancelled_subscription_is_not_kept_alive_by_the_bus() -> None:
    bus = Bus()
    sub = bus.subscribe("test.owners.a", handler, owner="alpha")
    gone = weakref.ref(sub)
    sub.cancel()
    del sub
    gc.collect()
    assert gone() is None
