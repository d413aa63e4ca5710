"""The OneCMS (NEKO) parsers: one class per template family of shared/reference/onecms-anatomy.md.

Modelled on Fundus's publisher parsers, with one difference: OneCMS sites serve old and new
templates side by side (anatomy §15.8), so the parser is chosen by *detecting* the template on the
page, never by date. ``parser_for(page)`` walks the family tree below, most specific first::

    OneCMSParser                 no known header: every template's chains (anatomy §3.2)
    ├── VideoParser              div.c-video-detail (§5 Video)
    ├── PodcastParser            section_podcast_detail… / c-podcast-player (§5 Podcast)
    ├── CurrentParser            div.sc-longform-header (§3.1)
    │   ├── LongformParser       .entry.longform, or an /emagazine section (§5 Longform)
    │   └── PhotoParser          a photo-story section (§5 Photo story)
    └── OlderParser              h1.c-detail-head__title (§5 older template)

and a page that carries a ``div.c-author-page`` source box (§5 Syndicated; any template: the older
nguoiquansat page has one) is read by that family's syndicated variant (``Syndicated`` mixed in).

Each record field is one method over the parsed ``Page`` (``title()``, ``authors()``, …); the
selectors are class attributes, so a variant, or a site profile (``newsarchive.sites.Site.parsers``),
overrides only what differs. Fields do not depend on the order they are read in: what a field
excludes (the body excludes the title, sapo and byline elements) it computes from the page itself,
through cached helpers that are pure functions of the page.

``extractor_version`` is per class: bump it whenever the class's output changes for some page
(``reparse`` keys on it; tests/test_real_pages.py fails on a golden record that changed without a
bump).
"""

from __future__ import annotations

import html as htmllib
import re
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlsplit

import lxml.etree

from .. import dates
from ..text import clean, clean_or_none
from .blocks import Walker, image_src
from .common import first_of, first_text, ld_authors, ld_str, split_authors, split_dateline
from .page import Page, has_class, inside

NAME = "onecms"
VERSION = "1.2.0"  # the version every family starts from; each class may move on alone

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
_GET = lxml.etree._Element.get
_PHOTO_SECTIONS = ("/su-kien-qua-anh", "/phong-su-anh", "/infographic", "/anh", "/photo")
_WC = re.compile(r"WebControl\.(item_published_time|item_title|item_tags|item_id|PublishedTime)\s*=\s*(['\"])(.*?)\2")
_WC_CHANNEL = re.compile(r"channel_name\s*:\s*(['\"])(.*?)\1")
_GTAG_DATE = re.compile(r"articlePublishDate['\"]?\s*:\s*['\"]([^'\"]+)")
_HAS_TIME = re.compile(r"\d{1,2}[/-]\d{1,2}[/-]\d{4}|\d{1,2}:\d{2}")
_VIDEO_PARTS = re.compile(r"\s+[-–|]\s+")
_VIDEO_TIME = re.compile(r"(\d{1,2}/\d{1,2}/\d{4})\s*(?:[-–|,]\s*)?(\d{1,2}:\d{2})")

FIELDS: tuple[str, ...] = (
    "kind", "title", "sapo", "dateline", "authors", "published_at", "modified_at", "section",
    "breadcrumb", "tags", "body_text", "images", "source", "article_id",
)


def is_onecms(page: Page) -> bool:
    """``1cdn.vn`` assets and (``WebControl`` or an ``onecms__`` class): true of every page seen."""
    return page.contains("1cdn.vn") and (page.contains("WebControl") or page.by_class.any_token("onecms", start=True))


def _channel_paths(page: Page) -> list[str]:
    """The page's own category paths: ``channel:url`` meta and the visible breadcrumb links
    (computed once per page: detection and ``kind`` both ask)."""
    paths = page.__dict__.get("_channel_paths")
    if paths is None:
        paths = [urlsplit(page.meta.get("channel:url") or "").path]
        for li in page.by_class.get("breadcrumb-item", []):
            paths += [urlsplit(a.get("href") or "").path for a in li.iter("a")]
        page.__dict__["_channel_paths"] = paths
    return paths


def _in_photo_section(page: Page) -> bool:
    return any(p and any(p.rstrip("/").endswith(s) for s in _PHOTO_SECTIONS) for p in _channel_paths(page))


