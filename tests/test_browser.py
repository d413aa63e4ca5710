"""The reading room tested as a person uses it: Debian's headless Chromium (driven by Selenium through
Debian's chromedriver) on ``newsarchive serve`` over a real archive (the demo site and its media
crawled, one article edited and re-checked). Search typed without diacritics, an article with its
images from the archive, its history, a diff, the as-archived view; the keyboard; a phone's width.
Throughout, the browser's own network log and the server's access log show that nothing was asked
of any other origin.

Skipped with a message where Chromium or chromedriver is absent; under CI (``CI=true``) their absence
fails (``.ci/run`` installs them).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import browser_harness as h
import pytest

PHONE = (360, 740)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


class Room:
    """The server, the browser, and what the browser has asked for so far."""

    def __init__(self, server: h.Server, driver: Any, article: int, facts: dict[str, Any], db: Path) -> None:
        self.server, self.driver, self.article, self.facts, self.db = server, driver, article, facts, db
        self.events: list[dict[str, Any]] = []

    # -- navigation ----------------------------------------------------------------------------

    def open(self, path: str) -> None:
        self.driver.get(self.server.url(path))
        self.settle()

    def settle(self, old_url: str | None = None) -> None:
        """Wait for a navigation (away from ``old_url``, when given) to finish loading."""
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(self.driver, 20)
        if old_url is not None:
            wait.until(lambda d: d.current_url != old_url)
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def follow(self, css: str) -> None:
        """Click the first link matching ``css``, as a person would, and wait for the page."""
        from selenium.webdriver.common.by import By

        link = self.driver.find_element(By.CSS_SELECTOR, css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
        old = self.driver.current_url
        link.click()
        self.settle(old)

    def answered(self, path: str) -> int | None:
        """The status the server's access log gives for ``path`` (its line is written as the answer
        goes out, so it may come a moment after the browser has the page: waited for, a bound)."""
        for _ in range(100):
            found = [s for _, p, s in self.server.access() if p == path]
            if found:
                return found[-1]
            time.sleep(0.05)
        return None

    def path(self) -> str:
        parts = urlsplit(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def texts(self, css: str) -> list[str]:
        from selenium.webdriver.common.by import By

        return [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, css)]

    # -- the browser's network log -------------------------------------------------------------

    def drain(self) -> list[dict[str, Any]]:
        """DevTools Network events since the last call (added to ``events``)."""
        new = [json.loads(entry["message"])["message"] for entry in self.driver.get_log("performance")]
        new = [m for m in new if m.get("method", "").startswith("Network.")]
        self.events.extend(new)
        return new

    def requested(self, events: list[dict[str, Any]] | None = None) -> list[str]:
        """URLs the browser asked for (Network.requestWillBeSent) in ``events`` (default: all so far)."""
        if events is None:
            self.drain()
            events = self.events
        return [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]

    def outside(self) -> list[str]:
        """Every network URL the browser tried that is not the server's. A load the browser itself
        refused (the page's Content-Security-Policy) never left it and is not counted."""
        self.drain()
        blocked = {e["params"]["requestId"] for e in self.events
                   if e["method"] == "Network.loadingFailed" and e["params"].get("blockedReason")}
        origin = urlsplit(self.server.base)
        out = []
        for e in self.events:
            if e["method"] != "Network.requestWillBeSent" or e["params"]["requestId"] in blocked:
                continue
            url = e["params"]["request"]["url"]
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue  # not a network request
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
                out.append(url[:200])
        return out

    def assert_local(self) -> None:
        assert self.outside() == [], "the browser asked another origin than the archive's server"
        errors = [a for a in self.server.access() if a[2] >= 500]
        assert errors == [], f"the server answered with errors: {errors}"


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    why = h.missing_browser()
    if why:
        if _in_ci():
            pytest.fail(f"the browser tests must run in CI: {why}")
        pytest.skip(f"browser tests skipped: {why}")
    db = tmp_path_factory.mktemp("reading-room") / "archive.db"
    facts = h.build_archive(db)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (article,) = conn.execute("SELECT id FROM articles WHERE url = ?", (facts["url"],)).fetchone()
    server = h.Server(db)
    try:
        with h.chromium() as driver:
            driver.get("about:blank")
            driver.get_log("performance")  # the browser's own start page is none of the archive's business
            yield Room(server, driver, article, facts, db)
    finally:
        server.close()


@pytest.fixture
def desktop(room: Room) -> Iterator[Room]:
    room.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    room.driver.set_window_size(1280, 900)
    yield room
    room.assert_local()


def test_the_network_check_sees_a_request_to_another_origin(room: Room) -> None:
    """The check every other test ends with can fail: a page asking another origin is caught (the
    address is a loopback one nothing serves)."""
    room.drain()
    mark = len(room.events)
    room.driver.get("data:text/html,<img src='http://127.0.0.9:9/elsewhere.png'>")
    room.settle()
    try:
        assert any(u.startswith("http://127.0.0.9:9/elsewhere.png") for u in room.outside()), room.requested()
    finally:
        del room.events[mark:]  # this test's own page is not the reading room's


def search_by_keyboard(room: Room, query: str) -> None:
    """From the home page: Tab to the search box (no mouse), type, Enter."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    room.open("/")
    # nothing focused: the first Tab goes to the page's first stop, as after a page load
    room.driver.execute_script("document.activeElement && document.activeElement.blur()")
    for _ in range(30):  # a bound: the box is within the first few stops of the header
        if room.driver.execute_script("return document.activeElement && document.activeElement.name") == "q":
            break
        ActionChains(room.driver).send_keys(Keys.TAB).perform()
    else:
        pytest.fail("the search box cannot be reached with the Tab key")
    box = room.driver.switch_to.active_element
    # the focus is visible: an outline or a shadow where the box has focus
    style = room.driver.execute_script(
        "const s = getComputedStyle(arguments[0]);"
        "return [arguments[0].matches(':focus-visible'), s.outlineStyle, s.outlineWidth, s.boxShadow]", box)
    assert style[0] and ((style[1] != "none" and style[2] != "0px") or style[3] != "none"), style
    box.clear()
    old = room.driver.current_url
    ActionChains(room.driver).send_keys(query).send_keys(Keys.ENTER).perform()
    room.settle(old)


def test_a_search_typed_without_diacritics_finds_and_opens_the_article_by_keyboard(desktop: Room) -> None:
    room = desktop
    search_by_keyboard(room, h.EDIT_QUERY)
    url = urlsplit(room.driver.current_url)
    assert url.path == "/" and parse_qs(url.query)["q"] == [h.EDIT_QUERY]  # the URL carries the query
    # "khanh hoa" finds "Khánh Hòa": the edited article, and no other has those words
    titles = room.texts(f'a[href="/article/{room.article}"]')
    assert h.EDIT_WORD in " ".join(titles), room.driver.page_source[:3000]
    assert room.answered(f"/?q={h.EDIT_QUERY.replace(' ', '+')}") == 200
    # on, by keyboard alone: Tab to the result, Enter opens it
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    target = f"/article/{room.article}"
    for _ in range(40):  # a bound: the results follow the header's few stops
        ActionChains(room.driver).send_keys(Keys.TAB).perform()
        if room.driver.execute_script("return document.activeElement.getAttribute('href')") == target:
            break
    else:
        pytest.fail("the search result cannot be reached with the Tab key")
    old = room.driver.current_url
    ActionChains(room.driver).send_keys(Keys.ENTER).perform()
    room.settle(old)
    assert room.path() == target
    # a search of a word of every article has more results, each a link to its article page
    room.open("/?q=tin")
    assert len(room.texts('a[href^="/article/"]')) >= 10


def images_loaded(room: Room) -> list[dict[str, Any]]:
    """Every image of the page, scrolled into view (lazy ones load) and waited for."""
    from selenium.webdriver.support.ui import WebDriverWait

    room.driver.execute_script(
        "for (const img of document.images) { img.loading = 'eager'; img.scrollIntoView(); }")
    WebDriverWait(room.driver, 20).until(
        lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"))
    return room.driver.execute_script(
        "return Array.from(document.images).map(i => ({src: i.currentSrc || i.src, w: i.naturalWidth,"
        " alt: i.alt, caption: (i.closest('figure') || {}).textContent || ''}))")


def test_a_person_reads_an_article_its_history_a_diff_and_the_page_as_archived(desktop: Room) -> None:
    room = desktop
    aid = room.article
    # search as typed on a keyboard without Vietnamese input, and open the result
    room.open(f"/?q={h.EDIT_QUERY.replace(' ', '+')}")
    room.follow(f'a[href="/article/{aid}"]')
    assert room.path() == f"/article/{aid}"
    assert room.driver.find_element("css selector", "h1").text == room.facts["title_after"]
    assert "Cập nhật: đoàn công tác đã đến Khánh Hòa" in room.driver.page_source

    # its images load, from the archive's media route
    images = [i for i in images_loaded(room) if "/media/" in i["src"]]
    assert len(images) >= 3, images  # the lead image, a shared photo, the image the edit added
    origin = room.server.base
    for image in images:
        assert image["src"].startswith(origin + "/media/") and image["w"] > 0, image
    assert any("Ảnh cập nhật tại Khánh Hòa" in i["caption"] for i in images), images
    for image in images:  # and the server's log has each of them answered
        assert room.answered(urlsplit(image["src"]).path) == 200, image

    # history: two versions (first seen, then the publisher's edit)
    room.follow(f'a[href="/article/{aid}/history"]')
    assert room.path() == f"/article/{aid}/history"
    assert len(room.driver.find_elements("css selector", "main tbody tr")) == 2, room.texts("main")
    # a diff of the two, as the page offers it (the form's two choices are the last two versions)
    old = room.driver.current_url
    room.driver.find_element("css selector", "main form button[type=submit]").click()
    room.settle(old)
    assert room.path().startswith(f"/article/{aid}/diff?")
    assert parse_qs(urlsplit(room.driver.current_url).query) == {"a": ["1"], "b": ["2"]}
    # word by word: the added words are marked as inserted, the replaced ones as deleted
    inserted = " ".join(room.texts(".diff ins"))
    assert "Khánh Hòa" in inserted and "vẫn" in inserted, room.texts("main")
    deleted = " ".join(room.texts(".diff del"))
    assert "tiếp tục" in deleted and "Khánh" not in deleted, deleted

    # the page as archived: shown inert, in a sandboxed frame from the archive
    room.open(f"/article/{aid}")
    before = len(room.server.access())
    room.drain()
    room.follow(f'a[href="/article/{aid}/archived"]')
    frame = room.driver.find_element("css selector", "iframe")
    assert frame.get_attribute("sandbox") is not None
    assert "allow-scripts" not in (frame.get_attribute("sandbox") or "")
    assert urlsplit(frame.get_attribute("src")).path == f"/article/{aid}/archived/page"
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(room.driver, 20).until(
        lambda d: any(p.startswith(f"/article/{aid}/archived/page") for _, p, _ in room.server.access()[before:]))
    # the stored page's images, from the archive: the frame's own requests, in the browser's log (the
    # wrapper has no image; so the sandboxed frame is no blind spot of the network check)
    frame_media: list[str] = []
    WebDriverWait(room.driver, 20).until(lambda d: len(frame_media.__iadd__(
        [u for u in room.requested(room.drain()) if urlsplit(u).path.startswith("/media/")])) >= 3)
    assert all(u.startswith(room.server.base + "/media/") for u in frame_media), frame_media
    asked = [p for _, p, _ in room.server.access()[before:]]
    # the server heard nothing but the archive's pages
    assert all(p.startswith((f"/article/{aid}/archived", "/media/", "/-/newsarchive/static/", "/favicon"))
               for p in asked), asked


def test_the_page_as_archived_is_inert_and_asks_nothing_outside(desktop: Room) -> None:
    room = desktop
    aid = room.article
    # the raw page had a stylesheet on a CDN name, images on the media host and links to its site:
    # opened on its own, the sanitized page asks for none of it
    raw = urllib.request.urlopen(room.server.url(f"/article/{aid}/archived/page"), timeout=20)
    csp = raw.headers.get("Content-Security-Policy", "")
    assert "default-src" in csp and "http" not in csp.replace(room.server.base, ""), csp
    room.drain()
    room.open(f"/article/{aid}/archived/page")
    found = room.driver.execute_script(
        "return {scripts: document.scripts.length, frames: document.querySelectorAll('iframe,frame,object,embed').length,"
        " forms: document.forms.length,"
        " handlers: Array.from(document.querySelectorAll('*')).filter(e => Array.from(e.attributes).some("
        "   a => a.name.startsWith('on'))).length,"
        " text: document.body ? document.body.innerText : ''}")
    assert (found["scripts"], found["frames"], found["forms"], found["handlers"]) == (0, 0, 0, 0), found
    assert "Khánh Hòa" in found["text"]  # it is the stored page, the edited version
    assert room.outside() == []
    # and the rebuild alone left nothing for the policy to stop (each guard is enough by itself)
    refused = [e["params"] for e in room.events if e["method"] == "Network.loadingFailed"
               and e["params"].get("blockedReason")]
    assert refused == [], refused


def test_phone_width_has_no_sideways_scroll(room: Room) -> None:
    """At 360 CSS pixels, the search results, the article, its history, a diff, the page as archived
    and the sites fit the screen's width (a wide table scrolls inside its own box, not the page)."""
    h.set_viewport(room.driver, *PHONE)
    try:
        for path in (f"/?q={h.EDIT_QUERY.replace(' ', '+')}", "/?q=tin", f"/article/{room.article}",
                     f"/article/{room.article}/history", f"/article/{room.article}/diff?a=1&b=2",
                     f"/article/{room.article}/archived", "/sites", "/sites/127.0.0.1"):
            room.open(path)
            assert room.answered(path) == 200, path  # the page itself, not an error page
            width, inner = room.driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]")
            assert inner == PHONE[0]
            assert width <= inner, f"{path}: {width}px wide in a {inner}px screen"
    finally:
        room.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    room.assert_local()


def test_the_sites_page_lists_the_archived_site(desktop: Room) -> None:
    room = desktop
    room.open("/")
    room.follow('a[href="/sites"]')
    assert room.path() == "/sites"
    assert "127.0.0.1" in room.driver.find_element("css selector", "main").text
    room.follow('a[href^="/sites/"]')
    assert room.path().startswith("/sites/")
    assert "12" in room.driver.find_element("css selector", "main").text  # the demo's 12 articles


def test_datasettes_own_pages_stay_reachable(desktop: Room) -> None:
    """The header's "Datasette" link leads to Datasette's stock page of the archive (its CSS and
    scripts are the server's too: the fixture's end checks them)."""
    room = desktop
    room.open("/")
    name = room.db.stem
    room.follow(f'header a[href="/{name}"]')
    assert room.path() == f"/{name}" and room.answered(f"/{name}") == 200
    assert "articles" in room.driver.find_element("css selector", "body").text
