"""Debian's Chromium driven by playwright, for the tests that need a real browser."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Screenshots and PDFs the browser tests leave for a human to look at.
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is missing: apt-get install chromium"
)


def poll_until(page: Page, predicate: str, arg: Any = None, timeout: float = 30_000) -> Any:
    """Poll ``predicate`` (a JavaScript function) until it is truthy; its value.

    ``page.wait_for_function`` compiles its predicate inside the page once it has to poll,
    and the pages' CSP forbids eval: a wait that was not true at once failed with an
    EvalError. ``page.evaluate`` goes through the DevTools protocol, which CSP does not
    govern.
    """
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = page.evaluate(predicate, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout:.0f} ms: {predicate}")
        page.wait_for_timeout(50)


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        # No sandbox in containers, small /dev/shm, and nothing fetched behind the test's back.
        args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"],
    )


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed when the block ends.

    Not while the session's Chromium runs (the ``browser`` fixture): Playwright's sync API
    allows one instance per thread. Tests use the fixture.
    """
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


class SharedChromium:
    """One Chromium for the whole session, launched when a test first needs it.

    Tests get contexts of their own (``browser.new_page()`` / ``new_context()``); the
    ``browser`` fixture closes them after each test. A Chromium that crashed is launched
    again for the next test. While it runs, Playwright's event loop is this thread's
    running loop: ``asyncio.run`` in a test would refuse to start (none does).
    """

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def get(self) -> Browser:
        """The running Chromium."""
        if self._playwright is None:
            self._playwright = sync_playwright().start()
        if self._browser is None or not self._browser.is_connected():
            self._browser = _launch(self._playwright)
        return self._browser

    def close(self) -> None:
        """Close Chromium and Playwright (if they were started)."""
        if self._browser is not None and self._browser.is_connected():
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()
        self._browser = self._playwright = None
