"""Decode once, parse once: the bundle every field of every extractor reads."""

from __future__ import annotations

import codecs
import json
import re
from collections import defaultdict, deque
from collections.abc import Mapping
from functools import cached_property
from itertools import compress, repeat
from typing import Any, AnyStr

import lxml.etree

from ..text import clean, nfc

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([a-zA-Z0-9_.:-]+)", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_BOM_PREFIXES = tuple(bom for bom, _ in _BOMS)
# One parser for every page: UTF-8 bytes in (we decode first), no network; libxml2's depth limit
# stays on, which keeps hostile nesting cheap. Plain lxml.etree elements: lxml.html's per-element
# class lookup is a Python call for every node, and costs more than the parse itself.
_PARSER = lxml.etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
# Only for pages the first parse could not read whole (see _parse).
_HUGE_PARSER = lxml.etree.HTMLParser(
    encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True, huge_tree=True
)
_RESOURCE_LIMIT = lxml.etree.ErrorTypes.ERR_RESOURCE_LIMIT
MAX_JSONLD = 2_000_000  # characters of one JSON-LD block (real ones: a few KB, a long articleBody ~100 KB)
_INDEXED_TAGS = frozenset({"meta", "script", "link", "title", "h1", "body", "time"})
_GET = lxml.etree._Element.get
_CLASS = b"class"  # a bytes key: lxml need not encode it for every element


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


def _declared(data: bytes, headers: Mapping[str, Any] | None) -> str | None:
    """The charset the HTTP header, else the meta tag, names (a known codec), or None."""
    ctype = header(headers, "content-type")
    if ctype:
        m = _HEADER_CHARSET.search(ctype)
        if m and (known := _known(m.group(1))):
            return known
    m = _META_CHARSET.search(data[:65536])
    return _known(m.group(1).decode("ascii", "replace")) if m else None


_INVALID_BYTE = re.compile("[\udc80-\udcff]")  # an undecodable byte, under "surrogateescape"
_NON_ASCII = re.compile("[^\x00-\x7f]")


def _mostly_utf8(data: bytes) -> tuple[int, int]:
    """(valid multi-byte UTF-8 characters, invalid bytes) in ``data``."""
    text = data.decode("utf-8", "surrogateescape")
    invalid = len(_INVALID_BYTE.findall(text))
    return len(_NON_ASCII.findall(text)) - invalid, invalid


def _decode(data: bytes, headers: Mapping[str, Any] | None = None) -> tuple[str, bool]:
    """Bytes to NFC text: BOM, then valid UTF-8 (whatever was declared: mis-declared UTF-8 is far
    more common than a legacy page that happens to be valid UTF-8), then UTF-8 with a few bad bytes
    (declared so, or nearly all valid), then the declared charset, then windows-1258 (the
    Vietnamese legacy code page)."""
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
    # One bad byte (a CMS cutting a string mid-character, a corrupted upload) must not turn a UTF-8
    # page into windows-1258 mojibake. The measure: valid multi-byte characters against invalid
    # bytes. Legacy text almost never forms a valid multi-byte sequence by chance (in windows-1258 a
    # letter 0xC0-0xDF would have to be followed by a symbol 0x80-0xBF; "Việt" is EA F2, invalid), so
    # its invalid bytes outnumber its valid sequences; a UTF-8 page with a few damaged bytes has
    # hundreds of valid ones. UTF-8 when at least 20 valid sequences stand per invalid byte (95 %),
    # or when UTF-8 is declared and the bytes do not contradict it (valid sequences outnumber
    # invalid bytes): bad bytes become U+FFFD and every other word stays intact.
    declared = _declared(data, headers)
    valid, invalid = _mostly_utf8(data)
    if valid >= 20 * invalid or (declared in ("utf-8", "ascii") and valid > invalid):
        return nfc(data.decode("utf-8", errors="replace")), False
    if declared in (None, "utf-8", "ascii"):
        declared = "cp1258"
    # windows-1258 writes tones as combining marks: NFC composes them.
    return nfc(data.decode(declared, errors="replace")), False


