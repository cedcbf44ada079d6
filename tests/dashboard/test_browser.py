"""The dashboard in a real browser (headless Chromium): the page lists the bundled plugins,
follows saves of real files under the real watcher without being reloaded (a hot patch
included), shows a syntax
error with its file and line, runs a reload from its button, and is refused without its token
on a non-loopback bind. Screenshots are kept under ``.ci/artifacts/``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hotbus import Dashboard
from hotbus.testing import Harness

from tests.dashboard.browser import Page, skip_without_browser, start_chromium
from tests.plugins.chat import copy_plugins

pytestmark = [skip_without_browser(), pytest.mark.timeout(90)]

BUNDLED = ["greeter", "quotes", "rng", "dice", "eightball", "trivia"]
ROWS = "return [...document.querySelectorAll('#plugins tbody tr')]"
ALL_ACTIVE = (
    ROWS + ".filter(r => r.dataset.state === 'active').map(r => r.dataset.plugin).sort().join()"
)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """One headless Chromium for the module's tests."""
    session = start_chromium()
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture
async def page(driver: Any, served: Dashboard) -> Page:
    """The dashboard of the bundled plugins, open and showing every plugin active."""
    tab = Page(driver)
    await tab.open(served.url)
    await tab.wait(ALL_ACTIVE + " === arguments[0]", ",".join(sorted(BUNDLED)))
    await tab.wait("return document.getElementById('connection').dataset.connected === 'true'")
    return tab


def row(name: str, what: str) -> str:
    return f"return document.querySelector('#plugins tr[data-plugin=\"{name}\"]')?.{what}"


async def test_the_page_lists_the_bundled_plugins(page: Page) -> None:
    names = await page.run(ROWS + ".map(r => r.dataset.plugin)")
    assert names == BUNDLED  # in dependency order, as the runtime lists them
    source = await page.run(row("dice", "querySelector('.source').textContent"))
    assert source == "dice.py"
    assert await page.run(row("dice", "querySelector('.requires').textContent")) == "rng"
    await page.screenshot("dashboard-plugins")


async def test_a_saved_change_updates_its_row_within_a_second_without_reloading(
    page: Page, hotbus: Harness
) -> None:
    await page.run("window.notReloaded = true")
    source = hotbus.plugins.read("dice.py").replace('version = "1.0.0"', 'version = "1.0.1"')
    await hotbus.plugins.save("dice.py", source, "atomic")
    saved = time.monotonic()
    version = await page.wait(
        row("dice", "querySelector('.version').textContent.startsWith('1.0.1+') && 'shown'"),
        timeout=1.0,
    )
    assert version == "shown", f"took {time.monotonic() - saved:.2f} s"
    assert await page.run("return window.notReloaded") is True


async def test_a_body_only_save_shows_the_plugin_patched_within_a_second(
    page: Page, hotbus: Harness
) -> None:
    source = hotbus.plugins.read("dice.py").replace("🎲", "🎯")
    await hotbus.plugins.save("dice.py", source, "in_place")
    saved = time.monotonic()
    state = await page.wait(row("dice", "dataset.state === 'patched' && 'shown'"), timeout=1.0)
    assert state == "shown", f"took {time.monotonic() - saved:.2f} s"
    patch = await hotbus.wait_for("hotbus.reload.patched")
    version = await page.run(row("dice", "querySelector('.version').textContent"))
    assert version == patch.model_dump()["new_version"]
    await page.screenshot("dashboard-patched")


async def test_a_saved_syntax_error_shows_the_failure_with_file_and_line(
    page: Page, hotbus: Harness
) -> None:
    lines = hotbus.plugins.read("dice.py").splitlines()
    lines[41] = "    def roll(self, command: str) -> str  # the colon is missing"
    await hotbus.plugins.save("dice.py", "\n".join(lines) + "\n", "vim")
    await page.wait(row("dice", "dataset.state === 'failed'"))
    problem = await page.run(row("dice", "querySelector('.error').textContent"))
    assert "dice.py:42" in problem
    assert "compile" in problem
    assert "still serving" in problem
    await page.screenshot("dashboard-syntax-error")


async def test_clicking_reload_runs_a_transaction(page: Page, hotbus: Harness) -> None:
    await page.click("#plugins tr[data-plugin='rng'] button[data-action='reload']")
    request = await hotbus.wait_for("hotbus.reload.requested")
    assert (request.model_dump()["plugin"], request.model_dump()["reason"]) == ("rng", "manual")
    committed = await hotbus.wait_for("hotbus.reload.committed")
    plan = committed.model_dump()["plan_id"]
    await page.wait(
        f"return document.querySelector('#timeline li[data-plan=\"{plan}\"]')"
        "?.dataset.outcome === 'committed'"
    )
    cascade = await page.wait(
        "const n = [...document.querySelectorAll('#graph .node.member')];"
        "return n.length > 1 && n.map(g => g.dataset.node).sort().join()"
    )
    assert cascade.split(",")[0] == "dice" and "rng" in cascade
    await page.screenshot("dashboard")


async def test_without_the_token_the_page_is_refused_on_a_non_loopback_bind(
    driver: Any, hotbus: Harness
) -> None:
    copy_plugins(hotbus.plugins.path)
    runtime = await hotbus.start()
    async with Dashboard(runtime, host="0.0.0.0") as dashboard:
        tab = Page(driver)
        await tab.open(f"http://127.0.0.1:{dashboard.port}/")
        assert "needs its token" in await tab.run("return document.body.innerText")
        await tab.open(f"http://127.0.0.1:{dashboard.port}/?token={dashboard.token}")
        await tab.wait(ALL_ACTIVE + " === arguments[0]", ",".join(sorted(BUNDLED)))
        assert await tab.run("return location.search") == ""  # the token left the address
        await tab.run("document.cookie")  # the cookie is HttpOnly: not readable by scripts
        assert "hotbus_token" not in await tab.run("return document.cookie")
