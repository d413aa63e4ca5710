"""The attribute cut (extract.page.bound_attributes) against slow, obvious versions of it, on
random markup made of the characters that matter (short runs, a small count: every case is reached).

The cut: a tag followed by LONG_RUN characters or more without a "<" keeps its first MAX_ATTRS
attributes, as MANY_ATTRS reads them (nothing it counts crosses a "<"). It finds those stretches
with a probe every LONG_RUN characters, not a regex step at every "<", and it reads each tag from
its first tag start, not again from every "<" inside a name ("<a<a<a…" cost k² before)."""

from __future__ import annotations

import random
import re
import time

import pytest

from newsarchive.extract.page import (
    _ATTR,
    _WS,
    MANY_ATTRS,
    MAX_ATTRS,
    Page,
    _long_runs,
    _many_attrs,
    bound_attributes,
    cut_attributes,
)

ALPHABET = ["<", ">", "a", "b", "1", " ", "/", "=", '"', "'", "\n", "x", "<a ", "<b", " c", " d=1", "</p>", "é"]


def random_markup(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(size)))


def old_pattern(n: int) -> re.Pattern[str]:
    """The cut as it was first written: tried again at every position, "\\1" the kept part."""
    return re.compile(rf"(<[A-Za-z][^{_WS}/>]*+(?:[{_WS}/]*+{_ATTR}){{{n}}})(?:[{_WS}/]*+{_ATTR})*+")


def reference_cut(text: str, long: int, n: int) -> str:
    """Every tag with more than ``n`` attributes that a scan of the whole text finds (the old
    pattern), cut when a stretch of ``long`` or more characters without "<" begins inside its
    name (right after its own "<", or after a "<" its name runs through)."""
    starts = {m.start() - 1 for m in re.finditer(rf"(?:(?<=<)|^)[^<]{{{long},}}", text) if m.start() > 0}
    name = re.compile(rf"<[A-Za-z][^{_WS}/>]*+")
    out, last = [], 0
    for m in old_pattern(n).finditer(text):
        name_end = name.match(text, m.start()).end()
        if any(m.start() <= lt < name_end for lt in starts):
            out += (text[last:m.start()], m.group(1))
            last = m.end()
    return "".join(out) + text[last:]


def test_the_linear_pattern_cuts_what_the_old_one_cut() -> None:
    rng = random.Random(13)
    assert MANY_ATTRS.pattern == old_pattern(MAX_ATTRS).pattern
    for n in (1, 2, 3):
        new, old = re.compile(_many_attrs(n)), old_pattern(n)
        for _ in range(3000):
            text = random_markup(rng, 40)
            assert new.sub(r"\1", text) == old.sub(r"\1", text), text


def test_cut_attributes_is_the_old_substitution() -> None:
    """Every tag of more than n attributes is followed by 2n characters without a "<": the cut
    from those stretches only is the whole text's substitution."""
    rng = random.Random(11)
    for n in (1, 2, 3, 4):
        pattern, old = re.compile(_many_attrs(n)), old_pattern(n)
        for _ in range(3000):
            text = random_markup(rng, 60)
            assert bound_attributes(text, 2 * n, pattern) == old.sub(r"\1", text), (n, text)
    page = "<p " + " ".join(f"a{i}" for i in range(MAX_ATTRS + 5)) + ">t</p><b " + "x " * 10 + ">"
    assert cut_attributes(page) == MANY_ATTRS.sub(r"\1", page) != page
    assert cut_attributes(page.encode()) == MANY_ATTRS.sub(r"\1", page).encode()


def test_long_runs_are_every_stretch_without_a_lt() -> None:
    rng = random.Random(7)
    for long in (1, 2, 3, 5, 8):
        for _ in range(2000):
            text = random_markup(rng, 60)
            expected = [(m.start(), m.end()) for m in re.finditer(rf"[^<]{{{long},}}", text)]
            assert _long_runs(text, long) == expected, (long, text)
            data = text.encode()  # bytes count bytes: "é" is two
            assert _long_runs(data, long) == [(m.start(), m.end()) for m in re.finditer(rb"[^<]{%d,}" % long, data)]


@pytest.mark.parametrize("long", [1, 3, 6, 10])
def test_the_cut_is_the_reference_cut(long: int) -> None:
    rng = random.Random(long)
    for n in (1, 2, 3):
        pattern = re.compile(_many_attrs(n))
        for _ in range(3000):
            text = random_markup(rng, 50)
            assert bound_attributes(text, long, pattern) == reference_cut(text, long, n), (n, text)