def parse(text: str, utf8: bytes | None = None) -> Any | None:
    """The lxml tree of a decoded page; ``utf8`` is the same text already encoded, when at hand."""
    return _parse(text, utf8)[0]


def _lost(parser: Any) -> str | None:
    """Why the last parse stopped early, or None. libxml2 stops at the first resource limit (a
    fatal error) and keeps only the tree built so far: the rest of the page is silently gone."""
    last = parser.error_log.last_error
    if last is not None and last.type == _RESOURCE_LIMIT:
        return "depth" if "depth" in last.message else "size"
    return None


# libxml2 checks each attribute of a tag against every earlier one: a tag of k attributes costs k²
# (60,000 in a 529 KB page took 14 s; a 16 MiB page, hours). No tag anyone writes has more than
# MAX_ATTRS; a tag followed by LONG_RUN characters or more without a "<" (a long data: URL, a font
# link, or thousands of attributes) keeps its first MAX_ATTRS attributes. A tag that is not cut has
# fewer than LONG_RUN/2 attributes (each is a character and a separator), a bounded cost.
MAX_ATTRS = 64
LONG_RUN = 2048
_WS = "\t\n\f\r "  # HTML's whitespace (a no-break space is part of a name)
# an attribute as HTML5 tokenizes it, except that nothing in it crosses a "<": a quote in a script
# or in text (a tokenizer that does not know raw text) then never runs on into the page's body
_ATTR = (rf"[^{_WS}/><][^{_WS}/>=<]*+(?:[{_WS}]*+=[{_WS}]*+"
         rf"""(?:"[^"<]*+"?+|'[^'<]*+'?+|[^{_WS}><]*+))?+""")


def _many_attrs(n: int) -> str:
    """A tag start and name, then, when it has more than ``n`` attributes, the first ``n`` (group 1
    ends there; group 2 is set) and the rest. Possessive throughout, and a tag of fewer attributes
    matches its name alone: a scan resumes past the name instead of starting again at every "<"
    inside it (a name runs to whitespace, "/" or ">" and may hold "<": "<a<a<a…" cost k²)."""
    return rf"(<[A-Za-z][^{_WS}/>]*+(?:((?:[{_WS}/]*+{_ATTR}){{{n}}}))?+)(?(2)(?:[{_WS}/]*+{_ATTR})*+)"


_TAG_ATTRS = re.compile(_many_attrs(MAX_ATTRS))
_TAG_ATTRS_BYTES = re.compile(_many_attrs(MAX_ATTRS).encode())
# ``MANY_ATTRS.sub(r"\1", text)``: every tag of ``text`` with at most MAX_ATTRS attributes, as first
# written: it matches only the tags it cuts (cheap to substitute), but a scan starts again at every
# "<" of a name ("<a<a<a…" costs k²). ``cut_attributes`` gives the same text in linear time.
MANY_ATTRS = re.compile(rf"(<[A-Za-z][^{_WS}/>]*+(?:[{_WS}/]*+{_ATTR}){{{MAX_ATTRS}}})(?:[{_WS}/]*+{_ATTR})*+")
_TOKEN_TAIL = re.compile(rf"(?<=[{_WS}/>])[^{_WS}/>]*+\Z")
_TOKEN_TAIL_BYTES = re.compile(_TOKEN_TAIL.pattern.encode())
_TAG_START = re.compile(r"<[A-Za-z]")
_TAG_START_BYTES = re.compile(rb"<[A-Za-z]")
_LETTER = re.compile(r"[A-Za-z]")
_LETTER_BYTES = re.compile(rb"[A-Za-z]")


def _long_runs(text: AnyStr, long: int) -> list[tuple[int, int]]:
    """(start, end) of every stretch of ``long`` characters or more holding no "<", in order.
    A probe every ``long`` characters (any such stretch holds one), each a find either way: a few
    dozen calls in C for a page, not a regex step at every "<"."""
    lt = "<" if isinstance(text, str) else b"<"
    size = len(text)
    runs = []
    end = -1  # the last "<" found (or -1): no stretch found later starts at or before it
    probe = long - 1
    while probe < size:
        start = text.rfind(lt, end + 1, probe + 1) + 1 or end + 1
        end = text.find(lt, probe)
        if end < 0:
            end = size
        if end - start >= long:
            runs.append((start, end))
        probe = end + long
    return runs