def _in_emagazine(page: Page) -> bool:
    paths = _channel_paths(page)
    return "/emagazine" in paths or any(p.endswith("/emagazine") for p in paths if p)


def _parse_format(text: str, fmt: str) -> str | None:
    """``text`` in one strptime shape of a site's profile, as local (+07:00) time."""
    try:
        dt = datetime.strptime(text.strip().strip("|").strip(), fmt)
    except ValueError:
        return None
    return dates.iso(dt.replace(tzinfo=dates.VN)) if dt.tzinfo is None else dates.iso(dt)


class OneCMSParser:
    """A OneCMS article page whose header markup is none of the known families: every template's
    chain of sources, in the anatomy's orders. The families below narrow or extend it."""

    family: ClassVar[str] = "onecms"  # the name site profiles use for this class's overrides
    kind_name: ClassVar[str] = "article"
    extractor_version: ClassVar[str] = VERSION
    children: ClassVar[tuple[type[OneCMSParser], ...]] = ()

    # -- selectors (class tokens, best first)
    title_classes: ClassVar[tuple[str, ...]] = ("sc-longform-header-title", "c-detail-head__title")
    sapo_classes: ClassVar[tuple[str, ...]] = ("sc-longform-header-sapo", "c-detail-head__desc", "fixh22")
    sapo_desc_tags: ClassVar[tuple[str, ...]] = ("h2", "p")  # the older template's h2.desc / p.desc
    author_classes: ClassVar[tuple[str, ...]] = ("sc-longform-header-author", "c-detail-head__author")
    end_byline_classes: ClassVar[tuple[str, ...]] = ("vtranslate-author-translate",)
    header_time_classes: ClassVar[tuple[str, ...]] = ("sc-longform-header-date",)
    older_time_classes: ClassVar[tuple[str, ...]] = ("c-detail-head__time",)
    date_formats: ClassVar[tuple[str, ...]] = ()  # a site's own strptime shapes, tried before the known ones
    category_classes: ClassVar[tuple[str, ...]] = ("sc-longform-header-cate",)
    tag_box_classes: ClassVar[tuple[str, ...]] = ("c-widget-tags", "c-tags")
    lead_media_classes: ClassVar[tuple[str, ...]] = ("sc-longform-header-media",)
    skip_classes: ClassVar[frozenset[str]] = _SKIP_CLASSES
    ld_types: ClassVar[tuple[str, ...]] = ("NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting")

    def __init__(self, page: Page) -> None:
        self.page = page

    # -- detection ------------------------------------------------------------------------

    @classmethod
    def detect(cls, page: Page) -> bool:
        return True

    @classmethod
    def choose(cls, page: Page) -> type[OneCMSParser]:
        """The most specific family under this one whose markup the page carries."""
        for child in cls.__dict__.get("children", ()):  # a class's own children, never inherited
            if child.detect(page):
                return child.choose(page)
        return cls

    # -- the record ------------------------------------------------------------------------

    def is_article(self) -> bool:
        """False for a home, listing, tag page or preview: ``extract`` raises ``NotAnArticle``."""
        body = self.page.tag("body")
        if body and "preview-mode" in (body[0].get("class") or ""):
            return False
        return bool(self.title()) and self._has_container()

    def _has_container(self) -> bool:
        return self.entry is not None

    def fields(self) -> dict[str, Any]:
        """Every field (strict: exceptions propagate; ``extract`` wraps them)."""
        return {name: getattr(self, name)() for name in FIELDS}

    # -- shared views of the page (cached: pure functions of the page) ------------------------

    @cached_property
    def ld(self) -> dict[str, Any]:
        return self.page.ld_of_type(*self.ld_types) or {}

    @cached_property
    def wc(self) -> dict[str, str]:
        out: dict[str, str] = {}
        scripts = self.page.scripts
        if "WebControl" in scripts:
            for key, _, value in _WC.findall(scripts):
                out.setdefault(key, htmllib.unescape(value))
            m = _WC_CHANNEL.search(scripts)
            if m:
                out["channel_name"] = htmllib.unescape(m.group(2))
        return out

    def pick(self, classes: tuple[str, ...], scope: Any | None = None) -> Any | None:
        """The first element, by class order, that has text (inside ``scope`` when given)."""
        for cls in classes:
            for el in self.page.by_class.get(cls, []):
                if scope is not None and scope not in el.iterancestors():
                    continue
                if self.page.text_of(el):
                    return el
        return None

    @cached_property
    def entry(self) -> Any | None:
        """The body container, best first; the footer's own ``b-maincontent`` is never taken."""
        page = self.page
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

    @cached_property
    def title_el(self) -> Any | None:
        return self.pick(self.title_classes)

    @cached_property
    def sapo_el(self) -> Any | None:
        el = self.pick(self.sapo_classes)
        if el is None and self.sapo_desc_tags:
            text = self.page.text_of
            el = next((e for e in self.page.by_class.get("desc", []) if e.tag in self.sapo_desc_tags and text(e)), None)
        return el

    @cached_property
    def raw_sapo(self) -> str | None:
        """The sapo as printed, dateline included."""
        return first_text(
            self.page.text_of(self.sapo_el) if self.sapo_el is not None else None,
            ld_str(self.ld.get("description")),
            self.page.meta.get("description"),
            self.page.meta.get("og:description"),
        )

    @cached_property
    def byline_el(self) -> Any | None:
        """The visible element that holds the byline, if one does."""
        return self.pick(self.author_classes)

    def _family_byline(self) -> str:
        """A family's own byline source, between the header and the one repeated at the end."""
        return ""

    @cached_property
    def byline(self) -> str:
        if self.byline_el is not None and (text := self.page.text_of(self.byline_el)):
            return text
        if text := self._family_byline():
            return text
        trailing = self.pick(self.end_byline_classes)
        return self.page.text_of(trailing) if trailing is not None else ""

    @cached_property
    def _authors(self) -> list[str]:
        authors = split_authors(self.byline) if self.byline else []
        if authors:
            return authors
        ld, meta = self.ld, self.page.meta
        publisher = ld.get("publisher")
        publisher_name = ld_str(publisher.get("name")) if isinstance(publisher, dict) else None
        site_names = {clean(n).lower() for n in (meta.get("og:site_name"), meta.get("site_name"), publisher_name) if n}
        candidates = ld_authors(ld) or [meta.get("dable:author") or "", meta.get("author") or ""]
        for cand in candidates:
            cand = clean(cand)
            if cand and cand.lower() not in site_names and not cand.lower().startswith("báo "):
                return split_authors(cand)
        return []

    def _visible_time(self, classes: tuple[str, ...]) -> str | None:
        el = self.pick(classes) if classes else None
        if el is None:
            return None
        text = self.page.text_of(el)
        for fmt in self.date_formats:  # a site profile's own shapes first
            found = _parse_format(text, fmt)
            if found:
                return found
        return dates.parse_any(text)

    def _family_time(self) -> str | None:
        """A family's own visible time (video, podcast), after the older header's."""
        return None

    @cached_property
    def breadcrumb_items(self) -> list[str]:
        page = self.page
        items = page.by_class.get("breadcrumb-item") or [
            li for ol in page.by_class.get("breadcrumb", []) for li in ol.iter("li")
        ]
        names = [self.page.text_of(li) for li in items]
        names = [n for n in names if n and n.lower() not in _HOME]
        if names:
            return names
        crumbs = page.ld_of_type("BreadcrumbList")
        if crumbs:
            root = f"{urlsplit(page.url).scheme}://{urlsplit(page.url).netloc}".rstrip("/")
            elements = crumbs.get("itemListElement") or []
            elements = sorted((e for e in elements if isinstance(e, dict)), key=lambda e: e.get("position") or 0)
            for e in elements:
                item = e.get("item") if isinstance(e.get("item"), dict) else {}
                name = clean(ld_str(e.get("name")) or ld_str(item.get("name")))
                ident = ld_str(item.get("@id")) or ld_str(e.get("item")) or ""
                is_root = ident.rstrip("/") in ("", root) if ident else False
                if name and name.lower() not in _HOME and not is_root and name not in names:
                    names.append(name)
        return names

    @cached_property
    def _section(self) -> str | None:
        crumbs = self.breadcrumb_items
        meta = self.page.meta

        def category() -> str | None:
            cate = self.pick(self.category_classes)
            return self.page.text_of(cate) if cate is not None else None

        return first_of(
            lambda: crumbs[-1] if crumbs else None,
            lambda: meta.get("article:section"),
            lambda: ld_str(self.ld.get("articleSection")),
            category,
            lambda: self.wc.get("channel_name"),
        )

    def body_excluded(self) -> set[Any]:
        """Elements inside the entry that belong to other fields (title, sapo, byline)."""
        return {el for el in (self.title_el, self.sapo_el, self.byline_el) if el is not None}

    def lead_images(self) -> list[dict[str, str | None]]:
        """The lead image of the header (longform), before the body's."""
        for cls in self.lead_media_classes:
            media = self.page.first(cls)
            if media is not None:
                for img in media.iter("img"):
                    src = image_src(img, self.page.url)
                    if src:
                        return [{"src": src, "caption": None}]
                return []
        return []

    @cached_property
    def _body(self) -> tuple[list[str], list[dict[str, str | None]]]:
        """(body blocks, images), read in one walk of the entry."""
        images = self.lead_images()
        # Every element the body skips by class, from the page's class index (one set lookup per
        # element, not its class attribute read and split).
        skipped = self.body_excluded()
        by_class = self.page.by_class
        for cls in self.skip_classes:
            skipped.update(by_class.get(cls, ()))

        def skip(el: Any) -> bool:
            return el in skipped or (_GET(el, b"id") or "").startswith("zone-")  # (bytes: no encoding)

        blocks: list[str] = []
        if self.entry is not None:
            walker = Walker(self.page.url, skip).run(self.entry)
            blocks = walker.blocks
            seen = {i["src"] for i in images}
            images += [i for i in walker.images if i["src"] not in seen]
        blocks = [b for b in blocks if not _JUNK_LINE.search(b)]
        # A byline repeated at the end of the body is the byline, not body text.
        authors, byline = self._authors, self.byline
        forms = {byline.lower(), *(a.lower() for a in authors), " - ".join(authors).lower()}
        while blocks and authors and (
            blocks[-1].lower() in forms or (len(blocks[-1]) < 80 and split_authors(blocks[-1]) == authors)
        ):
            blocks.pop()
        sapo = split_dateline(self.raw_sapo)[1]
        not_body = {i["caption"] for i in images if i["caption"]} | {self.title(), self.raw_sapo, sapo}
        return [b for b in blocks if b not in not_body], images

    # -- fields ------------------------------------------------------------------------------

    def kind(self) -> str:
        page = self.page
        entry = self.entry
        if entry is not None and has_class(entry, "longform") or page.first("longform") is not None:
            return "longform"
        if _in_photo_section(page):
            return "photo"
        if _in_emagazine(page):
            return "longform"
        return self.kind_name

    def title(self) -> str | None:
        return self._title

    @cached_property
    def _title(self) -> str | None:
        el = self.title_el
        return first_of(  # read as far as needed: the page's scripts (WebControl) are seldom
            lambda: self.page.text_of(el) if el is not None else None,
            lambda: ld_str(self.ld.get("headline")),
            lambda: self.page.meta.get("og:title"),
            self.page.title_tag,
            lambda: self.wc.get("item_title"),
        )

    def sapo(self) -> str | None:
        return split_dateline(self.raw_sapo)[1]

    def dateline(self) -> str | None:
        return split_dateline(self.raw_sapo)[0]

    def authors(self) -> list[str]:
        return list(self._authors)

    def published_at(self) -> str | None:
        return self._published

    @cached_property
    def _published(self) -> str | None:
        """JSON-LD first (it has the seconds), then the visible header, the US meta, the older
        header, the family's own, the fake-``Z`` WebControl time, gtag (anatomy §3.2, §11)."""
        meta = self.page.meta
        return (
            dates.parse_iso(ld_str(self.ld.get("datePublished")) or "")
            or self._visible_time(self.header_time_classes)
            or dates.parse_us(meta.get("article:published_time") or "")
            or dates.parse_iso(meta.get("article:published_time") or "")
            or self._visible_time(self.older_time_classes)
            or self._family_time()
            or dates.parse_iso(self.wc.get("item_published_time") or self.wc.get("PublishedTime") or "", fake_z=True)
            or self._gtag_time()
        )

    def _gtag_time(self) -> str | None:
        m = _GTAG_DATE.search(self.page.scripts)
        return dates.parse_iso(m.group(1)) if m else None

    def modified_at(self) -> str | None:
        modified = dates.parse_iso(ld_str(self.ld.get("dateModified")) or "")
        return None if modified == self._published else modified

    def section(self) -> str | None:
        return self._section

    def breadcrumb(self) -> list[str]:
        crumbs = self.breadcrumb_items
        if crumbs:
            return list(crumbs)
        return [self._section] if self._section else []

    def tags(self) -> list[str]:
        """The tag box, then the page's own tag data."""
        tags: list[str] = []
        boxes: list[Any] = []
        for cls in self.tag_box_classes:
            boxes = self.page.by_class.get(cls, [])
            if boxes:
                break
        for box in boxes:
            for a in box.iter("a"):
                t = self.page.text_of(a) or clean(a.get("title"))
                if t and t not in tags:
                    tags.append(t)
        if not tags:
            raw = self.wc.get("item_tags") or self.page.meta.get("keywords") or ld_str(self.ld.get("keywords")) or ""
            for t in raw.split(","):
                t = clean(t)
                if t and t not in tags:
                    tags.append(t)
        return tags

    def body_text(self) -> str:
        return "\n\n".join(self._body[0])

    def images(self) -> list[dict[str, str | None]]:
        return [dict(i) for i in self._body[1]]

    def source(self) -> str | None:
        return None  # not syndicated; see Syndicated

    def article_id(self) -> str | None:
        return ld_str(self.page.meta.get("dable:item_id")) or self.wc.get("item_id")


