"""The OneCMS (NEKO) extractor: every template and variant of shared/reference/onecms-anatomy.md.

Each field is an ordered chain of sources read from one parsed ``Page``; a missing source falls
through to the next. Older templates' chains stay active: sites serve old articles in old markup.
"""

from __future__ import annotations

import html as htmllib
import re
from typing import Any
from urllib.parse import urlsplit

from .. import dates
from ..text import clean, clean_or_none
from .blocks import Walker, image_src
from .common import first_text, ld_authors, ld_str, split_authors, split_dateline
from .page import Page, has_class, inside, text_of

NAME = "onecms"
# Bump whenever the output for some page changes (re-extraction keys on it).
VERSION = "1.1.0"

# Elements inside the entry that are never body text.
_SKIP_CLASSES = frozenset(
    """sc-longform-header sc-empty-layer vtranslate-author-translate c-box oneads AdsBetweenContent
    c-banner-inpage c-banner-item c-banner-section onecms_related onecms__vote quiz quiz-caption
    box-icon-top_ggnews c-share-detail c-share-scroll c-widget-tags c-comments c-article-reaction
    c-news-topmore c-news-topread c-news-readmore c-author-page c-powered ggnewsfollow
    c-detail-head c-video-detail__time c-video-detail__cat c-related related-news box-related
    article-relate tin-lien-quan""".split()
)
_JUNK_LINE = re.compile(
    r"^(?:>>|->|»)|^(?:bài|tin)\s+(?:liên quan|cùng chuyên mục)\s*:?$|^(?:xem|đọc)\s+thêm\s*:?$|"
    r"^cỡ chữ$|^mặc định$|^powered by\b",
    re.I,
)
_HOME = {"trang chủ", "home", "trang chu"}
_PHOTO_SECTIONS = ("/su-kien-qua-anh", "/phong-su-anh", "/infographic", "/anh", "/photo")
_WC = re.compile(r"WebControl\.(item_published_time|item_title|item_tags|item_id|PublishedTime)\s*=\s*(['\"])(.*?)\2")
_WC_CHANNEL = re.compile(r"channel_name\s*:\s*(['\"])(.*?)\1")
_GTAG_DATE = re.compile(r"articlePublishDate['\"]?\s*:\s*['\"]([^'\"]+)")


def is_onecms(page: Page) -> bool:
    """``1cdn.vn`` assets and (``WebControl`` or an ``onecms__`` class): true of every page seen."""
    text = page.text
    return "1cdn.vn" in text and ("WebControl" in text or any(k.startswith("onecms") for k in page.by_class.tokens()))


def _webcontrol(page: Page) -> dict[str, str]:
    out: dict[str, str] = {}
    if "WebControl" in page.scripts:
        for key, _, value in _WC.findall(page.scripts):
            out.setdefault(key, htmllib.unescape(value))
        m = _WC_CHANNEL.search(page.scripts)
        if m:
            out["channel_name"] = htmllib.unescape(m.group(2))
    return out


def _entry(page: Page) -> Any | None:
    """The body container, best first; the footer's own ``b-maincontent`` is never taken."""
    entries = page.by_class.get("entry", [])
    for el in entries:
        if inside(el, "c-news-detail") or has_class(el, "entry-no-padding"):
            return el
    for el in page.by_class.get("b-maincontent", []):
        if inside(el, "c-news-detail") and not inside(el, "l-footer"):
            return el
    for el in entries:
        if not inside(el, "l-footer") and not inside(el, "l-sidebar"):
            return el
    for el in page.by_class.get("descriptionx", []):
        return el
    return None


def _breadcrumb(page: Page) -> list[str]:
    items = page.by_class.get("breadcrumb-item") or [
        li for ol in page.by_class.get("breadcrumb", []) for li in ol.iter("li")
    ]
    names = [text_of(li) for li in items]
    names = [n for n in names if n and n.lower() not in _HOME]
    if names:
        return names
    crumbs = page.ld_of_type("BreadcrumbList")
    if crumbs:
        root = f"{urlsplit(page.url).scheme}://{urlsplit(page.url).netloc}".rstrip("/")
        elements = crumbs.get("itemListElement") or []
        elements = sorted(
            (e for e in elements if isinstance(e, dict)), key=lambda e: e.get("position") or 0
        )
        for e in elements:
            item = e.get("item") if isinstance(e.get("item"), dict) else {}
            name = clean(ld_str(e.get("name")) or ld_str(item.get("name")))
            ident = ld_str(item.get("@id")) or ld_str(e.get("item")) or ""
            is_root = ident.rstrip("/") in ("", root) if ident else False
            if name and name.lower() not in _HOME and not is_root:
                if name not in names:
                    names.append(name)
    return names


