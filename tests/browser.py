"""Headless Chromium for tests, driven over the W3C WebDriver protocol of chromedriver.

Debian's chromium and chromium-driver packages provide both binaries. The protocol is
a few JSON requests, so no client library is needed: start chromedriver on a free
loopback port, open a session with a fresh profile, load a page, run a script, close.
"""

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Headless, no sandbox (CI runs as root), no GPU, and nothing that talks to the network
# on its own: the page under test must not fetch anything either.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,2000",
]
MISSING = (
    "headless Chromium is not installed (Debian: apt-get install chromium chromium-driver); "
    ".ci/run installs it"
)


def binaries() -> tuple[str, str] | None:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    def __init__(self, base: str, session: str) -> None:
        self.base = f"{base}/session/{session}"

    def open(self, path: Path) -> None:
        _request("POST", f"{self.base}/url", {"url": path.resolve().as_uri()})

    def run(self, script: str) -> Any:
        """Run `script` (a function body that returns a value) in the page."""
        return _request("POST", f"{self.base}/execute/sync", {"script": script, "args": []})

    def visit(self, url: str) -> None:
        _request("POST", f"{self.base}/url", {"url": url})

    def wait_for(self, script: str, timeout_s: float) -> Any:
        """The first truthy value of `script` (as for `run`), asked again until `timeout_s`;
        for pages that render after they load, such as single-page apps."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.run(script)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.5)


def _request(method: str, url: str, body: dict | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["value"]
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"WebDriver {method} {url}: {error.read().decode()}") from None


def _wait_ready(base: str, driver: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if driver.poll() is not None:
            raise RuntimeError(f"chromedriver exited with {driver.returncode}")
        try:
            if _request("GET", f"{base}/status")["ready"]:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise RuntimeError("chromedriver did not become ready within 30 s")


@contextmanager
def headless_chromium(profile: Path) -> Iterator[Browser]:
    """A Chromium session with a fresh profile in `profile`; everything stops on exit."""
    found = binaries()
    if found is None:
        raise RuntimeError(MISSING)
    chromium, chromedriver = found
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    driver = subprocess.Popen(
        [chromedriver, f"--port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    session = None
    try:
        _wait_ready(base, driver)
        options = {"binary": chromium, "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]}
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        created = _request(
            "POST", f"{base}/session", {"capabilities": {"alwaysMatch": capabilities}}
        )
        session = created["sessionId"]
        yield Browser(base, session)
    finally:
        if session is not None:
            _request("DELETE", f"{base}/session/{session}")
        driver.terminate()
        try:
            driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()


# What a reader sees of the comparison report: the leaderboard, and whether each figure
# was decoded and laid out.
REPORT_PROBE = """
const board = document.querySelector('table');
return {
  title: document.title,
  headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
  header: [...board.querySelectorAll('thead th')].map(c => c.textContent),
  leaderboard: [...board.querySelectorAll('tbody tr')].map(r => r.cells[1].textContent),
  boardHeight: board.getBoundingClientRect().height,
  images: [...document.images].map(i => ({
    alt: i.alt,
    complete: i.complete,
    naturalWidth: i.naturalWidth,
    shownWidth: i.getBoundingClientRect().width,
    scheme: i.src.split(':')[0],
  })),
  fetched: performance.getEntriesByType('resource').map(r => r.name),
  text: document.body.innerText,
};
"""


def probe_report(browser: Browser, path: Path) -> dict[str, Any]:
    browser.open(path)
    return browser.run(REPORT_PROBE)
