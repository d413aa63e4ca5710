"""The page's class index (extract.page.ClassIndex) against a plain walk of the tree: every token's
elements, in document order, on the bench's pages and on random class attributes."""

from __future__ import annotations

import random

import lxml.etree
from conftest import shared_path
from test_variants import article

from newsarchive.demo.templates import VARIANTS, render
from newsarchive.extract.page import _PARSER, ClassIndex


def by_walk(root: object, token: str) -> list[object]:
    return [el for el in root.iter() if token in (el.get("class") or "").split()]  # type: ignore[attr-defined]


def check(root: object) -> None:
    index = ClassIndex(root)
    tokens = {t for el in root.iter() for t in (el.get("class") or "").split()}  # type: ignore[attr-defined]
    assert set(index.tokens()) == tokens
    for token in tokens:
        assert index.get(token) == by_walk(root, token), token
    assert index.get("no-such-token") is None and index.get("no-such-token", []) == []
    for token in tokens:
        assert index.any_token(token) and index.any_token(token, start=True)


def test_the_index_is_the_walk_on_every_variant_and_real_page() -> None:
    pages = [render(article(v)).encode() for v in VARIANTS]
    pages += [p.read_bytes() for p in sorted(shared_path("real-pages").glob("*.html"))]
    for data in pages:
        check(lxml.etree.fromstring(data, _PARSER))


def test_the_index_is_the_walk_on_random_classes() -> None:
    """Repeated tokens in one attribute, tokens shared by several values, empty and blank values."""
    rng = random.Random(5)
    words = ["a", "b", "c", "a-b", "entry", "c-box", "", " "]
    for _ in range(300):
        parts = []
        for _ in range(rng.randrange(1, 30)):
            cls = " ".join(rng.choice(words) for _ in range(rng.randrange(0, 4)))
            attr = f' class="{cls}"' if rng.random() < 0.8 else ""
            parts.append(f"<div{attr}><span{attr}>x</span></div>" if rng.random() < 0.3 else f"<p{attr}>y</p>")
        check(lxml.etree.fromstring(("<html><body>" + "".join(parts) + "</body></html>").encode(), _PARSER))