class CurrentParser(OneCMSParser):
    """The current template (anatomy §3.1): ``div.sc-longform-header`` holding the title, author,
    time and sapo inside the entry; P1, P2."""

    family = "current"
    title_classes = ("sc-longform-header-title",)
    sapo_classes = ("sc-longform-header-sapo",)
    author_classes = ("sc-longform-header-author",)
    older_time_classes = ()

    @classmethod
    def detect(cls, page: Page) -> bool:
        return page.first("sc-longform-header") is not None


class LongformParser(CurrentParser):
    """Longform / e-magazine (anatomy §5): ``.entry.longform`` (header ``sc-longform-header-top-…``,
    lead image in ``.sc-longform-header-media``, figcaptions) or a page of an ``/emagazine`` section.
    An e-magazine may credit its authors only in a bold last paragraph ("Bài: … - Ảnh: …"): that
    paragraph is the byline, not body text."""

    family = "longform"
    kind_name = "longform"
    bold_byline_max = 120  # characters: a credits line, not a bold closing paragraph

    @classmethod
    def detect(cls, page: Page) -> bool:
        return page.first("longform") is not None or (_in_emagazine(page) and not _in_photo_section(page))

    def kind(self) -> str:
        return "longform"

    @cached_property
    def bold_byline_el(self) -> Any | None:
        """The entry's last paragraph when it is a short all-bold credits line."""
        if self.entry is None:
            return None
        last = None
        # the last such paragraph: read from the end, so that the body's paragraphs are not read twice
        for p in reversed(list(self.entry.iter("p"))):
            if self.page.text_of(p) and not inside(p, "sc-longform-header"):
                last = p
                break
        if last is None or last.find(".//img") is not None:
            return None
        text = self.page.text_of(last)
        bold = clean(" ".join("".join(b.itertext()) for b in last.iter("b", "strong")))
        if not bold or bold != text or len(text) > self.bold_byline_max or _JUNK_LINE.search(text):
            return None
        if any(a.tag in ("figure", "table") for a in last.iterancestors()):
            return None
        return last if _names(split_authors(text)) else None

    def _family_byline(self) -> str:
        return self.page.text_of(self.bold_byline_el) if self.bold_byline_el is not None else ""

    def body_excluded(self) -> set[Any]:
        excluded = super().body_excluded()
        if self.bold_byline_el is not None and not (self.byline_el is not None and self.page.text_of(self.byline_el)):
            excluded.add(self.bold_byline_el)
        return excluded


