"""Headless Chromium for report tests: open a page, then read back console errors and network requests.

Reports are checked in a real browser because what matters (nothing injected runs, nothing is
fetched, the filters work) only exists once a browser has parsed the page and run its script.
Selenium drives Debian's chromium through Debian's chromedriver; nothing is downloaded. Set
HARNESS_SKIP_BROWSER=1 to skip these tests explicitly; otherwise a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-quic", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
LOCAL_SCHEMES = ("data:", "blob:", "about:")


def require_browser() -> tuple[str, str]:
    """Paths of chromium and chromedriver, or skip/fail with what to install."""
    if os.environ.get("HARNESS_SKIP_BROWSER") == "1":
        pytest.skip("browser tests skipped on request (HARNESS_SKIP_BROWSER=1)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail("browser tests need `pip install selenium` (or set HARNESS_SKIP_BROWSER=1)")
    if not chromium or not driver:
        pytest.fail("browser tests need `apt-get install -y chromium chromium-driver` (or set HARNESS_SKIP_BROWSER=1)")
    return chromium, driver


@dataclass
class PageLog:
    console_errors: list[str]
    requests: list[str]  # URLs other than the page itself and data:/blob: URLs


class Browser:
    """A thin wrapper over a selenium Chrome driver with logging switched on."""

    def __init__(self, driver) -> None:  # noqa: ANN001 (selenium's WebDriver)
        self.driver = driver
        self.page_url = ""

    def open(self, path: Path) -> None:
        self.page_url = path.resolve().as_uri()
        self.log()  # drain what the browser did before this page (its start page)
        self.driver.get(self.page_url)

    def run(self, script: str, *args):  # noqa: ANN201
        return self.driver.execute_script(script, *args)

    def screenshot(self, path: Path) -> Path:
        self.driver.save_screenshot(str(path))
        return path

    def log(self) -> PageLog:
        """Console errors and outgoing requests since the last call."""
        errors = [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]
        requests = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.requestWillBeSent":
                continue
            url = message["params"]["request"]["url"]
            if message["params"].get("documentURL", "").startswith("chrome://"):
                continue  # the browser's own start page loading its resources, not ours
            if url != self.page_url and not url.startswith(LOCAL_SCHEMES):
                requests.append(url)
        return PageLog(errors, requests)


@contextmanager
def chromium() -> Iterator[Browser]:
    binary, driver_path = require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="harness-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield Browser(driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
