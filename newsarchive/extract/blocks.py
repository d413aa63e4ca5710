"""Body text and images from a container element: blocks in page order, captions beside images.

Walks the element tree once instead of selecting ``entry > p``: OneCMS nests image tables inside
``<p>`` (invalid HTML that parsers repair differently), so only a walk over block boundaries gives
the same paragraphs whatever the repair.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..text import clean
from ..urls import absolute
from .page import text_of

BLOCK = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd blockquote pre tr table tbody thead tfoot section "
    "article header footer aside main center figure hr address details summary caption".split()
)
SKIP_TAGS = frozenset(
    "script style noscript iframe svg button form input select textarea template video audio object "
    "embed canvas map head title link meta".split()
)
CAPTION_CLASSES = ("image_desc", "image-desc", "caption", "figcaption", "img-caption", "PhotoCMS_Caption", "desc")
PLACEHOLDER = re.compile(
    r"(grey|gray|blank|placeholder|spacer|transparent|loading|lazy|default_image)\.(gif|png|svg|jpg)", re.I
)
MAX_DEPTH = 300


def image_src(img: Any, base: str) -> str | None:
    """The real image URL: lazy ``data-src`` (and friends) over a placeholder ``src``."""
    for attr in ("data-src", "data-original", "data-lazy-src", "data-srcset", "src"):
        value = img.get(attr)
        if not value:
            continue
        value = value.strip().split(" ")[0] if attr == "data-srcset" else value.strip()
        if not value or value.startswith("data:") or PLACEHOLDER.search(value):
            continue
        return absolute(value, base)
    return None


def _is_caption_cell(el: Any) -> bool:
    cls = el.get("class") or ""
    return any(c in cls.split() for c in CAPTION_CLASSES)


class Walker:
    """Collects ``blocks`` (strings) and ``images`` ({src, caption}) under one container."""

    def __init__(self, base: str, skip: Callable[[Any], bool]) -> None:
        self.base = base
        self.skip = skip
        self.blocks: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self._seen_src: set[str] = set()
        self._cur: list[str] = []

    def flush(self) -> None:
        cur = self._cur
        if cur:
            text = clean("".join(cur))
            if text:
                self.blocks.append(text)
            cur.clear()  # the same list: walk holds it

    def add_image(self, img: Any, caption: str | None) -> None:
        src = image_src(img, self.base)
        if src and src not in self._seen_src:
            self._seen_src.add(src)
            self.images.append({"src": src, "caption": caption or None})

    def _captioned(self, el: Any, caption_els: list[Any]) -> None:
        """An image block (figure or image table): no body text; its images take its caption. One
        caption for the block is every image's (a figure holding several images under one
        figcaption); a table with one caption cell per image pairs them in order."""
        imgs = [img for img in el.iter("img") if not self.skip(img)]
        captions = [text_of(c) for c in caption_els]
        if len(captions) > 1 and len(captions) == len(imgs):
            for img, caption in zip(imgs, captions, strict=True):
                self.add_image(img, caption)
            return
        caption = captions[0] if captions else None
        for img in imgs:
            self.add_image(img, caption)

    def walk(self, el: Any, depth: int = 0) -> None:
        # el.text and el.tail are read once each: lxml makes a new string at every read
        tag = el.tag
        cur = self._cur
        if not isinstance(tag, str):  # comment or processing instruction
            tail = el.tail
            if tail:
                cur.append(tail)
            return
        if tag in SKIP_TAGS or self.skip(el):
            if tag in ("video", "audio"):
                self.flush()
            tail = el.tail
            if tail:
                cur.append(tail)
            return
        if tag == "br":
            cur.append(" ")
        elif tag == "img":
            self.add_image(img=el, caption=None)
        elif tag == "figure" or (tag == "table" and next(el.iter("img"), None) is not None):
            if tag == "figure":
                first = next(el.iter("figcaption"), None)
                caption_els = [] if first is None else [first]
            else:
                caption_els = [c for c in el.iter("td", "th", "p", "div", "span") if _is_caption_cell(c)]
                # a caption cell inside another caption cell is the same caption
                found = set(caption_els)
                caption_els = [c for c in caption_els if found.isdisjoint(c.iterancestors())]
            if caption_els or tag == "figure" or len(text_of(el)) < 3:
                self.flush()
                self._captioned(el, caption_els)
                self.flush()
                tail = el.tail
                if tail:
                    cur.append(tail)
                return
        if depth > MAX_DEPTH:  # hostile nesting: keep the text, stop descending
            self.flush()
            cur.append("".join(el.itertext()))
            self.flush()
            return
        block = tag in BLOCK
        if block:
            self.flush()
        text = el.text
        if text:
            cur.append(text)
        for child in el:
            self.walk(child, depth + 1)
        if tag == "td" or tag == "th":
            cur.append(" ")
        if block:
            self.flush()
        tail = el.tail
        if tail:
            cur.append(tail)

    def run(self, container: Any) -> Walker:
        if container.text:
            self._cur.append(container.text)
        for child in container:
            self.walk(child, 1)
        self.flush()
        return self