def _names(authors: list[str]) -> bool:
    """Whether every part of a split byline reads as a name (a few capitalised words, no digits):
    a bold closing sentence ("Kỳ tới: những con đường mới") is not a byline."""
    return bool(authors) and all(
        len(a.split()) <= 5 and not any(ch.isdigit() for ch in a) and all(w[0].isupper() for w in a.split())
        for a in authors
    )


class PhotoParser(CurrentParser):
    """Photo story / infographic (anatomy §5, menus only): a page of a photo section."""

    family = "photo"
    kind_name = "photo"

    @classmethod
    def detect(cls, page: Page) -> bool:
        return _in_photo_section(page)


class OlderParser(OneCMSParser):
    """The older ``c-detail-head`` template (anatomy §5; nguoiquansat before 2025, markettimes,
    ictvietnam): ``h1.c-detail-head__title``, ``span.c-detail-head__time`` and ``__author``, sapo in
    ``h2.desc`` / ``p.desc`` / ``b.fixh22`` (nguoiquansat: ``p.Headlines``), body
    ``div.b-maincontent`` / ``article.entry``."""

    family = "older"
    title_classes = ("c-detail-head__title",)
    sapo_classes = ("c-detail-head__desc", "fixh22", "Headlines")
    author_classes = ("c-detail-head__author",)
    header_time_classes = ()
    category_classes = ()
    lead_media_classes = ()

    @classmethod
    def detect(cls, page: Page) -> bool:
        return page.first("c-detail-head__title") is not None


