"""Regenerate docs/screenshots/: each page of the reading room at desktop and phone width.

    python bench/screenshots.py              # writes docs/screenshots/*.png
    python bench/screenshots.py --out DIR    # elsewhere

Builds the same archive as the browser tests (tests/browser_harness.py: the demo site and its media
crawled on loopback, one article edited and re-checked), serves it with ``newsarchive serve``, and
photographs each page with Debian's headless Chromium (apt-get install chromium chromium-driver;
pip install selenium): search results, an article, its history, a diff, the page as archived, the
sites page and one site. Desktop is a 1280x900 viewport, phone 390x844, both at one device pixel per
CSS pixel (small files). When ``pngquant`` is installed (Debian's package) the PNGs are quantized to
a palette, which makes them several times smaller. Nothing but loopback is contacted.
Exit code 1 when a page could not be photographed (it is named), 0 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import browser_harness as h  # noqa: E402

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
QUERY = "da nang"  # typed without diacritics; finds "Đà Nẵng" in several articles


def _first_link(driver: object, url: str, prefix: str) -> str | None:
    """The path (and query) of the first link of the page at ``url`` that starts with ``prefix``."""
    from selenium.webdriver.common.by import By

    driver.get(url)  # type: ignore[attr-defined]
    for link in driver.find_elements(By.CSS_SELECTOR, f'a[href^="{prefix}"]'):  # type: ignore[attr-defined]
        parts = urlsplit(link.get_attribute("href") or "")
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return None


def _compare(driver: object, url: str) -> str | None:
    """The diff the history page at ``url`` offers first (its compare form, as submitted)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)  # type: ignore[attr-defined]
    buttons = driver.find_elements(By.CSS_SELECTOR, "main form button[type=submit]")  # type: ignore[attr-defined]
    if not buttons:
        return None
    buttons[0].click()
    WebDriverWait(driver, 20).until(lambda d: d.current_url != url)
    parts = urlsplit(driver.current_url)  # type: ignore[attr-defined]
    return parts.path + (f"?{parts.query}" if parts.query else "")


def pages(driver: object, server: h.Server, article: int) -> list[tuple[str, str]]:
    """(name, path) of every page to photograph: the diff the history page offers, the site the
    sites page lists first."""
    diff = _compare(driver, server.url(f"/article/{article}/history"))
    site = _first_link(driver, server.url("/sites"), "/sites/")
    return [("search", f"/?q={QUERY.replace(' ', '+')}"), ("article", f"/article/{article}"),
            ("history", f"/article/{article}/history"), ("diff", diff or f"/article/{article}/diff?a=1&b=2"),
            ("archived", f"/article/{article}/archived"), ("sites", "/sites"), ("site", site or "/sites/127.0.0.1")]


def shoot(driver: object, url: str, size: tuple[int, int], target: Path) -> int:
    """Load ``url`` in a ``size`` viewport, wait for its images, save what the viewport shows as
    ``target``; its size in bytes."""
    from selenium.webdriver.support.ui import WebDriverWait

    width, height = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # type: ignore[attr-defined]
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.get(url)  # type: ignore[attr-defined]
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"))
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})  # type: ignore[attr-defined]
    target.write_bytes(base64.b64decode(shot["data"]))
    return target.stat().st_size


def squeeze(path: Path) -> None:
    """A palette PNG (pngquant), when the tool is there; the file is left as it is otherwise."""
    if shutil.which("pngquant"):
        subprocess.run(["pngquant", "--force", "--skip-if-larger", "--strip", "--speed", "1", "--quality", "0-90",
                        "--output", str(path), str(path)], check=False, capture_output=True)


def demo_port() -> int:
    """The port ``newsarchive demo`` uses (8123, its media on 8124), when both are free: the pages
    then show the addresses a reader of the README sees after running the demo; else free ones."""
    import socket

    for host, port in (("127.0.0.1", 8123), ("127.0.0.2", 8124)):
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return 0
    return 8123


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    why = h.missing_browser()
    if why:
        print(f"cannot take screenshots: {why}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "archive.db"
        print("crawling the demo site into a fresh archive…", file=sys.stderr)
        facts = h.build_archive(db, port=demo_port())
        import sqlite3

        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            (article,) = conn.execute("SELECT id FROM articles WHERE url = ?", (facts["url"],)).fetchone()
        server = h.Server(db)
        try:
            with h.chromium() as driver:
                for name, path in pages(driver, server, article):
                    for label, size in SIZES.items():
                        target = args.out / f"{name}-{label}.png"
                        before = len(server.access())
                        try:
                            shoot(driver, server.url(path), size, target)
                        except Exception as exc:  # noqa: BLE001 - a page that cannot load is reported, not fatal
                            failed.append(f"{path}: {type(exc).__name__}")
                            continue
                        status = None
                        for _ in range(50):  # the access log line is written as the answer goes out
                            status = next((s for _, p, s in server.access()[before:] if p == path), None)
                            if status is not None:
                                break
                            time.sleep(0.05)
                        if status != 200:
                            target.unlink()
                            failed.append(f"{path}: HTTP {status}")
                            continue
                        squeeze(target)
                        print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
                              f"  {target.stat().st_size // 1024} KB", file=sys.stderr)
        finally:
            server.close()
    total = sum(p.stat().st_size for p in args.out.glob("*.png"))
    print(f"{len(list(args.out.glob('*.png')))} screenshots, {total // 1024} KB in all", file=sys.stderr)
    for line in dict.fromkeys(failed):
        print(f"not photographed: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