def _tag_start(text: AnyStr, floor: int, lt: int) -> int:
    """The first tag start ("<" and a letter) in the token (no whitespace, "/" or ">") that runs
    to the "<" at ``lt`` and at least ``floor``, or -1. Its name then runs through ``lt``: the
    token's first tag start is where a scan from ``floor`` would begin the tag (a later one would
    give the same name end and the same attributes). The token is looked for backwards in chunks
    that double: the cost is the token's length, not the distance to ``floor``."""
    if isinstance(text, str):
        tail, start = _TOKEN_TAIL, _TAG_START
    else:
        tail, start = _TOKEN_TAIL_BYTES, _TAG_START_BYTES
    chunk = 64
    while True:
        lo = max(floor, lt - chunk)
        m = tail.search(text, lo, lt)
        if m is not None or lo == floor:
            break
        chunk *= 2
    m = start.search(text, m.start() if m is not None else floor, lt)
    return m.start() if m is not None else -1


def bound_attributes(text: AnyStr, long: int = LONG_RUN, pattern: Any = None) -> AnyStr:
    """``text`` (markup, or its UTF-8 bytes: the same cut, counted in bytes), or a copy whose tags
    followed by ``long`` characters or more without a "<" keep their first MAX_ATTRS attributes
    (``pattern``: a ``_many_attrs`` of another count, for tests)."""
    if pattern is None:
        pattern = _TAG_ATTRS if isinstance(text, str) else _TAG_ATTRS_BYTES
    letter = _LETTER if isinstance(text, str) else _LETTER_BYTES
    out = []
    last = pos = 0  # last: copied up to here; pos: where a scan of the tags would go on from
    for start, _end in _long_runs(text, long):
        lt = start - 1
        if lt < pos:  # before the text's first "<", or inside the tag cut last
            continue
        tag = lt if letter.match(text, start) else _tag_start(text, pos, lt)
        if tag < 0:
            pos = start
            continue
        m = pattern.match(text, tag)
        if m.end() > m.end(1):  # attributes past the count
            out += (text[last:tag], m.group(1))
            last = m.end()
        pos = max(m.end(), start)
    if not out:
        return text
    out.append(text[last:])
    return text[:0].join(out)


def cut_attributes(text: AnyStr) -> AnyStr:
    """``MANY_ATTRS.sub(r"\1", text)`` in linear time: every tag keeps its first MAX_ATTRS
    attributes. A tag of more is followed by 2 x MAX_ATTRS characters without a "<" (an attribute
    is a character, and a separator or a closing quote before the next), so only the tags before
    such stretches are read."""
    return bound_attributes(text, 2 * MAX_ATTRS)


def _parse(text: str, utf8: bytes | None = None) -> tuple[Any | None, str | None]:
    """The tree, and the markup it was read from when the first parse could not read ``text``
    whole (``text`` itself, or a copy from ``flatten``); None for every ordinary page.

    The first parse keeps libxml2's limits (nesting 256 deep, 10 MB for one text node, attribute
    or comment): no page anyone writes comes near them, and deep trees stay cheap. A page that hits
    one loses everything after that point, so it is parsed again: with ``huge_tree`` (1 GB tokens,
    2048 deep) and, when nesting was the limit, from a copy whose excess nesting tags are dropped
    (all the text kept). What is still unreadable after that is left as libxml2 returns it."""
    text = _XML_DECL.sub("", text, count=1)
    if not text or text.isspace():  # no copy of the page, as strip() would make
        return None, None
    data = utf8 if utf8 is not None else text.encode("utf-8", "surrogatepass")
    bounded = bound_attributes(data)  # on the bytes, as _parse_as_is cuts them
    if bounded is not data:
        data, text = bounded, bounded.decode("utf-8", "surrogatepass")
    parser, markup, flattened = _PARSER, None, 0
    for _ in range(4):
        try:
            root = lxml.etree.fromstring(data, parser)
        except (lxml.etree.XMLSyntaxError, ValueError, UnicodeError):
            return None, None
        lost = _lost(parser)
        if lost is None or (lost == "depth" and flattened == 2):
            break
        if lost == "depth":
            # The lenient model first; when libxml2 nests deeper than it thinks, the strict one.
            markup = flatten(text, strict=flattened == 1)
            data = markup.encode("utf-8", "surrogatepass")
            flattened += 1
        elif markup is None:
            markup = text
        parser = _HUGE_PARSER
    return root, markup


