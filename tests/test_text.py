"""Text normalisation and hostile input: no markup, entity, control or bidi character survives."""

from __future__ import annotations

import random

import pytest
from test_variants import article

from newsarchive import NotAnArticle, extract
from newsarchive.demo.templates import render
from newsarchive.text import clean


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bệnh viện th&#224;nh phố", "Bệnh viện thành phố"),
        ("th&amp;#224;nh", "thành"),  # double-escaped
        ("  a \n\t b\u00a0c  ", "a b c"),
        ("Xem <i class='icon16-video-gray'></i>video", "Xem video"),
        ("a < b and c > d", "a < b and c > d"),
        ("\x1b[31mred\x1b[0m \u202etxet\u202c zero\u200bwidth", "[31mred[0m txet zerowidth"),
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_payloads_in_title_and_body_never_reach_the_record() -> None:
    a = article(title="Tin nóng \x1b]0;pwned\x07 \u202eabc", paragraphs=["Đoạn <script>alert(1)</script> một.", "Hai."])
    page = render(a).replace("Đoạn &lt;script&gt;alert(1)&lt;/script&gt; một.", "Đoạn <script>alert(1)</script> một.")
    r = extract(page.encode(), a.url)
    for value in (r["title"], r["body_text"]):
        assert "\x1b" not in value and "\u202e" not in value and "\x07" not in value
    assert "alert" not in r["body_text"] and "<" not in r["body_text"]


def test_truncated_deep_and_random_input_never_raise_anything_but_not_an_article() -> None:
    a = article()
    page = render(a).encode()
    rng = random.Random(7)
    inputs = [page[: len(page) // 2], page[:200], b"<div>" * 5000 + b"text", bytes(rng.randrange(256) for _ in range(5000))]
    inputs += [bytes(b ^ rng.randrange(256) if rng.random() < 0.01 else b for b in page) for _ in range(5)]
    for data in inputs:
        try:
            r = extract(data, a.url)
        except NotAnArticle:
            continue
        assert isinstance(r["title"], str) and r["title"]
    # the first half still holds the header: title and time survive a truncated download
    r = extract(page[: len(page) * 2 // 3], a.url)
    assert r["title"] == a.title and r["published_at"] == "2026-09-16T05:25:01+07:00"