class VideoParser(OneCMSParser):
    """Video pages (anatomy §5, §14): ``div.c-video-detail`` holding ``__title h1``, ``__desc``,
    ``__time`` ("Author - Author - dd/mm/yyyy - HH:MM"), ``__cat a``; no entry, no article images
    (the player's poster is not one)."""

    family = "video"
    kind_name = "video"
    sapo_classes = (*OneCMSParser.sapo_classes, "c-video-detail__desc")
    category_classes = (*OneCMSParser.category_classes, "c-video-detail__cat")
    time_classes: ClassVar[tuple[str, ...]] = ("c-video-detail__time",)

    @classmethod
    def detect(cls, page: Page) -> bool:
        return page.first("c-video-detail") is not None

    def _has_container(self) -> bool:
        return True

    def kind(self) -> str:
        return "video"

    @cached_property
    def title_el(self) -> Any | None:
        el = self.pick(self.title_classes)
        if el is None:
            video = self.page.first("c-video-detail")
            el = next(iter(video.iter("h1")), None) if video is not None else None
        return el

    def _family_byline(self) -> str:
        el = self.pick(self.time_classes)
        if el is None:
            return ""
        names = []
        for part in (p.strip() for p in _VIDEO_PARTS.split(self.page.text_of(el))):
            if _HAS_TIME.search(part):
                break
            names.append(part)
        return " - ".join(names)

    def _family_time(self) -> str | None:
        el = self.pick(self.time_classes)
        if el is None:
            return None
        m = _VIDEO_TIME.search(self.page.text_of(el))
        return dates.parse_visible(f"{m.group(1)} {m.group(2)}") if m else None