_INVALID_ENCODING = lxml.etree.ErrorTypes.ERR_INVALID_ENCODING
_MAX_ERRORS = 100  # libxml2 reports no more errors of a document than this: past it, nothing is known


def _parse_as_is(data: bytes) -> Any | None:
    """The tree of ``data`` parsed as it came, when that is exactly what ``_decode`` and ``_parse``
    would parse, without decoding the page first; None when they must decide (then they parse
    again). That is: no BOM, no byte of a combining diacritic (NFC needs no look: see _decode),
    a tag that is not an XML declaration (not empty, nothing to strip), a parse read whole, and
    valid UTF-8: libxml2 reports every invalid sequence (lone, truncated, overlong, surrogate,
    past U+10FFFF: tests/test_hostile_extract.py) among the first 100 errors it keeps."""
    if data.startswith(_BOM_PREFIXES) or b"\xcc" in data or b"\xcd" in data:
        return None
    first = data.find(b"<")
    if first < 0 or data.startswith(b"<?xml", first):
        return None
    try:
        root = lxml.etree.fromstring(bound_attributes(data), _PARSER)
    except (lxml.etree.XMLSyntaxError, ValueError, UnicodeError):
        return None
    log = _PARSER.error_log  # a copy: read it once
    if root is None or len(log) >= _MAX_ERRORS:
        return None
    if any(e.type == _INVALID_ENCODING or e.type == _RESOURCE_LIMIT for e in log):
        return None  # not UTF-8, or not read whole (see _lost)
    return root


# Markup tokens for flatten: a comment, or a start/end tag (a ">" inside a quoted attribute value
# ends it early: harmless, only whole matched tags are dropped and the rest stays text).
_TOKEN = re.compile(r"<!--.*?(?:-->|\Z)|<(/?)([a-zA-Z][^\s/>]*)[^>]*>", re.S)
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"})
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr keygen".split())
FLAT_DEPTH = 200  # nesting kept by flatten: under libxml2's default 256, and the body walker's 300
_KEEP_UNCLOSED = 32  # tags never closed (or closed only by an ancestor) kept when this shallow


def flatten(text: str, strict: bool = False) -> str:
    """``text`` with the tags that make its nesting hostile removed, every character of text kept.

    A model of the tree from the tags alone: an end tag closes the nearest open element of its name
    and every element opened after it (``strict``: only the element on top, so the count is an upper
    bound of what libxml2 builds). Deep tags never closed by their own end tag are dropped first
    (thousands of unclosed ``<b>`` are the usual attack; the page's containers sit near the top
    and stay); then any element that would still open deeper than ``FLAT_DEPTH``, with its end tag."""
    tokens: list[tuple[int, int, bool, str]] = []  # (start, end, is_end_tag, name)
    pos = 0
    while (m := _TOKEN.search(text, pos)) is not None:
        pos = m.end()
        name = m.group(2)
        if name is None:
            continue  # a comment
        name = name.lower()
        tokens.append((m.start(), pos, m.group(1) == "/", name))
        if not m.group(1) and name in _RAW_TEXT:  # its content is text, not tags
            close = re.compile(rf"</{name}\b", re.I).search(text, pos)
            pos = close.start() if close else len(text)
    pair: dict[int, int] = {}  # start-tag token -> its own end-tag token
    deep_unclosed: set[int] = set()

    def model(keep: Any, cap: int | None) -> set[int]:
        stack: list[int] = []
        counts: dict[str, int] = {}
        dropped: set[int] = set()
        for i, (_, end, is_end, name) in enumerate(tokens):
            if not keep(i) or i in dropped:
                continue
            if not is_end:
                if name in _VOID or text[end - 2] == "/":
                    continue
                if cap is not None and len(stack) >= cap:
                    dropped.add(i)
                    if i in pair:
                        dropped.add(pair[i])
                    continue
                if cap is None and len(stack) > _KEEP_UNCLOSED:
                    deep_unclosed.add(i)  # until its own end tag says otherwise
                stack.append(i)
                counts[name] = counts.get(name, 0) + 1
            elif counts.get(name) and (not strict or tokens[stack[-1]][3] == name):
                while True:
                    top = stack.pop()
                    counts[tokens[top][3]] -= 1
                    if tokens[top][3] == name:
                        break
                if cap is None:
                    pair[top] = i
                    deep_unclosed.discard(top)
        return dropped

    model(lambda i: True, None)
    dropped = model(lambda i: i not in deep_unclosed, FLAT_DEPTH) | deep_unclosed
    out, last = [], 0
    for i in sorted(dropped):
        start, end = tokens[i][:2]
        out.append(text[last:start])
        last = end
    out.append(text[last:])
    return "".join(out)


