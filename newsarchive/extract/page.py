"""Decode once, parse once: the bundle every field of every extractor reads."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import lxml.etree

from ..text import clean, nfc

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([a-zA-Z0-9_.:-]+)", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# One parser for every page: UTF-8 bytes in (we decode first), no network; libxml2's depth limit
# stays on, which keeps hostile nesting cheap. Plain lxml.etree elements: lxml.html's per-element
# class lookup is a Python call for every node, and costs more than the parse itself.
_PARSER = lxml.etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
_INDEXED_TAGS = frozenset({"meta", "script", "link", "title", "h1", "body", "time"})


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A header value from any mapping (str or bytes keys and values, single or list values)."""
    if not headers:
        return None
    lname = name.lower()
    for key, value in headers.items():
        k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if k.lower() != lname:
            continue
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return value
    return None


def _known(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().lower()).name
    except LookupError:
        return None


def decode(data: bytes, headers: Mapping[str, Any] | None = None) -> str:
    return _decode(data, headers)[0]


def _decode(data: bytes, headers: Mapping[str, Any] | None = None) -> tuple[str, bool]:
    """Bytes to NFC text: BOM, then valid UTF-8 (whatever was declared: mis-declared UTF-8 is far
    more common than a legacy page that happens to be valid UTF-8), then the HTTP charset, then the
    meta charset, then windows-1258 (the Vietnamese legacy code page)."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return nfc(data.decode(enc, errors="replace")), False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # UTF-8 lead bytes 0xCC/0xCD encode the combining diacritics (U+0300-U+037F) that NFD
        # Vietnamese is made of: without them the page needs no normalising for extraction (a
        # memchr, where a full NFC check costs as much as a fifth of the parse). The finished
        # record is normalised again anyway.
        if b"\xcc" not in data and b"\xcd" not in data:
            return text, True
        normal = nfc(text)
        return normal, normal is text  # True: the bytes can go to the parser as they are
    declared = None
    ctype = header(headers, "content-type")
    if ctype:
        m = _HEADER_CHARSET.search(ctype)
        declared = _known(m.group(1)) if m else None
    if declared is None:
        m = _META_CHARSET.search(data[:65536])
        declared = _known(m.group(1).decode("ascii", "replace")) if m else None
    if declared in (None, "utf-8", "ascii"):
        declared = "cp1258"
    # windows-1258 writes tones as combining marks: NFC composes them.
    return nfc(data.decode(declared, errors="replace")), False


def parse(text: str, utf8: bytes | None = None) -> Any | None:
    """The lxml tree of a decoded page; ``utf8`` is the same text already encoded, when at hand."""
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        return None
    data = utf8 if utf8 is not None else text.encode("utf-8", "surrogatepass")
    try:
        root = lxml.etree.fromstring(data, _PARSER)
    except (lxml.etree.XMLSyntaxError, ValueError, UnicodeError):
        return None
    return root


def text_of(el: Any) -> str:
    """The cleaned text of an element and its descendants."""
    return clean("".join(el.itertext()))


def _walk_ld(obj: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(obj, list):
        for item in obj:
            _walk_ld(item, out)
    elif isinstance(obj, dict):
        out.append(obj)
        if "@graph" in obj:
            _walk_ld(obj["@graph"], out)


_CLASS_ATTRS = lxml.etree.XPath("//@class")


class ClassIndex:
    """Elements by class token, in document order. Built from one XPath over the class attributes
    (cheap: no element object is made until a token is asked for)."""

    def __init__(self, root: Any) -> None:
        self._attrs = _CLASS_ATTRS(root)  # smart strings: each knows its element (getparent)
        groups: dict[str, list[int]] = {}
        for i, attr in enumerate(self._attrs):
            if attr in groups:
                groups[attr].append(i)
            else:
                groups[attr] = [i]
        self._groups = groups
        self._tokens: dict[str, list[str]] = {}
        for key in groups:
            for token in key.split():
                self._tokens.setdefault(token, []).append(key)
        self._cache: dict[str, list[Any]] = {}

    def get(self, token: str, default: Any = None) -> list[Any] | Any:
        found = self._cache.get(token)
        if found is None:
            keys = self._tokens.get(token)
            if not keys:
                return default
            order = self._groups[keys[0]] if len(keys) == 1 else sorted(i for k in keys for i in self._groups[k])
            found = self._cache[token] = [self._attrs[i].getparent() for i in order]
        return found

    def tokens(self) -> list[str]:
        return list(self._tokens)


class Page:
    """A fetched page, parsed once and indexed: elements by class token and by tag, meta tags,
    JSON-LD objects, inline scripts. Every field reads this bundle through its chain of sources."""

    def __init__(self, text: str, url: str, root: Any) -> None:
        self.text = text
        self.url = url
        self.root = root
        self.by_class = ClassIndex(root)
        self.by_tag: dict[str, list[Any]] = {}
        self.meta: dict[str, str] = {}
        self.canonical: str | None = None
        self._ld_raw: list[str] = []
        scripts: list[str] = []
        by_tag, meta = self.by_tag, self.meta
        for el in root.iter(*_INDEXED_TAGS):
            tag = el.tag
            by_tag.setdefault(tag, []).append(el)
            if tag == "meta":
                key = el.get("name") or el.get("property") or el.get("itemprop")
                content = el.get("content")
                if key and content is not None:
                    meta.setdefault(key.strip().lower(), content)
            elif tag == "script":
                if (el.get("type") or "").strip().lower() == "application/ld+json":
                    self._ld_raw.append(el.text or "")
                elif el.text and not el.get("src"):
                    scripts.append(el.text)
            elif tag == "link" and self.canonical is None:
                if (el.get("rel") or "").strip().lower() == "canonical" and el.get("href"):
                    self.canonical = el.get("href").strip()
        if self.canonical is None:
            self.canonical = meta.get("canonical") or None
        self.scripts = "\n".join(scripts)

    @classmethod
    def from_html(cls, html: bytes | str, url: str, headers: Mapping[str, Any] | None = None) -> Page | None:
        utf8 = None
        if isinstance(html, bytes | bytearray):
            data = bytes(html)
            text, as_is = _decode(data, headers)
            if as_is:
                utf8 = data  # valid UTF-8, already NFC: what the parser wants, no re-encoding
        else:
            text = nfc(str(html))
        root = parse(text, utf8)
        return None if root is None else cls(text, url, root)

    def first(self, cls: str) -> Any | None:
        found = self.by_class.get(cls)
        return found[0] if found else None

    def tag(self, name: str) -> list[Any]:
        return self.by_tag.get(name, [])

    @cached_property
    def jsonld(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for raw in self._ld_raw:
            raw = raw.strip()
            if not raw:
                continue
            try:
                data = json.loads(raw, strict=False)
            except ValueError:
                # Templates leave trailing commas: one forgiving retry.
                try:
                    data = json.loads(re.sub(r",\s*([}\]])", r"\1", raw), strict=False)
                except ValueError:
                    continue
            _walk_ld(data, out)
        return out

    def ld_of_type(self, *types: str) -> dict[str, Any] | None:
        wanted = {t.lower() for t in types}
        for obj in self.jsonld:
            t = obj.get("@type")
            names = t if isinstance(t, list) else [t]
            if any(isinstance(n, str) and n.lower() in wanted for n in names):
                return obj
        return None

    def title_tag(self) -> str:
        found = self.tag("title")
        return text_of(found[0]) if found else ""


def has_class(el: Any, cls: str) -> bool:
    value = el.get("class")
    return bool(value) and cls in value.split()


def inside(el: Any, cls: str) -> bool:
    """Whether an ancestor of ``el`` has class ``cls``."""
    return any(has_class(a, cls) for a in el.iterancestors())
