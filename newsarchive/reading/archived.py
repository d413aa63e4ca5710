"""The stored raw page, shown as it was archived and unable to act (``/article/<id>/archived``).

The wrapper page (the reading room's look) holds a sandboxed iframe (no scripts, forms, popups or
navigation of the top page, an opaque origin) of ``/article/<id>/archived/page``: the page rebuilt
from an allowlist, served with a Content-Security-Policy that forbids every request but images and
sound from this server. Three independent guards, each enough alone for its part:

1. **The rebuild** (:func:`inert_html`): the stored bytes decoded as the extractor decodes them,
   parsed by lxml, and written out again element by element from an allowlist of tags and
   attributes, every text and attribute value escaped by us (no serializer round trip a browser could
   read differently). Scripts, iframes, objects, embeds, form controls, SVG/MathML, ``meta``,
   ``base``, ``link`` and every attribute not on the list (``on*``, ``srcset``, ``formaction``,
   ``ping``…) are gone; links keep their target as text only (``data-href``); an image's ``src``
   becomes ``/media/<sha256>`` when the archive holds that file, and is dropped otherwise (its
   ``alt`` stays); CSS loses ``url()``, ``image-set()`` and ``@import``.
2. **The policy** (:data:`PAGE_CSP`): ``default-src 'none'`` — nothing may be fetched but images and
   media from this server (``'self'``) and the page's own inline styles; ``sandbox`` (no scripts).
3. **The frame**: ``<iframe sandbox>`` on the wrapper page.

Never a request to the live site from the reader's browser.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from ..extract.page import MAX_ATTRS, cut_attributes  # noqa: F401  (MAX_ATTRS: the documented bound)
from . import TooSlow, archive_path, page, read
from .article import ID, _utc, article_id, bounded, media_store, not_found

PAGE_CSP = ("default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; font-src 'none';"
            " form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox")
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "private, max-age=3600",
}

# -- the allowlist -------------------------------------------------------------------------------------

KEEP = frozenset("""
html head body title style div span p br hr h1 h2 h3 h4 h5 h6 a em strong b i u s small sub sup mark q
cite blockquote pre code kbd samp var abbr dfn time ul ol li dl dt dd table thead tbody tfoot tr td th caption
colgroup col figure figcaption img header footer nav main article section aside address details summary
wbr del ins big tt center audio video strike
""".split())
# gone with everything inside them: active content, form controls, foreign markup (SVG and MathML
# can carry script and links), and the elements whose content browsers and libxml2 read differently
DROP = frozenset("""
script noscript iframe frame frameset object embed applet param portal fencedframe canvas template slot
input button select option optgroup textarea datalist keygen output progress meter
svg math link meta base source track map area noembed noframes xmp plaintext listing dialog
""".split())
# noscript is dropped: with scripting off (the sandbox) a browser would show its content, which is
# markup made for that case only (lazy-image fallbacks, "enable JavaScript" notes)

ATTRS = frozenset("""
class id title lang dir align valign width height alt colspan rowspan headers scope span start reversed
type datetime open controls border cellpadding cellspacing bgcolor color nowrap summary abbr
""".split())
VOID = frozenset("br hr img col wbr".split())
# void in HTML but not to libxml2, which nests what follows them inside: dropped, their "content" kept
VOID_DROPPED = frozenset("embed source track keygen param area base link meta input".split())
MAX_DEPTH = 400  # lxml stops at 256 levels without huge_tree; a bound of our own all the same
# bounds on the work one request may cause (an article page has a few hundred elements and images; a
# hostile 16 MiB page could have a million): past them the rest of the page is left out, said so
MAX_ELEMENTS = 100_000
MAX_MEDIA = 2_000  # images and players whose address is looked up in the archive
# bounds on what reaches the parser: libxml2's work grows with the markup given, not with what is
# written, so a hostile page is cut before parsing (said so on the page). Characters: the crawl
# keeps pages up to 16 MiB. Tags ("<"): a page cut past them still fills MAX_ELEMENTS.
MAX_SOURCE = 16 * 1024 * 1024
MAX_TAGS = 250_000
# attributes per tag past MAX_ATTRS are cut before parsing (libxml2's k² check: extract.page)
MAX_CSS = 2 * 1024 * 1024  # characters of one stylesheet (a larger one is dropped whole)
MAX_STORED = 4 * MAX_SOURCE  # bytes of a stored page inflated
# pages rebuilt at once: a hostile 16 MiB page holds ~200 MB while it is rebuilt, and the server's
# threads could otherwise rebuild six at a time; the others wait their turn
BUILDING = threading.BoundedSemaphore(2)

# CSS that could fetch: url(), image-set() and the like (strings inside them are addresses), @import
_CSS_FETCH = re.compile(r"(?:url|image|image-set|-webkit-image-set|cross-fade|-webkit-cross-fade|src|element)\s*\(",
                        re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)  # to the end when unclosed: one pass, linear
_PAREN = re.compile(r"[()]")
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.IGNORECASE)
_CSS_BAD = re.compile(r"\\|expression|javascript|behavior|binding|@namespace|</", re.IGNORECASE)
# a link target kept as text: http(s), or relative (javascript:, data: and the like are not kept at all)
_WEB_LINK = re.compile(r"(?:https?:|/|\.|\?|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
_CONTROLS = re.compile(r"[\x00-\x20\x7f]")
# placeholders sites put in src while the real address is in data-src (as the extractor reads it)
_LAZY = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-srcset-src", "src")


def clean_style_attr(value: str) -> str | None:
    # a comment is a space to CSS: "url/**/(" is no function, but checked as "url (" all the same
    value = _CSS_COMMENT.sub(" ", value)
    if len(value) > MAX_CSS or _CSS_BAD.search(value) or _CSS_FETCH.search(value) or "@" in value:
        return None
    return value


def clean_stylesheet(css: str) -> str | None:
    """A ``<style>`` element's text without anything that fetches (None: dropped whole, when it has
    escapes or constructs that could hide a fetch)."""
    if len(css) > MAX_CSS or _CSS_BAD.search(css):
        return None
    css = _CSS_IMPORT.sub("", _CSS_COMMENT.sub(" ", css))
    out, i = [], 0
    for m in _CSS_FETCH.finditer(css):  # the function and its balanced parentheses become "none"
        if m.start() < i:
            continue
        depth, j = 1, len(css)  # unclosed: to the end
        for p in _PAREN.finditer(css, m.end()):  # parentheses only (a character loop took 12 s on 8 MB)
            depth += 1 if p.group() == "(" else -1
            if not depth:
                j = p.end()
                break
        out.append(css[i:m.start()] + "none")
        i = j
    out.append(css[i:])
    css = "".join(out)
    return css if "<" not in css else None


def image_url(el: Any, page_url: str) -> str | None:
    """The real address of an ``<img>`` as the media pipeline stored it (lazy ``data-src`` over a
    placeholder ``src``, made absolute), or None."""
    from ..media import _absolute

    for name in _LAZY:
        url = _absolute(el.get(name), page_url)
        if url:
            return url
    return None


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def inert_html(text: str, page_url: str, held: Callable[[Iterable[str]], dict[str, str]]) -> str:
    """The page rebuilt from the allowlist (module docstring). ``held(urls)`` maps the image and
    audio addresses the archive holds to their SHA-256."""
    from lxml import etree

    text, cut = bounded_source(text)
    # plain etree elements: lxml.html's element class lookup cost a second per million elements
    parser = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
    try:
        root = etree.fromstring(text.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        root = None
    if root is None:
        return "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body></body></html>"

    media_urls: dict[Any, str] = {}
    for n, el in enumerate(root.iter("img", "audio", "video")):
        if n >= MAX_MEDIA:
            break
        url = image_url(el, page_url) if el.tag == "img" else _media_source(el, page_url)
        if url:
            media_urls[el] = url
    shas = held(set(media_urls.values())) if media_urls else {}

    out: list[str] = ["<!DOCTYPE html>\n"]

    def attrs(el: Any) -> str:
        parts: list[str] = []
        tag = el.tag
        for name, value in el.attrib.items():
            name = str(name).lower()
            if name == "style":
                cleaned = clean_style_attr(value)
                if cleaned is not None:
                    parts.append(f' style="{_esc(cleaned)}"')
            elif name in ATTRS:
                parts.append(f' {name}="{_esc(value)}"')
            elif name == "href" and tag == "a":
                target = value.strip()
                if target.startswith("#"):
                    parts.append(f' href="{_esc(target)}"')
                elif _WEB_LINK.match(_CONTROLS.sub("", target)):
                    # kept to be read, never followed: a click would reach the live site
                    parts.append(f' data-href="{_esc(target)}"')
        if tag in ("img", "audio", "video"):
            url = media_urls.get(el)
            sha = shas.get(url) if url else None
            if sha:
                parts.append(f' src="/media/{sha}"')
            elif url:
                parts.append(f' data-original-src="{_esc(url)}" data-not-archived=""')
        return "".join(parts)

    count = 0

    def walk(el: Any, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            if count == MAX_ELEMENTS + 1:
                out.append(f"<p>[newsarchive: the rest of this page, past {MAX_ELEMENTS:,} elements, is not shown]</p>")
            return
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is not None:
            tag = tag.lower()
        if tag is None or depth > MAX_DEPTH or tag in DROP and tag not in VOID_DROPPED:
            pass  # comments, processing instructions and dropped elements: nothing of them
        elif tag == "style":
            css = clean_stylesheet(el.text or "")
            if css:
                out.append(f"<style>{css}</style>")
        elif tag in KEEP:
            if tag == "head":
                out.append('<head><meta charset="utf-8"><meta name="referrer" content="no-referrer">')
            else:
                out.append(f"<{tag}{attrs(el)}>")
            if el.text and tag not in VOID:
                out.append(_esc(el.text))
            for child in el:
                if count > MAX_ELEMENTS:  # the rest is not written: not visited either
                    break
                walk(child, depth + 1)
            if tag not in VOID:
                out.append(f"</{tag}>")
        else:  # unknown or presentational (form, font, custom tags), or void dropped: its content only
            if el.text:
                out.append(_esc(el.text))
            for child in el:
                if count > MAX_ELEMENTS:
                    break
                walk(child, depth + 1)
        if el.tail and depth > 0:
            out.append(_esc(el.tail))

    if root.find("head") is None:
        root.insert(0, etree.Element("head"))
    walk(root, 0)
    if cut and count <= MAX_ELEMENTS:
        out.append(f"<p>[newsarchive: the rest of this page, past {cut}, is not shown]</p>")
    return "".join(out)


_LT = re.compile("<")


def bounded_source(text: str) -> tuple[str, str | None]:
    """The markup the parser is given: at most MAX_SOURCE characters and MAX_TAGS tags, each with at
    most MAX_ATTRS attributes; and what was cut, said as the page says it (None: nothing)."""
    cut = None
    if len(text) > MAX_SOURCE:
        text, cut = text[:MAX_SOURCE], f"{MAX_SOURCE:,} characters"
    if text.count("<") > MAX_TAGS:
        for n, m in enumerate(_LT.finditer(text)):
            if n == MAX_TAGS:
                text, cut = text[:m.start()], f"{MAX_TAGS:,} tags"
                break
    return cut_attributes(text), cut  # (linear: the regex took k² on "<a<a<a…")


def _media_source(el: Any, page_url: str) -> str | None:
    from ..media import _absolute

    url = _absolute(el.get("src"), page_url)
    if url:
        return url
    for source in el.iter("source"):
        url = _absolute(source.get("src"), page_url)
        if url:
            return url
    return None


# -- the pages -----------------------------------------------------------------------------------------

def _stored_page(conn: sqlite3.Connection, article: int, rev: int | None) -> dict[str, Any] | None:
    """The raw page of a version (``rev``), or the latest one; by ``(article, …)`` keys."""
    if rev is None:
        row = conn.execute("SELECT id, url, status, headers, body, body_sha256, fetched_at FROM pages"
                           " WHERE article = ? ORDER BY fetched_at DESC, id DESC LIMIT 1", (article,)).fetchone()
    else:
        row = conn.execute("SELECT p.id, p.url, p.status, p.headers, p.body, p.body_sha256, p.fetched_at"
                           " FROM revisions r JOIN pages p ON p.id = r.page WHERE r.article = ? AND r.revision = ?",
                           (article, rev)).fetchone()
    if row is None:
        return None
    page_id, url, status, headers, body, sha, fetched = row
    # inflated up to a bound: the crawl keeps pages up to 16 MiB, but an archive file is read, not trusted
    inflate = zlib.decompressobj()
    raw = inflate.decompress(body, MAX_STORED)
    return {"id": page_id, "url": url, "status": status, "headers": json.loads(headers) if headers else None,
            "body": raw, "cut": bool(inflate.unconsumed_tail), "sha256": sha, "fetched_at": fetched}


def _rev_arg(request: Any) -> int | None | bool:
    value = request.args.get("rev", "").strip()
    if not value:
        return None
    return int(value) if value.isdigit() and len(value) < 10 else False


async def _load(request: Any, datasette: Any) -> tuple[int | None, Any, dict[str, Any] | None]:
    article = article_id(request)
    rev = _rev_arg(request)
    if article is None or rev is False:
        return article, rev, None

    def run(conn: sqlite3.Connection) -> tuple[str | None, dict[str, Any] | None]:
        row = conn.execute("SELECT title FROM articles WHERE id = ?", (article,)).fetchone()
        if row is None:
            return None, None
        return row[0], _stored_page(conn, article, rev)

    title, stored = await read(datasette, run)
    if title is None:
        return None, rev, None
    return article, rev, {"title": title, "page": stored}


async def archived_wrapper(request: Any, datasette: Any) -> Any:
    article, rev, found = await _load(request, datasette)
    if article is None or found is None and rev is not False:
        return not_found(datasette, request.url_vars.get("id", ""))
    if rev is False:
        return page(datasette, "archived.html", {"id": article, "title": "", "error": "rev là số phiên bản."},
                    status=400)
    stored = found["page"]
    context: dict[str, Any] = {"id": article, "title": found["title"], "rev": rev}
    if stored is None:
        return page(datasette, "archived.html", {**context, "error": "Kho không giữ trang gốc của "
                    + (f"phiên bản {rev}." if rev else "bài viết này.")}, status=404)
    from ..extract.page import header

    context.update(url=stored["url"], status=stored["status"], fetched_utc=_utc(stored["fetched_at"]),
                   size=len(stored["body"]), cut=stored["cut"], sha256=stored["sha256"],
                   content_type=header(stored["headers"], "content-type") if stored["headers"] else None,
                   frame=f"/article/{article}/archived/page" + (f"?rev={rev}" if rev else ""))
    return page(datasette, "archived.html", context)


async def archived_page(request: Any, datasette: Any) -> Any:
    from datasette.utils.asgi import Response

    try:
        article, rev, found = await _load(request, datasette)
    except TooSlow as exc:
        return Response.text(str(exc), status=503, headers=PAGE_HEADERS)
    if article is None or found is None or found["page"] is None:
        return Response.text("not in the archive", status=404 if rev is not False else 400, headers=PAGE_HEADERS)
    stored = found["page"]
    path = archive_path(datasette)

    def build() -> str:
        from ..extract.page import decode

        store = media_store(path)

        def held(urls: Iterable[str]) -> dict[str, str]:
            return {u: h.sha256 for u, h in store.held(urls).items()} if store is not None else {}

        with BUILDING:
            return inert_html(decode(stored["body"], stored["headers"]), stored["url"], held)

    body = await asyncio.to_thread(build)  # a large page takes a moment: off the server's loop
    return Response.html(body, headers=PAGE_HEADERS)


ROUTES = [
    (rf"^/article/{ID}/archived$", bounded(archived_wrapper)),
    (rf"^/article/{ID}/archived/page$", archived_page),
]

__all__ = ["PAGE_CSP", "clean_style_attr", "clean_stylesheet", "inert_html"]