def text_of(el: Any) -> str:
    """The cleaned text of an element and its descendants."""
    return clean("".join(el.itertext()))


def _walk_ld(obj: Any, out: list[dict[str, Any]]) -> None:
    """Every object of a JSON-LD value, lists and ``@graph`` flattened; a loop, not recursion:
    the nesting is the page's to choose."""
    todo = [obj]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(reversed(item))
        elif isinstance(item, dict):
            out.append(item)
            if "@graph" in item:
                todo.append(item["@graph"])


class ClassIndex:
    """Elements by class token, in document order. Built in C, without a Python statement per
    element: the elements (``iter``), each one's class attribute (``map`` of ``get``), the
    elements that have one (``compress``), their positions grouped by attribute value (``map``
    of ``list.append``); then the distinct values (a few dozen on a page of hundreds of
    attributes) are split into tokens. A token's elements are listed when it is first asked for;
    most tokens asked for are absent, which is one dict lookup. (An XPath over ``@class`` costs
    more: smart strings make a string and an element object per attribute.)"""

    def __init__(self, root: Any) -> None:
        els = list(root.iter())  # (the parser keeps no comments or PIs: elements only)
        values = list(map(_GET, els, repeat(_CLASS)))
        self._els = list(compress(els, values))  # the elements that have a class, in document order
        values = list(filter(None, values))  # their class attributes, in the same order
        # attribute value -> positions in _els, first appearance first: one pass, each new value's
        # list made by the defaultdict's __missing__ (in C)
        groups: defaultdict[str, list[int]] = defaultdict(list)
        deque(map(list.append, map(groups.__getitem__, values), range(len(values))), maxlen=0)
        groups.default_factory = None  # a plain mapping from here: a missing value is an error
        self._groups = groups
        # token -> its one value (most tokens: no list made for them), or the list of its values
        tokens: dict[str, Any] = {}
        for value in groups:  # first appearance first
            for token in value.split():
                keys = tokens.get(token)
                if keys is None:
                    tokens[token] = value
                elif keys.__class__ is str:
                    if keys is not value:  # class="a a": one element
                        tokens[token] = [keys, value]
                elif keys[-1] is not value:
                    keys.append(value)
        self._tokens = tokens
        self._joined: str | None = None
        self._cache: dict[str, list[Any]] = {}

    def get(self, token: str, default: Any = None) -> list[Any] | Any:
        found = self._cache.get(token)
        if found is None:
            values = self._tokens.get(token)
            if not values:
                return default
            groups = self._groups
            if values.__class__ is str:
                order = groups[values]
            else:
                order = sorted(i for value in values for i in groups[value])
            els = self._els
            found = self._cache[token] = [els[i] for i in order]
        return found

    def tokens(self) -> list[str]:
        """Every token, first appearance first."""
        return list(self._tokens)

    def any_token(self, part: str, start: bool = False) -> bool:
        """Whether some token contains ``part`` (``start``: begins with it); ``part`` holds no
        whitespace. One substring search over the tokens joined by spaces (tokens hold none)."""
        joined = self._joined
        if joined is None:
            joined = self._joined = " " + " ".join(self._tokens)
        return (" " + part if start else part) in joined


