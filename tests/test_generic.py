"""The generic extractor: pages that are not OneCMS."""

from __future__ import annotations

import pytest
from conftest import shared_path
from extraction_benchmark import load, score

from newsarchive import NotAnArticle, extract

ARTICLE = """<!DOCTYPE html><html lang="en"><head><title>Harbour reopens after storm | The Gazette</title>
<meta property="og:title" content="Harbour reopens after storm">
<meta property="og:description" content="The harbour reopened on Monday.">
<meta property="og:site_name" content="The Gazette">
<link rel="canonical" href="https://gazette.example.com/news/harbour-reopens?utm_campaign=x">
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Harbour reopens after storm", "datePublished": "2026-03-02T09:15:00+01:00",
 "author": [{"@type": "Person", "name": "Ada Lovelace"}, {"@type": "Organization", "name": "The Gazette"}],
 "articleSection": "Local", "keywords": ["harbour", "storm"]}</script></head>
<body><nav><a href="/">Home</a> <a href="/local">Local</a></nav>
<article><h1>Harbour reopens after storm</h1>
<p>The harbour reopened on Monday after three days of closure caused by the storm that swept the coast.</p>
<p>Fishing boats returned to their moorings before noon, and the ferry service resumed its normal timetable.</p>
<p>Officials said damage to the breakwater was lighter than feared, with repairs expected to take two weeks.</p>
<p>Residents gathered on the quay to watch the first boats come in, many of them relieved after a long wait.</p>
</article><footer>© The Gazette. All rights reserved. Subscribe to our newsletter.</footer></body></html>"""


def test_generic_article_record() -> None:
    r = extract(ARTICLE.encode(), "https://gazette.example.com/news/harbour-reopens?utm_source=rss")
    assert r["extractor"] == "generic"
    assert r["url"] == "https://gazette.example.com/news/harbour-reopens"
    assert r["site"] == "gazette.example.com"
    assert r["title"] == "Harbour reopens after storm"
    assert r["authors"] == ["Ada Lovelace"]  # the publisher named as an author is not a person credited
    assert r["published_at"] == "2026-03-02T09:15:00+01:00"  # the page's own offset is kept
    assert r["section"] == "Local" and r["tags"] == ["harbour", "storm"]
    assert "Fishing boats returned" in r["body_text"] and "All rights reserved" not in r["body_text"]
    assert r["language"] == "en" and r["article_id"] is None


def test_generic_images_with_captions() -> None:
    page = ARTICLE.replace(
        '"keywords": ["harbour", "storm"]}',
        '"keywords": ["harbour", "storm"], "image": {"@type": "ImageObject", "url": "/img/lead.jpg",'
        ' "caption": "The harbour at dawn"}}',
    ).replace(
        "<p>Fishing boats returned",
        '<figure><img src="/img/boats.jpg" alt=""><img data-src="/img/ferry.jpg" src="/grey.gif">'
        "<figcaption> Boats back at their moorings. Photo: A. Lovelace </figcaption></figure>"
        "<p>Fishing boats returned",
    ).replace(
        "<footer>", '<aside class="related"><figure><img src="/img/other-story.jpg"><figcaption>Another story'
        "</figcaption></figure></aside><footer>",
    )
    r = extract(page.encode(), "https://gazette.example.com/news/harbour-reopens")
    caption = "Boats back at their moorings. Photo: A. Lovelace"
    assert r["images"] == [
        {"src": "https://gazette.example.com/img/lead.jpg", "caption": "The harbour at dawn"},
        {"src": "https://gazette.example.com/img/boats.jpg", "caption": caption},
        {"src": "https://gazette.example.com/img/ferry.jpg", "caption": caption},
    ]
    assert caption not in r["body_text"]
    assert extract(ARTICLE.encode(), "https://gazette.example.com/x")["images"] == []  # none shown, none given


def test_naive_date_on_a_foreign_site_is_not_guessed() -> None:
    page = ARTICLE.replace("2026-03-02T09:15:00+01:00", "2026-03-02T09:15:00")
    assert extract(page.encode(), "https://gazette.example.com/x")["published_at"] is None


@pytest.mark.parametrize(
    "page",
    [
        "<html><head><title>Home</title></head><body><ul><li><a href='/a'>A story</a></li></ul></body></html>",
        "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>No such page.</p></body></html>",
        "",
        "\x00\x01\x02 binary \xff",
    ],
)
def test_non_articles_are_refused(page: str) -> None:
    with pytest.raises(NotAnArticle):
        extract(page.encode("utf-8", "surrogateescape"), "https://example.com/")


def test_benchmark_f1_at_least_trafilatura() -> None:
    root = shared_path("benchmarks", "article-extraction-benchmark")
    import trafilatura

    pages = load(root)
    baseline = score(pages, lambda html, url: trafilatura.extract(html, include_comments=False) or "")

    def ours(html: str, url: str) -> str:
        try:
            return extract(html.encode("utf-8"), url or "https://example.com/")["body_text"]
        except NotAnArticle:
            return ""

    mine = score(pages, ours)
    print(f"\nextraction benchmark F1: newsarchive {mine['f1']:.4f}, trafilatura {baseline['f1']:.4f}")
    assert mine["f1"] >= baseline["f1"]
    assert mine["f1"] >= 0.96
