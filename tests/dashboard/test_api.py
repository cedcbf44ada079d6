"""The dashboard's HTTP API, over real HTTP: status, the event stream, actions, the OpenAPI
document, the bounded queue of a client that falls behind, and a stop with streams open."""

from __future__ import annotations

import asyncio

import pytest
from hotbus import ChatMessage, Dashboard, Event
from hotbus.testing import Harness

from tests.dashboard.http import EventStream, fetch

pytestmark = pytest.mark.timeout(60)

CSRF = {"X-Hotbus-CSRF": "1"}
BUNDLED = {"greeter", "quotes", "rng", "dice", "eightball", "trivia"}


class Tick(Event):
    topic = "dashtest.tick"
    n: int


async def test_status_lists_every_plugin_with_state_version_and_error(served: Dashboard) -> None:
    reply = await fetch(served.url + "api/status")
    assert reply.status == 200
    rows = reply.json()
    assert {row["name"] for row in rows} == BUNDLED
    dice = next(row for row in rows if row["name"] == "dice")
    assert dice["state"] == "active"
    assert dice["version"].startswith("1.0.0+")
    assert dice["error"] is None
    assert dice["depends_on"] == ["rng"]


async def test_a_stream_data_line_is_the_event_as_its_json_line(
    served: Dashboard, hotbus: Harness
) -> None:
    stream = EventStream(served.url + "api/events")
    try:
        assert await stream.opened() == 200
        await served.runtime.bus.publish(ChatMessage(user="ann", text="hello"))
        (got,) = [e for e in await stream.events(2) if e["topic"] == "chat.message"][:1]
        sent = next(e for e in hotbus.events if e.topic == "chat.message")
        assert got == {"topic": "chat.message", **sent.model_dump(mode="json")}
    finally:
        stream.close()


async def test_a_topic_pattern_keeps_only_matching_events(served: Dashboard) -> None:
    stream = EventStream(served.url + "api/events?topic=dashtest.*")
    try:
        assert await stream.opened() == 200
        await served.runtime.bus.publish(ChatMessage(user="ann", text="not this"))
        await served.runtime.bus.publish(Tick(n=1))
        (event,) = await stream.events(1)
        assert (event["topic"], event["n"]) == ("dashtest.tick", 1)
    finally:
        stream.close()


async def test_an_invalid_topic_pattern_is_a_bad_request(served: Dashboard) -> None:
    reply = await fetch(served.url + "api/events?topic=a.>.b")
    assert reply.status == 400
    assert "a.>.b" in reply.json()["error"]


async def test_posting_reload_answers_with_the_committed_event(
    served: Dashboard, hotbus: Harness
) -> None:
    reply = await fetch(served.url + "api/plugins/dice/reload", "POST", headers=CSRF)
    assert reply.status == 200
    outcome = reply.json()
    assert outcome["topic"] == "hotbus.reload.committed"
    assert [c["plugin"] for c in outcome["changes"]] == ["dice"]
    committed = await hotbus.wait_for("hotbus.reload.committed")
    assert outcome["event_id"] == str(committed.event_id)


async def test_disable_and_enable_answer_with_the_state_change(served: Dashboard) -> None:
    off = await fetch(served.url + "api/plugins/eightball/disable", "POST", headers=CSRF)
    assert off.status == 200
    assert (off.json()["topic"], off.json()["state"]) == ("hotbus.plugin.state", "loaded")
    rows = (await fetch(served.url + "api/status")).json()
    assert next(r for r in rows if r["name"] == "eightball")["state"] == "disabled"
    on = await fetch(served.url + "api/plugins/eightball/enable", "POST", headers=CSRF)
    assert (on.json()["topic"], on.json()["state"]) == ("hotbus.plugin.state", "active")


async def test_an_unknown_plugin_is_not_found(served: Dashboard) -> None:
    reply = await fetch(served.url + "api/plugins/nobody/reload", "POST", headers=CSRF)
    assert reply.status == 404
    assert "nobody" in reply.json()["error"]


async def test_acting_without_the_csrf_header_is_refused(
    served: Dashboard, hotbus: Harness
) -> None:
    reply = await fetch(served.url + "api/plugins/dice/reload", "POST")
    assert reply.status == 403
    assert "X-Hotbus-CSRF" in reply.json()["error"]
    assert not [e for e in hotbus.events if e.topic == "hotbus.reload.requested"]


async def test_acting_from_another_origin_is_refused(served: Dashboard) -> None:
    headers = {**CSRF, "Origin": "http://evil.example"}
    reply = await fetch(served.url + "api/plugins/dice/disable", "POST", headers=headers)
    assert reply.status == 403
    assert "evil.example" in reply.json()["error"]


async def test_a_loopback_dashboard_refuses_a_foreign_host_name(served: Dashboard) -> None:
    # What a page of a site whose name was rebound to 127.0.0.1 would send.
    reply = await fetch(served.url + "api/status", headers={"Host": f"evil.example:{served.port}"})
    assert reply.status == 403


async def test_the_openapi_document_describes_the_api(served: Dashboard) -> None:
    reply = await fetch(served.url + "api/openapi.json")
    document = reply.json()
    assert document["openapi"].startswith("3.")
    assert {
        "/api/status",
        "/api/events",
        "/api/transactions",
        "/api/fleet",
        "/api/plugins/{name}/{action}",
    } <= set(document["paths"])


async def test_outside_a_fleet_the_fleet_is_null(served: Dashboard) -> None:
    assert (await fetch(served.url + "api/fleet")).json() == {"fleet": None}


async def test_the_page_and_its_assets_are_served_from_the_package(served: Dashboard) -> None:
    page = await fetch(served.url)
    assert page.status == 200
    assert b"/assets/dashboard.js" in page.body
    script = await fetch(served.url + "assets/dashboard.js")
    assert script.status == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"http" not in page.body.replace(b"http://www.w3.org", b"")  # nothing from a CDN


async def test_a_client_that_falls_behind_loses_events_counted_and_told(
    hotbus: Harness,
) -> None:
    runtime = await hotbus.start()
    async with Dashboard(runtime, queue_size=10) as dashboard:
        stream = EventStream(dashboard.url + "api/events?topic=dashtest.>")
        try:
            assert await stream.opened() == 200  # answered once the stream follows the bus
            for n in range(1000):  # published in one go: the client's queue holds 10
                runtime.bus.publish_nowait(Tick(n=n))
            await runtime.bus.join()
            seen: list[int] = []
            dropped = 0
            while len(seen) + dropped < 1000:
                message = await stream.next()
                assert message is not None
                if message.event == "dropped":
                    dropped = message.json()["dropped"]
                else:
                    seen.append(message.json()["n"])
            assert dropped > 0
            assert len(seen) + dropped == 1000
            assert seen == sorted(seen)
            stats = (await fetch(dashboard.url + "api/stats")).json()
            assert stats["dropped"] == dropped
        finally:
            stream.close()


async def test_stopping_ends_the_open_streams_and_returns_in_bounded_time(
    hotbus: Harness,
) -> None:
    runtime = await hotbus.start()
    dashboard = Dashboard(runtime)
    await dashboard.start()
    stream = EventStream(dashboard.url + "api/events")
    try:
        assert await stream.opened() == 200
        async with asyncio.timeout(5):
            await dashboard.stop()
        assert not dashboard.serving
        while (message := await stream.next()) is not None:
            assert message.event in ("message", "dropped")
    finally:
        stream.close()
