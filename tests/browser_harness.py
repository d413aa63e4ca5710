"""A real archive, the reading room serving it, and Debian's headless Chromium looking at it.

Shared by the browser tests (tests/test_browser.py) and the screenshot script (bench/screenshots.py):

- :func:`build_archive` serves the demo site (127.0.0.1) with its media host (127.0.0.2), crawls it
  with the installed command, edits one article and re-checks it (a second version with a new
  image), so every page of the reading room has something to show;
- :class:`Server` runs ``newsarchive serve --port 0`` in a subprocess, with uvicorn's access log
  switched on (``python browser_harness.py serve …``), and reads that log;
- :func:`chromium` starts Chromium through Debian's chromedriver, never Selenium Manager (which would
  download drivers and browsers), with Chrome's background networking off, every host name but the
  loopback literals unresolvable, and the DevTools performance log on (:func:`requests_seen`).

Only loopback addresses are ever contacted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"  # Debian's packages: chromium, chromium-driver
CHROMEDRIVER = "/usr/bin/chromedriver"
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]
# the media host (127.0.0.2) is loopback: allowed by name, as the demo does
LOCAL_MEDIA = ["-s", "NEWSARCHIVE_ALLOW_PRIVATE=True"]

# What the edit of the demo's article does: adds a word found in no other article (so a search typed
# without its diacritics finds this one) to its title, rewords its first paragraph ("tiếp tục là"
# becomes "vẫn là"), adds a paragraph and a new image.
EDIT_WORD = "Khánh Hòa"
EDIT_QUERY = "khanh hoa"  # as a person types it on a keyboard without Vietnamese input
EDITED_INDEX = 1  # the demo's 2nd newest article: an "older"-template page with two images


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found (Debian: apt-get install {package})"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The installed command in a subprocess (Scrapy's reactor cannot restart), from a neutral
    directory (``python -m`` would otherwise import the checkout instead of the installed package)."""
    env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
    with tempfile.TemporaryDirectory() as neutral:
        return subprocess.run([sys.executable, "-m", "newsarchive.cli", *args], cwd=neutral, env=env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def gradient_png(seed: str, width: int = 640, height: int = 360) -> bytes:
    """A PNG of soft colour bands picked by ``seed``: a picture that compresses (the demo's own
    images are noise, which would make every screenshot of an article weigh hundreds of KB)."""
    import hashlib
    import zlib

    d = hashlib.sha256(seed.encode()).digest()
    top, bottom = (d[0] // 2 + 64, d[1] // 2 + 64, d[2] // 2 + 64), (d[3] // 3, d[4] // 3, d[5] // 3)
    rows = []
    for y in range(height):
        t = y / (height - 1)
        band = 12 if (y * 6 // height) % 2 else 0  # a few horizontal bands, a landscape's layers
        rgb = bytes(max(0, min(255, round(a + (b - a) * t) + band)) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + rgb * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + (zlib.crc32(kind + data) & 0xFFFFFFFF).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(
        b"IEND", b"")


def build_archive(db: Path, n_articles: int = 12, port: int = 0) -> dict[str, Any]:
    """Crawl the demo site (with its media, as pictures: :func:`gradient_png`) into ``db``, then
    edit one article and re-check: the archive holds ``n_articles`` articles, one of them in two
    versions. The site is on 127.0.0.1:``port`` and its media on 127.0.0.2:``port + 1`` (free ports
    for 0). Returns what the tests need to know: the edited article's URL, its title before and after."""
    from newsarchive.demo.site import DemoMediaHost, DemoSite, serve, serve_media

    class Pictures(DemoMediaHost):  # the demo's media host with pictures instead of noise
        @staticmethod
        def image(path: str) -> bytes:
            return gradient_png(re.sub(r"^/thumbs/\d+x\d+/", "/", path))

    host = Pictures()
    with serve_media(host, port=port + 1 if port else 0) as media_base:
        site = DemoSite(n_articles, media_base=media_base)
        with serve(site, port=port):
            crawl = ["crawl", site.base, "--db", str(db), "-q", "--since", "2020-01-01", *FAST, *LOCAL_MEDIA]
            first = run_cli(*crawl)
            if first.returncode != 0:
                raise RuntimeError(f"the demo crawl failed: {first.stderr[-2000:]}")
            aid = site.order[EDITED_INDEX]
            before = site.articles[aid]
            paragraphs = [before.paragraphs[0].replace("tiếp tục là", "vẫn là"), *before.paragraphs[1:],
                          f"Cập nhật: đoàn công tác đã đến {EDIT_WORD} chiều nay."]
            images = [*before.images, (f"{host.base}2026/moi/anh-cap-nhat.png", f"Ảnh cập nhật tại {EDIT_WORD}")]
            site.edit(aid, title=f"{before.title} ở {EDIT_WORD}", paragraphs=paragraphs, images=images)
            second = run_cli(*crawl, "--recheck")
            if second.returncode != 0:
                raise RuntimeError(f"the re-check crawl failed: {second.stderr[-2000:]}")
            return {"url": site.url(aid), "title_before": before.title, "title_after": site.articles[aid].title,
                    "site": site.base}


class Server:
    """``newsarchive serve --db DB --port 0`` in a subprocess; its access log read as it grows."""

    def __init__(self, db: Path) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "serve", "--db", str(db), "--port", "0"]
        env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                     stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._started = threading.Event()
        self.base = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._started.wait(60) or not self.base:
            self.close()
            raise RuntimeError("newsarchive serve did not start: " + "".join(self.lines)[-2000:])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # ends when the server exits
            with self._lock:
                self.lines.append(line)
            found = re.search(r"serving .* on (http://127\.0\.0\.1:\d+)/", line)
            if found:
                self.base = found.group(1)
                self._started.set()
        self._started.set()

    def url(self, path: str) -> str:
        return self.base + path

    def access(self) -> list[tuple[str, str, int]]:
        """(method, path with query, status) of every request the server has answered so far."""
        out = []
        with self._lock:
            lines = list(self.lines)
        for line in lines:  # uvicorn: 'INFO:     127.0.0.1:PORT - "GET /path HTTP/1.1" 200 OK'
            m = re.search(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})', line)
            if m:
                out.append((m.group(1), m.group(2), int(m.group(3))))
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# Chrome's own traffic (updates, safe browsing, metrics, suggestions) is switched off, and every
# host name resolves to nothing: a page can reach the loopback literals only. A sandboxed iframe
# (the as-archived view) runs in a process of its own by default, whose requests the performance
# log of the page does not show: IsolateSandboxedIframes off keeps it in the page's process, so
# the network check sees what the frame asks for (its sandbox and CSP apply all the same).
CHROME_ARGS = [
    "--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    "--metrics-recording-only", "--no-pings", "--safebrowsing-disable-auto-update", "--password-store=basic",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,IsolateSandboxedIframes",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=vi", "--font-render-hinting=none",
]


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium driven by Debian's chromedriver (Selenium Manager is never asked: the
    driver's path is given and SE_OFFLINE is set), with the performance log on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager, if anything reached it, must not download
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root (CI containers)
    profile = tempfile.mkdtemp(prefix="newsarchive-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requests_seen(driver: Any) -> list[str]:
    """Every URL the browser asked for since the last call (DevTools Network.requestWillBeSent, from
    the performance log, which this call drains)."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def set_viewport(driver: Any, width: int, height: int) -> None:
    """The page's viewport to exactly ``width`` x ``height`` CSS pixels (a window size would include
    the browser's chrome), as a phone of that width shows it."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def _serve_with_access_log(argv: list[str]) -> None:
    """``newsarchive serve`` itself, with uvicorn's access log on (it runs at level warning)."""
    import uvicorn

    plain = uvicorn.Config.__init__

    def with_access_log(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.update(log_level="info", access_log=True)
        plain(self, *args, **kwargs)

    uvicorn.Config.__init__ = with_access_log  # type: ignore[method-assign]
    sys.stderr = sys.stdout  # one stream: the "serving … on" line and the access log, in order
    from newsarchive.cli import cli

    cli(argv, prog_name="newsarchive", standalone_mode=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        # not the checkout's folder first on sys.path: the installed package is what users run
        sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
        _serve_with_access_log(sys.argv[1:])
    else:
        sys.exit("usage: python browser_harness.py serve --db ARCHIVE --port 0")