class PodcastParser(OneCMSParser):
    """Podcast pages (anatomy §5, §14): ``div.section_podcast_detail_newver`` holding ``audio[src]``,
    ``b-grid__title``, ``span.b-grid__time``, ``div.b-grid__author``, ``div.b-grid__desc a``."""

    family = "podcast"
    kind_name = "podcast"

    @classmethod
    def detect(cls, page: Page) -> bool:
        return page.by_class.any_token("podcast_detail") or page.first("c-podcast-player") is not None

    @cached_property
    def container(self) -> Any | None:
        return next((self.page.first(k) for k in self.page.by_class.tokens() if "podcast_detail" in k), None)

    def _has_container(self) -> bool:
        return self.entry is not None or self.container is not None

    def kind(self) -> str:
        return "podcast"

    @cached_property
    def title_el(self) -> Any | None:
        el = self.pick(self.title_classes)
        if el is None and self.container is not None:
            el = next(self.container.iter("h1", "h2"), None)
            if el is None:
                el = self.pick(("b-grid__title",), scope=self.container)
        return el

    @cached_property
    def sapo_el(self) -> Any | None:
        el = super().sapo_el
        if el is None and self.container is not None:
            el = self.pick(("b-grid__desc",), scope=self.container)
        return el

    @cached_property
    def byline_el(self) -> Any | None:
        el = self.pick(self.author_classes)
        if el is None and self.container is not None:
            el = self.pick(("b-grid__author",), scope=self.container)
        return el

    def _family_time(self) -> str | None:
        if self.container is None:
            return None
        el = self.pick(("b-grid__time",), scope=self.container)
        return dates.parse_any(self.page.text_of(el)) if el is not None else None


