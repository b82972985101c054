"""Debian's Chromium driven by Playwright: the browser the web UI's tests use.

Playwright cannot download a browser here, so it launches the system's Chromium
(``apt-get install chromium``); a missing one fails the tests, never skips them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("EDGENAS_CHROMIUM", "/usr/bin/chromium")
# as root, without a sandbox; and nothing that reaches for the network beyond the page
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        raise RuntimeError(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_dir(default: Path) -> Path:
    """Where the run writes its screenshots: ``EDGENAS_SCREENSHOTS`` (``make screenshots``
    points it at docs/screenshots), or the test's own folder."""
    folder = Path(os.environ.get("EDGENAS_SCREENSHOTS", default))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
