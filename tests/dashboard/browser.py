"""A headless Chromium driven by Selenium through the system's chromedriver (Debian's
``chromium`` and ``chromium-driver``; ``.ci/run`` installs them when missing).

Every WebDriver call blocks, and the dashboard serves on the test's event loop: `Page` runs
each call on a worker thread, and waits for a condition in the page with a deadline, never by
sleeping.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any, final

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Where the screenshots are kept (a CI artifact; ignored by git).
ARTIFACTS = Path(__file__).resolve().parents[2] / ".ci" / "artifacts"


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.is_file() and shutil.which(path.name) is None:
            return (
                f"{path} is not installed: `apt-get install chromium chromium-driver` "
                "(.ci/run does it)"
            )
    return None


def start_chromium() -> Any:
    """A headless Chromium session."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM if CHROMIUM.is_file() else shutil.which("chromium"))
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1200",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    driver = CHROMEDRIVER if CHROMEDRIVER.is_file() else shutil.which("chromedriver")
    return webdriver.Chrome(service=Service(str(driver)), options=options)


@final
class Page:
    """One browser tab, driven from async tests."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def open(self, url: str) -> None:
        await asyncio.to_thread(self.driver.get, url)

    async def run(self, script: str, *args: Any) -> Any:
        """The value of ``script`` (a function body: ``return ...``) in the page."""
        return await asyncio.to_thread(self.driver.execute_script, script, *args)

    async def wait(self, script: str, *args: Any, timeout: float = 10.0) -> Any:
        """Wait until ``script`` returns something truthy (polled every 20 ms); that value."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        def until() -> Any:
            waiting = WebDriverWait(self.driver, timeout, poll_frequency=0.02)
            return waiting.until(lambda driver: driver.execute_script(script, *args))

        try:
            return await asyncio.to_thread(until)
        except TimeoutException:
            text = await self.run("return document.body.innerText")
            raise AssertionError(
                f"not within {timeout:g} s: {script}\n--- the page shows ---\n{text}"
            ) from None

    async def click(self, selector: str) -> None:
        """Click the element ``selector`` finds (found and clicked at once, in the page)."""
        found = await self.run(
            "const e = document.querySelector(arguments[0]); if (e) e.click(); return !!e",
            selector,
        )
        assert found, f"nothing matches {selector!r} on the page"

    async def screenshot(self, name: str) -> Path:
        """Save the page as ``.ci/artifacts/NAME.png`` (the path is printed)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await asyncio.to_thread(self.driver.save_screenshot, str(path))
        print(f"screenshot: {path}")
        return path


def skip_without_browser() -> pytest.MarkDecorator:
    reason = missing()
    return pytest.mark.skipif(reason is not None, reason=reason or "")