OneCMSParser.children = (VideoParser, PodcastParser, CurrentParser, OlderParser)
CurrentParser.children = (LongformParser, PhotoParser)

# -- syndicated pages ------------------------------------------------------------------------

# The share widget beside the source line (nguoiquansat's "Link bài gốc" popup, copy buttons).
_WIDGET_TEXT = re.compile(
    r"link bài gốc|copy link|link đã được copy|sao chép (?:liên kết|link)|đã sao chép|https?://\S+", re.I
)
_WIDGET_TAGS = frozenset({"label", "button", "script", "style", "input", "i", "svg"})
_SOURCE = re.compile(r"^(?:Nguồn|Theo)\s*:?\s*(.+)", re.I)


class Syndicated:
    """Mixed into any family when the page carries a source box (anatomy §5 Syndicated:
    ``div.c-author-page`` "Nguồn suckhoedoisong.vn" + ``span#url-copy``; nguoiquansat 110172:
    "Theo Kiến thức Đầu tư" beside a "Link bài gốc" popup). ``source`` is the name the box gives,
    without the share widget around it (labels, the copied URL, copy buttons and their notices)."""

    syndicated_version: ClassVar[str] = VERSION  # bump when the source line's reading changes
    source_classes: ClassVar[tuple[str, ...]] = ("c-author-page",)
    widget_classes: ClassVar[tuple[str, ...]] = ("pop", "copy-link", "noti", "toast", "tooltip")
    page: Page

    @classmethod
    def detect(cls, page: Page) -> bool:
        return any(page.first(c) is not None for c in cls.source_classes)

    def _widget(self, el: Any) -> bool:
        if el.tag in _WIDGET_TAGS or el.get("id") == "url-copy":
            return True
        return any(w in token for token in (el.get("class") or "").split() for w in self.widget_classes)

    def _source_lines(self, box: Any) -> list[str]:
        """The box's text, one string per text run, the widget's subtrees left out."""
        out: list[str] = []
        # A loop over a stack of elements to open and tails to add after them, not a nested
        # function calling itself: that closure held itself, the parser, the page and its whole
        # tree in a cycle that only the garbage collector's next pass freed.
        todo: list[Any] = [box]
        while todo:
            el = todo.pop()
            if isinstance(el, str):  # a tail, once its element is read
                out.append(el)
                continue
            if not isinstance(el.tag, str) or self._widget(el):
                continue
            if el.text:
                out.append(el.text)
            for child in reversed(el):
                if child.tail:
                    todo.append(child.tail)
                todo.append(child)
        return [t for t in (clean(_WIDGET_TEXT.sub(" ", s)) for s in out) if t]

    def source(self) -> str | None:
        for cls in self.source_classes:
            for box in self.page.by_class.get(cls, []):
                m = _SOURCE.search(" ".join(self._source_lines(box)))
                if m:
                    return clean_or_none(m.group(1).strip(" :-"))
        return None


_SYNDICATED: dict[type[OneCMSParser], type[OneCMSParser]] = {}


def syndicated(family: type[OneCMSParser]) -> type[OneCMSParser]:
    """``family`` with ``Syndicated`` mixed in (one class per family, made once)."""
    made = _SYNDICATED.get(family)
    if made is None:
        version = family.extractor_version
        if Syndicated.syndicated_version != version:
            version = f"{version}+syndicated.{Syndicated.syndicated_version}"
        attrs = {"__doc__": Syndicated.__doc__, "extractor_version": version}
        made = type(f"Syndicated{family.__name__}", (Syndicated, family), attrs)
        _SYNDICATED[family] = made
    return made


def parser_for(page: Page) -> type[OneCMSParser]:
    """The parser class of the template this page carries (detected, never dated)."""
    family = OneCMSParser.choose(page)
    return syndicated(family) if Syndicated.detect(page) else family


def families() -> list[type[OneCMSParser]]:
    """Every family class, root first."""
    out, todo = [], [OneCMSParser]
    while todo:
        cls = todo.pop(0)
        out.append(cls)
        todo.extend(cls.__dict__.get("children", ()))
    return out


__all__ = [
    "FIELDS", "NAME", "VERSION", "CurrentParser", "LongformParser", "OlderParser", "OneCMSParser", "PhotoParser",
    "PodcastParser", "Syndicated", "VideoParser", "families", "is_onecms", "parser_for", "syndicated",
]