def test_bytes_and_text_are_cut_alike() -> None:
    """On UTF-8 bytes the cut is the text's cut encoded, stretches counted in bytes (the parse
    cuts the bytes it is given, decoded first or not)."""
    rng = random.Random(3)
    pattern, pattern_bytes = re.compile(_many_attrs(2)), re.compile(_many_attrs(2).encode())
    for _ in range(3000):
        text = random_markup(rng, 50).replace("é", "e")  # ASCII: a character is a byte
        assert bound_attributes(text.encode(), 4, pattern_bytes) == bound_attributes(text, 4, pattern).encode()


def test_a_tag_with_quoted_gt_signs_is_cut_too() -> None:
    """Thousands of attributes whose values hold a ">" (`a1='>'`): no stretch without "<" and ">"
    is long, which the first long-tag test looked for, so such a page was not cut at all."""
    tag = "<div " + " ".join(f"a{i}='>'" for i in range(5000)) + ">x</div>"
    cut = bound_attributes("<html><body>" + tag + "</body></html>")
    assert cut.count("='>'") == MAX_ATTRS and "<html><body><div a0='>' a1='>'" in cut and cut.endswith(">x</div></body></html>")


def test_names_full_of_lt_are_read_once() -> None:
    """A name runs to whitespace, "/" or ">" and may hold "<": a scan started again at each "<" of
    "<a<a<a…" read the rest of the name every time (40 KB took 2.7 s, 1 MB would take half an hour)."""
    page = "<html><body><p>" + "<a" * 500_000 + " x" * 100 + "</p></body></html>"
    started = time.process_time()
    cut_attributes(page)
    bound_attributes(page)
    bound_attributes(page.encode())
    assert time.process_time() - started < 1.0
    many = "<p>" + "<a" * 5_000 + "<1 " + " ".join(f"x{i}" for i in range(3000)) + ">t</p>"
    cut = bound_attributes(many)
    assert cut.count(" x") == MAX_ATTRS and cut.endswith(f" x{MAX_ATTRS - 1}>t</p>")


def test_a_page_of_long_runs_is_cut_in_linear_time() -> None:
    """Probes and token searches stay linear whatever the stretches: 4 MB of 3,000-character runs
    after names that hold "<", and one run with a 1 MB token before it."""
    unit = "<a<<1 " + " ".join(f"x{i}" for i in range(1000)) + "<p>" + "y" * 3000
    page = unit * 300 + "z" * 1_000_000 + "<<1 " + " ".join(f"w{i}" for i in range(2000)) + ">"
    started = time.process_time()
    cut = bound_attributes(page)
    assert time.process_time() - started < 2.0
    assert cut.count("<a<<1 x0 ") == 300 and f" x{MAX_ATTRS} " not in cut and " w100 " in cut  # no tag before "<<1"


def test_the_parse_reads_the_cut_page_as_is() -> None:
    """A valid UTF-8 page with a long tag is cut on its bytes and parsed as it came (not decoded
    first): the tree is the one the decoding path builds."""
    import lxml.etree

    from newsarchive.extract.page import _decode, _parse

    attrs = " ".join(f"a{i}=1" for i in range(3000))
    data = f"<html><body><h1>Việt Nam</h1><div {attrs}>x</div><p>Đà Nẵng</p></body></html>".encode()
    page = Page.from_html(data, "https://x.vn/")
    text, as_is = _decode(data)
    root, _ = _parse(text, data if as_is else None)
    assert page is not None and page._text is None  # parsed as it came
    assert lxml.etree.tostring(page.root) == lxml.etree.tostring(root)
    assert len(page.root.find(".//div").attrib) == MAX_ATTRS


def test_a_generic_page_with_a_bomb_tag_is_read_quickly() -> None:
    """The generic extractor's trafilatura parses the page a second time: it gets the cut text too
    (a tag of 60,000 attributes took that parse 12 s; the article is read as without it)."""
    from newsarchive import extract

    body = "".join(f"<p>Paragraph {i} of an ordinary article about the harbour and its ships, long enough"
                   " to count as text.</p>" for i in range(20))
    page = ('<html><head><title>A title</title><meta property="og:type" content="article"></head><body>'
            f"<article><h1>A title</h1>{body}</article></body></html>")
    attrs = " ".join(f"a{i}=1" for i in range(60_000))
    bomb = page.replace("</article>", f"<div {attrs}>x</div></article>")
    started = time.process_time()
    record = extract(bomb.encode(), "https://example.com/a")
    assert time.process_time() - started < 3.0
    plain = extract(page.encode(), "https://example.com/a")
    assert record["extractor"] == "generic" and record["body_text"].startswith(plain["body_text"])
