"""The generic extractor, for pages that are not OneCMS: metadata from JSON-LD and OpenGraph,
the main text from trafilatura (a well-kept library, scored on the extraction benchmark)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.html

from .. import dates
from ..text import clean
from ..urls import absolute
from .blocks import image_src
from .common import first_text, ld_authors, ld_str, split_authors
from .page import Page, bound_attributes, flatten, text_of

NAME = "generic"
VERSION = "1.2.0"  # 1.2.0: images with captions (figures, JSON-LD image)
MIN_BODY = 250  # characters of main text below which a page without article metadata is refused
_HUGE_HTML = lxml.html.HTMLParser(
    huge_tree=True, remove_comments=True, remove_pis=True, no_network=True, collect_ids=False, default_doctype=False
)
_ARTICLE_TYPES = ("NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting",
                  "OpinionNewsArticle", "Report", "TechArticle", "LiveBlogPosting", "ScholarlyArticle")


def main_text(page: Page) -> str:
    """Main text as paragraphs separated by blank lines (trafilatura, comments excluded)."""
    import trafilatura  # imported lazily: OneCMS pages never need it

    # favor_precision: 0.964 F1 on the extraction benchmark against 0.960 for the defaults
    # trafilatura parses the page again: the text with the attribute cut our own parse had (a tag
    # of 60,000 attributes took its parse 12 s)
    source: Any = bound_attributes(page.text)
    if page.markup is not None:
        # A page past libxml2's limits: trafilatura's own parse would stop where ours first did,
        # so it gets a tree read with huge_tree from the markup our tree was read from.
        source = lxml.html.fromstring(page.markup, parser=_HUGE_HTML)
    try:
        text = trafilatura.extract(source, url=page.url, include_comments=False, favor_precision=True) or ""
    except RecursionError:  # too deep for its recursive passes: read it flattened, not lose it
        flat = lxml.html.fromstring(flatten(page.markup or source, strict=True), parser=_HUGE_HTML)
        text = trafilatura.extract(flat, url=page.url, include_comments=False, favor_precision=True) or ""
    blocks = [clean(b) for b in text.split("\n")]
    return "\n\n".join(b for b in blocks if b)


def _date(value: str | None, url: str) -> str | None:
    """An aware date keeps its own offset; a naive one only on a site whose offset we know (.vn)."""
    if not value:
        return None
    value = value.strip()
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        dt = None
    if dt is not None and dt.tzinfo is not None:
        return dt.replace(microsecond=0).isoformat()
    if (urlsplit(url).hostname or "").endswith(".vn"):
        return dates.parse_known(value, dates.VN)
    return None


_NOT_ARTICLE_PARTS = ("header", "nav", "footer", "aside")
_NOT_ARTICLE_CLASSES = re.compile(r"related|sidebar|footer|header|menu|nav|comment|share|promo|advert|\bads?\b", re.I)


def _ld_images(value: Any, base: str) -> list[dict[str, str | None]]:
    """JSON-LD ``image``: a URL, an ``ImageObject`` (``url``/``contentUrl``, ``caption``), or a list."""
    out: list[dict[str, str | None]] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            src, caption = item, None
        elif isinstance(item, dict):
            src = ld_str(item.get("url")) or ld_str(item.get("contentUrl"))
            caption = ld_str(item.get("caption")) or ld_str(item.get("description"))
        else:
            continue
        src = absolute(src.strip(), base) if src and src.strip() else None
        if src:
            out.append({"src": src, "caption": clean(caption) or None})
    return out


def images(page: Page, ld: dict[str, Any]) -> list[dict[str, str | None]]:
    """The article's images: its figures (inside ``article`` when the page has one), each image with
    its figure's caption, in page order, after the JSON-LD lead image(s)."""
    out = _ld_images(ld.get("image"), page.url)
    seen = {i["src"] for i in out}
    figures = page.root.iter("figure")
    articles = page.root.findall(".//article")
    if articles:
        figures = (f for a in articles for f in a.iter("figure"))
    for fig in figures:
        if any(a.tag in _NOT_ARTICLE_PARTS or _NOT_ARTICLE_CLASSES.search(a.get("class") or "")
               for a in fig.iterancestors()):
            continue
        cap_el = next(fig.iter("figcaption"), None)
        caption = text_of(cap_el) or None if cap_el is not None else None
        for img in fig.iter("img"):
            src = image_src(img, page.url)
            if src and src not in seen:
                seen.add(src)
                out.append({"src": src, "caption": caption})
    return out


def extract_generic(page: Page) -> dict[str, Any] | None:
    ld = page.ld_of_type(*_ARTICLE_TYPES) or {}
    meta = page.meta
    h1 = page.tag("h1")
    title = first_text(
        ld_str(ld.get("headline")),
        meta.get("og:title"),
        meta.get("twitter:title"),
        text_of(h1[0]) if h1 else None,
        page.title_tag(),
    )
    body = main_text(page)
    og_type = (meta.get("og:type") or "").lower()
    if not title or not body or (len(body) < MIN_BODY and not ld and og_type != "article"):
        return None
    sapo = first_text(ld_str(ld.get("description")), meta.get("og:description"), meta.get("description"))
    authors = ld_authors(ld)
    if not authors:
        for key in ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author"):
            value = meta.get(key)
            if value and not value.startswith("http"):
                authors = split_authors(value)
                break
    site_name = clean(meta.get("og:site_name")).lower()
    authors = [a for a in authors if a.lower() != site_name]
    published = _date(ld_str(ld.get("datePublished")), page.url) or _date(
        meta.get("article:published_time") or meta.get("og:article:published_time") or meta.get("date"), page.url
    )
    if published is None:
        for t in page.tag("time"):
            published = _date(t.get("datetime"), page.url)
            if published:
                break
    modified = _date(ld_str(ld.get("dateModified")), page.url) or _date(meta.get("article:modified_time"), page.url)
    if modified == published:
        modified = None
    section = first_text(ld_str(ld.get("articleSection")), meta.get("article:section"))
    tags: list[str] = []
    keywords = ld.get("keywords")
    raw_tags = keywords if isinstance(keywords, list) else (keywords or meta.get("keywords") or "").split(",")
    for t in raw_tags:
        t = clean(t) if isinstance(t, str) else ""
        if t and t not in tags:
            tags.append(t)
    return {
        "kind": "article",
        "title": title,
        "sapo": sapo,
        "dateline": None,
        "authors": authors,
        "published_at": published,
        "modified_at": modified,
        "section": section,
        "breadcrumb": [section] if section else [],
        "tags": tags,
        "body_text": body,
        "images": images(page, ld),
        "source": None,
    }