class Page:
    """A fetched page, parsed once and indexed: elements by class token and by tag, meta tags,
    JSON-LD objects, inline scripts. Every field reads this bundle through its chain of sources."""

    def __init__(self, text: str | None, url: str, root: Any, data: bytes | None = None) -> None:
        # The decoded page; None while only ``data`` is at hand (valid UTF-8, parsed as it came:
        # see _parse_as_is), decoded when first asked for (the generic extractor's trafilatura).
        self._text = text
        self._data = data
        # The markup the tree was read from when a first parse could not read the page whole
        # (see _parse): others that parse the page (trafilatura) must read it like this too.
        self.markup: str | None = None
        self.url = url
        self.root = root
        self.by_tag: dict[str, list[Any]] = {}
        self.meta: dict[str, str] = {}
        self.canonical: str | None = None
        self._ld_raw: list[str] = []
        self._texts: dict[Any, str] = {}
        self._scripts: list[Any] = []
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
                else:
                    self._scripts.append(el)
            elif tag == "link" and self.canonical is None:
                if (el.get("rel") or "").strip().lower() == "canonical" and el.get("href"):
                    self.canonical = el.get("href").strip()
        if self.canonical is None:
            self.canonical = meta.get("canonical") or None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = decode(self._data or b"")
        return self._text

    def contains(self, needle: str) -> bool:
        """Whether the page's text holds ``needle``; an ASCII needle is looked for in the bytes
        while the page is not decoded (in valid UTF-8, ASCII bytes are ASCII characters)."""
        if self._text is None and self._data is not None and needle.isascii():
            return needle.encode("ascii") in self._data
        return needle in self.text

    @cached_property
    def by_class(self) -> ClassIndex:
        return ClassIndex(self.root)

    @cached_property
    def scripts(self) -> str:
        """The inline scripts' text (no JSON-LD), joined: WebControl and gtag values live there."""
        return "\n".join(t for el in self._scripts if (t := el.text) and not el.get("src"))

    @classmethod
    def from_html(cls, html: bytes | str, url: str, headers: Mapping[str, Any] | None = None) -> Page | None:
        utf8 = None
        if isinstance(html, bytes | bytearray):
            data = bytes(html)
            root = _parse_as_is(data)
            if root is not None:
                return cls(None, url, root, data)
            text, as_is = _decode(data, headers)
            if as_is:
                utf8 = data  # valid UTF-8, already NFC: what the parser wants, no re-encoding
        else:
            text = nfc(str(html))
        root, markup = _parse(text, utf8)
        if root is None:
            return None
        page = cls(text, url, root)
        page.markup = markup
        return page

    def first(self, cls: str) -> Any | None:
        found = self.by_class.get(cls)
        return found[0] if found else None

    def text_of(self, el: Any) -> str:
        """``text_of(el)``, computed once per element of this page (a field and the body both ask
        for the title's, the sapo's, the byline's text)."""
        text = self._texts.get(el)
        if text is None:
            text = self._texts[el] = text_of(el)
        return text

    def tag(self, name: str) -> list[Any]:
        return self.by_tag.get(name, [])

    @cached_property
    def jsonld(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for raw in self._ld_raw:
            raw = raw.strip()
            if not raw:
                continue
            if len(raw) > MAX_JSONLD:
                continue  # no article's metadata is this large; parsing it would cost seconds
            try:
                data = json.loads(raw, strict=False)
            except RecursionError:
                continue  # nested deeper than Python's stack: this block is skipped, not the page
            except ValueError:
                # Templates leave trailing commas: one forgiving retry.
                try:
                    data = json.loads(re.sub(r",\s*([}\]])", r"\1", raw), strict=False)
                except (ValueError, RecursionError):
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