def _kind(page: Page, entry: Any | None, breadcrumb_urls: list[str]) -> str:
    if page.first("c-video-detail") is not None:
        return "video"
    if any("podcast_detail" in k for k in page.by_class.tokens()) or page.first("c-podcast-player") is not None:
        return "podcast"
    if entry is not None and has_class(entry, "longform") or page.first("longform") is not None:
        return "longform"
    path = urlsplit(page.meta.get("channel:url") or "").path
    paths = [path, *breadcrumb_urls]
    if any(p and any(p.rstrip("/").endswith(s) for s in _PHOTO_SECTIONS) for p in paths):
        return "photo"
    if "/emagazine" in paths or any(p.endswith("/emagazine") for p in paths if p):
        return "longform"
    return "article"


def extract_onecms(page: Page) -> dict[str, Any] | None:
    """The record's fields (all but url, site, fetched_at and extractor metadata), or None when
    the page is not an article (home, listing, tag page, preview)."""
    if "preview-mode" in (page.tag("body")[0].get("class") or "" if page.tag("body") else ""):
        return None
    wc = _webcontrol(page)
    ld = page.ld_of_type("NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting") or {}
    video = page.first("c-video-detail")
    podcast = next((page.first(k) for k in page.by_class.tokens() if "podcast_detail" in k), None)
    used: set[Any] = set()

    def pick(*classes: str, scope: Any | None = None) -> Any | None:
        for cls in classes:
            for el in page.by_class.get(cls, []):
                if scope is not None and scope not in el.iterancestors():
                    continue
                if text_of(el):
                    return el
        return None

    # -- title: visible headline first (JSON-LD can hold template defaults)
    title_el = pick("sc-longform-header-title", "c-detail-head__title")
    if title_el is None and video is not None:
        title_el = next((h for h in video.iter("h1")), None)
    if title_el is None and podcast is not None:
        title_el = next((h for h in podcast.iter("h1", "h2")), None)
        if title_el is None:
            title_el = pick("b-grid__title", scope=podcast)
    if title_el is not None:
        used.add(title_el)
    title = first_text(
        text_of(title_el) if title_el is not None else None,
        ld_str(ld.get("headline")),
        page.meta.get("og:title"),
        page.title_tag(),
        wc.get("item_title"),
    )
    entry = _entry(page)
    if not title or (entry is None and video is None and podcast is None):
        return None

    # -- sapo and dateline
    sapo_el = pick("sc-longform-header-sapo", "c-detail-head__desc", "fixh22", "c-video-detail__desc")
    if sapo_el is None:
        sapo_el = next(
            (el for el in page.by_class.get("desc", []) if el.tag in ("h2", "p") and text_of(el)),
            None,
        )
    if sapo_el is None and podcast is not None:
        sapo_el = pick("b-grid__desc", scope=podcast)
    if sapo_el is not None:
        used.add(sapo_el)
    raw_sapo = first_text(
        text_of(sapo_el) if sapo_el is not None else None,
        ld_str(ld.get("description")),
        page.meta.get("description"),
        page.meta.get("og:description"),
    )
    dateline, sapo = split_dateline(raw_sapo)

    # -- byline
    author_el = pick("sc-longform-header-author", "c-detail-head__author")
    if author_el is None and podcast is not None:
        author_el = pick("b-grid__author", scope=podcast)
    byline = text_of(author_el) if author_el is not None else ""
    video_time = pick("c-video-detail__time")
    if not byline and video_time is not None:
        parts = [p.strip() for p in re.split(r"\s+[-–|]\s+", text_of(video_time))]
        names = []
        for p in parts:
            if re.search(r"\d{1,2}[/-]\d{1,2}[/-]\d{4}|\d{1,2}:\d{2}", p):
                break
            names.append(p)
        byline = " - ".join(names)
    trailing = pick("vtranslate-author-translate")
    if not byline and trailing is not None:
        byline = text_of(trailing)
    authors = split_authors(byline) if byline else []
    if not authors:
        publisher = ld.get("publisher")
        publisher_name = ld_str(publisher.get("name")) if isinstance(publisher, dict) else None
        site_names = {
            clean(n).lower() for n in (page.meta.get("og:site_name"), page.meta.get("site_name"), publisher_name) if n
        }
        candidates = ld_authors(ld) or [page.meta.get("dable:author") or "", page.meta.get("author") or ""]
        for cand in candidates:
            cand = clean(cand)
            if cand and cand.lower() not in site_names and not cand.lower().startswith("báo "):
                authors = split_authors(cand)
                break

    # -- times: JSON-LD first (it has the seconds), then the visible header, then the US meta...
    date_el = pick("sc-longform-header-date")
    old_date_el = pick("c-detail-head__time")
    podcast_time = pick("b-grid__time", scope=podcast) if podcast is not None else None
    published = (
        dates.parse_iso(ld_str(ld.get("datePublished")) or "")
        or (dates.parse_any(text_of(date_el)) if date_el is not None else None)
        or dates.parse_us(page.meta.get("article:published_time") or "")
        or dates.parse_iso(page.meta.get("article:published_time") or "")
        or (dates.parse_any(text_of(old_date_el)) if old_date_el is not None else None)
        or _video_time(video_time)
        or (dates.parse_any(text_of(podcast_time)) if podcast_time is not None else None)
        or dates.parse_iso(wc.get("item_published_time") or wc.get("PublishedTime") or "", fake_z=True)
        or _gtag_date(page)
    )
    modified = dates.parse_iso(ld_str(ld.get("dateModified")) or "")
    if modified == published:
        modified = None

    # -- category
    breadcrumb = _breadcrumb(page)
    crumb_urls = [
        urlsplit(a.get("href") or "").path for li in page.by_class.get("breadcrumb-item", []) for a in li.iter("a")
    ]
    section = first_text(
        breadcrumb[-1] if breadcrumb else None,
        page.meta.get("article:section"),
        ld_str(ld.get("articleSection")),
        text_of(cate) if (cate := pick("sc-longform-header-cate", "c-video-detail__cat")) is not None else None,
        wc.get("channel_name"),
    )
    if not breadcrumb and section:
        breadcrumb = [section]

    # -- tags: the tag box, then the page's own tag data
    tags: list[str] = []
    for box in page.by_class.get("c-widget-tags", []) or page.by_class.get("c-tags", []):
        for a in box.iter("a"):
            t = text_of(a) or clean(a.get("title"))
            if t and t not in tags:
                tags.append(t)
    if not tags:
        raw = wc.get("item_tags") or page.meta.get("keywords") or ld_str(ld.get("keywords")) or ""
        for t in raw.split(","):
            t = clean(t)
            if t and t not in tags:
                tags.append(t)

    # -- body and images
    images: list[dict[str, str | None]] = []
    media = page.first("sc-longform-header-media")  # holds an image, usually no text
    if media is not None:
        for img in media.iter("img"):
            src = image_src(img, page.url)
            if src:
                images.append({"src": src, "caption": None})
                break

    def skip(el: Any) -> bool:
        if el in used:
            return True
        cls = el.get("class")
        if cls and not _SKIP_CLASSES.isdisjoint(cls.split()):
            return True
        return bool(el.get("id", "").startswith("zone-"))

    body_blocks: list[str] = []
    if entry is not None:
        walker = Walker(page.url, skip).run(entry)
        body_blocks = walker.blocks
        seen = {i["src"] for i in images}
        images += [i for i in walker.images if i["src"] not in seen]
    body_blocks = [b for b in body_blocks if not _JUNK_LINE.search(b)]
    # A byline repeated at the end of the body is the byline, not body text.
    byline_forms = {byline.lower(), *(a.lower() for a in authors), " - ".join(authors).lower()}
    while body_blocks and authors and (
        body_blocks[-1].lower() in byline_forms
        or (len(body_blocks[-1]) < 80 and split_authors(body_blocks[-1]) == authors)
    ):
        body_blocks.pop()
    captions = {i["caption"] for i in images if i["caption"]}
    body_blocks = [b for b in body_blocks if b not in captions and b != title and b != raw_sapo and b != sapo]

    # -- syndicated source
    source = None
    for box in page.by_class.get("c-author-page", []):
        text = clean(" ".join(t for t in box.itertext() if t))
        copy = next((el for el in box.iter() if el.get("id") == "url-copy"), None)
        if copy is not None:
            text = text.replace(text_of(copy), "").strip()
        m = re.search(r"Nguồn\s*:?\s*(.+)", text)
        if m:
            source = clean_or_none(m.group(1).strip(" :-"))
            break

    return {
        "kind": _kind(page, entry, crumb_urls),
        "title": title,
        "sapo": sapo,
        "dateline": dateline,
        "authors": authors,
        "published_at": published,
        "modified_at": modified,
        "section": section,
        "breadcrumb": breadcrumb,
        "tags": tags,
        "body_text": "\n\n".join(body_blocks),
        "images": images,
        "source": source,
        "article_id": ld_str(page.meta.get("dable:item_id")) or wc.get("item_id"),
    }


def _video_time(el: Any | None) -> str | None:
    if el is None:
        return None
    text = text_of(el)
    m = re.search(r"(\d{1,2}/\d{1,2}/\d{4})\s*(?:[-–|,]\s*)?(\d{1,2}:\d{2})", text)
    return dates.parse_visible(f"{m.group(1)} {m.group(2)}") if m else None


def _gtag_date(page: Page) -> str | None:
    m = _GTAG_DATE.search(page.scripts)
    return dates.parse_iso(m.group(1)) if m else None


__all__ = ["NAME", "VERSION", "extract_onecms", "is_onecms"]
