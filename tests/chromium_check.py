"""Load a page in a real headless Chromium (Debian's chromium + chromedriver) and say what the browser saw.

Drives ChromeDriver over its W3C HTTP protocol with the standard library only (no selenium): a fresh
``--user-data-dir`` per call, the flags of /work/.library/env/machines/python.md (no sandbox, no GPU, no
background networking).  :func:`check_page` returns the browser's console log, each ``<img>``'s decode result
(``img.decode()`` then ``naturalWidth``/``naturalHeight``) and writes a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-dev-shm-usage"]
INSTALL_HINT = "apt-get install -y chromium chromium-driver (scripts/setup.sh --dev does it when run as root)"


def missing() -> str | None:
    """Why the browser check cannot run here, or None when it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            return f"{path} not found; install: {INSTALL_HINT}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(base: str, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode())["value"]


_DECODE_IMAGES = """
const done = arguments[arguments.length - 1];
Promise.all(Array.from(document.images).map(img => img.decode().then(
  () => ({ok: true, width: img.naturalWidth, height: img.naturalHeight, alt: img.alt}),
  err => ({ok: false, width: img.naturalWidth, height: img.naturalHeight, alt: img.alt, error: String(err)})
))).then(done);
"""


def check_page(url: str, screenshot: Path, width: int = 1366, max_height: int = 16000) -> dict[str, Any]:
    """Open ``url``; return ``{"console": [{level, message}], "images": [...], "title", "height"}``."""
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="polyreason-chromium-")
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    session = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _call(base, "GET", "/status", timeout=2).get("ready"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromedriver did not start within 30 s")
            time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM,
                                   "args": [*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},900"]},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        session = _call(base, "POST", "/session", caps, timeout=120)["sessionId"]
        s = f"/session/{session}"
        _call(base, "POST", f"{s}/url", {"url": url})
        _call(base, "POST", f"{s}/timeouts", {"script": 30000})
        images = _call(base, "POST", f"{s}/execute/async", {"script": _DECODE_IMAGES, "args": []})
        title = _call(base, "POST", f"{s}/execute/sync", {"script": "return document.title", "args": []})
        height = _call(base, "POST", f"{s}/execute/sync",
                       {"script": "return document.documentElement.scrollHeight", "args": []})
        _call(base, "POST", f"{s}/window/rect", {"width": width, "height": min(int(height) + 40, max_height)})
        png = base64.b64decode(_call(base, "GET", f"{s}/screenshot"))
        screenshot.write_bytes(png)
        console = _call(base, "POST", f"{s}/se/log", {"type": "browser"})
        return {"console": console, "images": images, "title": title, "height": height}
    finally:
        if session is not None:
            try:
                _call(base, "DELETE", f"/session/{session}", timeout=30)
            except OSError:
                pass
        driver.terminate()
        try:
            driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            driver.kill()
        shutil.rmtree(profile, ignore_errors=True)
