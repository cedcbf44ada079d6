"""Who may read and act: a dashboard bound to every interface (0.0.0.0, not loopback) needs its
token for every request but the static assets, over real HTTP to 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hotbus import Dashboard
from hotbus.testing import Harness

from tests.dashboard.http import EventStream, fetch
from tests.plugins.chat import copy_plugins

pytestmark = pytest.mark.timeout(60)

CSRF = {"X-Hotbus-CSRF": "1"}


@pytest.fixture
async def exposed(hotbus: Harness) -> AsyncIterator[Dashboard]:
    """The bundled plugins' dashboard on 0.0.0.0, with a generated token."""
    copy_plugins(hotbus.plugins.path)
    runtime = await hotbus.start()
    async with Dashboard(runtime, host="0.0.0.0") as dashboard:
        yield dashboard


def local(dashboard: Dashboard, path: str) -> str:
    return f"http://127.0.0.1:{dashboard.port}/{path}"


async def test_a_non_loopback_bind_makes_a_token(exposed: Dashboard) -> None:
    assert exposed.token is not None and len(exposed.token) >= 32
    assert exposed.login_url == f"{exposed.url}?token={exposed.token}"
    assert exposed.token not in repr(exposed)


async def test_reading_without_the_token_is_refused(exposed: Dashboard) -> None:
    for path in ("", "api/status", "api/transactions", "api/openapi.json"):
        reply = await fetch(local(exposed, path))
        assert reply.status == 401, path
        assert "token" in reply.json()["error"]


async def test_the_event_stream_without_the_token_is_refused(exposed: Dashboard) -> None:
    stream = EventStream(local(exposed, "api/events"))
    try:
        assert await stream.opened() == 401
    finally:
        stream.close()


async def test_acting_without_the_token_is_refused(exposed: Dashboard, hotbus: Harness) -> None:
    reply = await fetch(local(exposed, "api/plugins/dice/reload"), "POST", headers=CSRF)
    assert reply.status == 401
    wrong = {**CSRF, "Authorization": "Bearer not-the-token"}
    reply = await fetch(local(exposed, "api/plugins/dice/reload"), "POST", headers=wrong)
    assert reply.status == 401
    assert not [e for e in hotbus.events if e.topic == "hotbus.reload.requested"]


async def test_acting_with_the_token_but_without_csrf_protection_is_refused(
    exposed: Dashboard,
) -> None:
    bearer = {"Authorization": f"Bearer {exposed.token}"}
    reply = await fetch(local(exposed, "api/plugins/dice/reload"), "POST", headers=bearer)
    assert reply.status == 403


async def test_the_token_as_bearer_or_header_is_accepted(exposed: Dashboard) -> None:
    assert exposed.token is not None
    bearer = {"Authorization": f"Bearer {exposed.token}"}
    assert (await fetch(local(exposed, "api/status"), headers=bearer)).status == 200
    header = {"X-Hotbus-Token": exposed.token, **CSRF}
    reply = await fetch(local(exposed, "api/plugins/dice/reload"), "POST", headers=header)
    assert reply.status == 200
    assert reply.json()["topic"] == "hotbus.reload.committed"


async def test_the_token_in_the_address_becomes_a_cookie(exposed: Dashboard) -> None:
    assert exposed.token is not None
    reply = await fetch(local(exposed, f"?token={exposed.token}"))
    assert reply.status == 303
    assert reply.headers["location"] == "/"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"hotbus_token={exposed.token};")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    page = await fetch(local(exposed, ""), headers={"Cookie": f"hotbus_token={exposed.token}"})
    assert page.status == 200


async def test_the_assets_need_no_token(exposed: Dashboard) -> None:
    assert (await fetch(local(exposed, "assets/dashboard.css"))).status == 200


async def test_a_given_token_is_required_on_loopback_too(hotbus: Harness) -> None:
    runtime = await hotbus.start()
    async with Dashboard(runtime, token="s3cret-dashboard-token") as dashboard:
        assert (await fetch(dashboard.url + "api/status")).status == 401
        bearer = {"Authorization": "Bearer s3cret-dashboard-token"}
        assert (await fetch(dashboard.url + "api/status", headers=bearer)).status == 200


SECRET_PLUGIN = """
from pydantic import BaseModel, Field

from hotbus import Plugin


class KeyedConfig(BaseModel):
    api_key: str = Field(min_length=64)


class Keyed(Plugin):
    name = "keyed"
    version = "1.0.0"
    config_model = KeyedConfig
"""


async def test_a_secret_in_a_plugins_config_appears_nowhere(hotbus: Harness) -> None:
    hotbus.plugins.write("keyed.py", SECRET_PLUGIN)
    hotbus.plugins.write("hotbus.toml", '[plugins.keyed]\napi_key = "hunter2-is-my-key"\n')
    runtime = await hotbus.start()
    async with Dashboard(runtime) as dashboard:
        stream = EventStream(dashboard.url + "api/events")
        try:
            assert await stream.opened() == 200
            await runtime.reload("keyed")  # fails at config again, with the stream open
            events = await stream.events(3)
        finally:
            stream.close()
        status = await fetch(dashboard.url + "api/status")
        timeline = await fetch(dashboard.url + "api/transactions")
    (row,) = status.json()
    assert row["state"] == "failed" and "api_key" in row["error"]["message"]
    for body in (status.body, timeline.body, repr(events).encode()):
        assert b"hunter2" not in body
