"""Debian's Chromium driven by playwright, for the tests that need a real browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Screenshots and PDFs the browser tests leave for a human to look at.
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is missing: apt-get install chromium"
)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed when the block ends."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # No sandbox in containers, small /dev/shm, and nothing fetched behind the test's back.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()
