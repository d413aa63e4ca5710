"""The OneCMS parser classes: detection of the template, field independence, parser bugs as
ExtractorError, site profiles, and the defects fixed with them (each on markup imitating the real
case; see the variant comments in newsarchive/demo/templates.py)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from conftest import shared_path
from test_variants import article

from newsarchive import ExtractorError, NotAnArticle, extract
from newsarchive.demo.templates import VARIANTS, expected, render
from newsarchive.extract import choose_parser, onecms
from newsarchive.extract.page import Page
from newsarchive.sites import SITES, Site

VN = timezone(timedelta(hours=7))
EMAGAZINE = (("E-magazine", "/emagazine"),)


def variant(v: str, **kw: object):  # noqa: ANN201
    if v in ("syndicated", "syndicated-widget"):
        kw.setdefault("source", "suckhoedoisong.vn")
    if v == "emagazine-byline":
        kw.setdefault("section", EMAGAZINE)
    if v == "photo":
        kw.setdefault("section", (("Sự kiện qua ảnh", "/su-kien-qua-anh"),))
    return article(v, **kw)


def page_of(a) -> Page:  # noqa: ANN001
    page = Page.from_html(render(a).encode(), a.url)
    assert page is not None
    return page


@pytest.mark.parametrize("v", VARIANTS)
def test_every_variant_yields_the_record_its_page_states(v: str) -> None:
    a = variant(v, authors=["Thu Phương", "Đức Anh"])
    r = extract(render(a).encode(), a.url, strict=True)
    assert {k: r[k] for k in expected(a)} == expected(a)


@pytest.mark.parametrize(
    ("v", "parser"),
    [
        ("current", "CurrentParser"),
        ("older", "OlderParser"),
        ("longform", "LongformParser"),
        ("emagazine-byline", "LongformParser"),
        ("photo", "PhotoParser"),
        ("video", "VideoParser"),
        ("podcast", "PodcastParser"),
        ("syndicated", "SyndicatedCurrentParser"),
        ("syndicated-widget", "SyndicatedCurrentParser"),
        ("gallery", "CurrentParser"),
    ],
)
def test_the_parser_is_the_template_the_page_carries(v: str, parser: str) -> None:
    a = variant(v)
    assert choose_parser(page_of(a), a.url).__name__ == parser


@pytest.mark.parametrize("year", [2016, 2021, 2026])
def test_templates_are_detected_not_dated(year: str) -> None:
    # a site serves old and new templates side by side: the date of the article decides nothing
    when = datetime(year, 1, 15, 13, 4, tzinfo=VN)
    for v, parser in (("older", "OlderParser"), ("current", "CurrentParser")):
        a = variant(v, published=when)
        assert choose_parser(page_of(a), a.url).__name__ == parser
        assert extract(render(a).encode(), a.url)["published_at"] == when.isoformat()


def test_real_older_page_is_read_by_the_older_parser_with_its_sites_profile() -> None:
    page = shared_path("real-pages", "nguoiquansat.vn__110172.html").read_bytes()
    url = "https://nguoiquansat.vn/day-la-nhung-tam-ho-chieu-quyen-luc-nhat-the-gioi-nam-2024-110172.html"
    parsed = Page.from_html(page, url)
    assert parsed is not None
    cls = choose_parser(parsed, url)
    assert cls.__name__ == "SyndicatedOlderParser[nguoiquansat]"
    assert extract(page, url)["extractor_version"] == cls.extractor_version == "1.2.0+nguoiquansat.1"
    # the same page from a host without a profile: the family's defaults
    assert choose_parser(parsed, "https://127.0.0.1:8000/x-110172.html").__name__ == "SyndicatedOlderParser"


def _pages() -> list[tuple[str, Page]]:
    out = []
    for v in VARIANTS:
        a = variant(v)
        out.append((v, page_of(a)))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fields_do_not_depend_on_the_order_they_are_read_in(seed: int) -> None:
    rng = random.Random(seed)
    for name, page in _pages():
        cls = onecms.parser_for(page)
        forward = {f: getattr(cls(page), f)() for f in onecms.FIELDS}  # a fresh parser per field
        order = list(onecms.FIELDS)
        rng.shuffle(order)
        parser = cls(page)
        shuffled = {f: getattr(parser, f)() for f in order}
        backward = cls(page)
        reverse = {f: getattr(backward, f)() for f in reversed(onecms.FIELDS)}
        assert forward == shuffled == reverse, name


def test_body_alone_excludes_title_sapo_and_byline() -> None:
    # the body read first, on a fresh parser, already knows what is not body text
    for v in ("current", "older", "emagazine-byline"):
        a = variant(v)
        page = page_of(a)
        body = onecms.parser_for(page)(page).body_text()
        assert body == "\n\n".join(a.paragraphs), v


# -- parser bugs -------------------------------------------------------------------------------


def test_a_bug_in_a_field_is_an_extractor_error_not_not_an_article(monkeypatch: pytest.MonkeyPatch) -> None:
    a = variant("current")

    def broken(self: onecms.OneCMSParser) -> list[str]:
        return ["x"][3]

    monkeypatch.setattr(onecms.OneCMSParser, "tags", broken)
    with pytest.raises(ExtractorError) as info:
        extract(render(a).encode(), a.url)
    err = info.value
    assert not isinstance(err, NotAnArticle)
    assert (err.url, err.parser, err.field) == (a.url, "CurrentParser", "tags")
    assert err.error == "IndexError: list index out of range"
    assert isinstance(err.__cause__, IndexError)
    with pytest.raises(IndexError):  # strict: the bug itself, with its traceback
        extract(render(a).encode(), a.url, strict=True)


def test_a_bug_in_detection_is_an_extractor_error(monkeypatch: pytest.MonkeyPatch) -> None:
    a = variant("older")

    def broken(page: Page) -> bool:
        raise KeyError("c-detail-head__title")

    monkeypatch.setattr(onecms.OlderParser, "detect", classmethod(lambda cls, page: broken(page)))
    with pytest.raises(ExtractorError) as info:
        extract(render(a).encode(), a.url)
    assert info.value.field == "detect"
    with pytest.raises(KeyError):
        extract(render(a).encode(), a.url, strict=True)


def test_a_bug_in_the_generic_extractor_is_an_extractor_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_generic import ARTICLE

    from newsarchive.extract import generic

    monkeypatch.setattr(generic, "images", lambda page, ld: 1 / 0)
    with pytest.raises(ExtractorError) as info:
        extract(ARTICLE.encode(), "https://gazette.example.com/x")
    assert info.value.parser == "generic"
    with pytest.raises(ZeroDivisionError):
        extract(ARTICLE.encode(), "https://gazette.example.com/x", strict=True)


def test_not_an_article_stays_not_an_article_in_strict_mode() -> None:
    a = variant("current")
    page = render(a).replace("<body>", '<body class="preview-mode">')
    with pytest.raises(NotAnArticle):
        extract(page.encode(), a.url, strict=True)


# -- site profiles -----------------------------------------------------------------------------


def test_every_profiles_parser_overrides_name_a_family_and_a_selector() -> None:
    names = {cls.family: cls for cls in onecms.families()}
    for site in SITES.values():
        for family, attrs in site.parsers.items():
            assert family in names or family in ("*", "syndicated"), (site.key, family)
            cls = names.get(family, onecms.OneCMSParser)
            for attr in attrs:
                assert hasattr(cls, attr) and not callable(getattr(cls, attr)), (site.key, attr)


def _older_with_cat_author(base: str) -> tuple[str, bytes]:
    # real-pages/nguoiquansat.vn__110172.html: the older header prints the author in
    # span.c-detail-head__cat (anatomy §5 older template)
    a = variant("older", base=base, jsonld=False, byline="")
    html = render(a).replace(
        '<span class="c-detail-head__author"></span>', '<span class="c-detail-head__cat">Quỳnh V&#226;n</span>'
    )
    assert "c-detail-head__cat" in html
    return a.url, html.encode()


def test_a_sites_selector_override_applies_on_its_site_only() -> None:
    url, html = _older_with_cat_author("https://nguoiquansat.vn/")
    assert extract(html, url)["authors"] == ["Quỳnh Vân"]
    other_url, other = _older_with_cat_author("https://baodemo.vn/")
    assert extract(other, other_url)["authors"] == []  # elsewhere __cat is not known to be the author


def test_a_site_is_data_date_shapes_included(monkeypatch: pytest.MonkeyPatch) -> None:
    a = variant("older", base="https://baomoi-demo.vn/", jsonld=False)
    html = render(a).replace('content="9/16/2026 5:25:01 AM"', 'content=""')
    html = html.replace("05:25 16/09/2026 |", "2026/09/16 (05:25)").replace("2026-09-16T05:25:01Z", "")
    assert extract(html.encode(), a.url)["published_at"] is None  # no known shape
    site = Site("baomoidemo", "Báo Mới Demo", "https://baomoi-demo.vn/", date_formats=("%Y/%m/%d (%H:%M)",))
    monkeypatch.setitem(SITES, site.key, site)
    r = extract(html.encode(), a.url)
    assert r["published_at"] == "2026-09-16T05:25:00+07:00"
    assert r["extractor_version"] == "1.2.0+baomoidemo.1"


def test_a_profile_naming_no_selector_is_an_extractor_error(monkeypatch: pytest.MonkeyPatch) -> None:
    a = variant("current", base="https://baomoi-typo.vn/")
    site = Site("baomoityp", "Typo", "https://baomoi-typo.vn/", parsers={"current": {"autor_classes": ("x",)}})
    monkeypatch.setitem(SITES, site.key, site)
    with pytest.raises(ExtractorError) as info:
        extract(render(a).encode(), a.url)
    assert "autor_classes" in info.value.error


# -- the defects -------------------------------------------------------------------------------


def test_syndicated_source_line_leaves_the_share_widget_out() -> None:
    a = variant("syndicated-widget")
    html = render(a)
    for widget in ("Link bài gốc", "Copy Link", "Link đã được copy"):
        assert widget in html
    r = extract(html.encode(), a.url)
    assert r["source"] == "suckhoedoisong.vn"
    assert "Link" not in r["body_text"]


def test_syndicated_source_on_one_line_with_the_widget() -> None:
    a = variant("syndicated")
    html = render(a).replace(
        '<span id="url-copy">',
        '<label>Link bài gốc</label><a class="js-copy-link">Copy Link</a><span class="noti">Link đã được copy</span>'
        '<span id="url-copy">',
    )
    assert extract(html.encode(), a.url)["source"] == "suckhoedoisong.vn"


def test_emagazine_byline_in_a_bold_last_paragraph() -> None:
    a = variant("emagazine-byline", byline="Bài: Hoàng Lam - Ảnh: Thành Đông - Thiết kế: Minh Hà")
    r = extract(render(a).encode(), a.url)
    assert r["kind"] == "longform"
    assert r["authors"] == ["Hoàng Lam", "Thành Đông", "Minh Hà"]
    assert r["body_text"] == "\n\n".join(a.paragraphs)
    assert "Hoàng Lam" not in r["body_text"]


def test_a_bold_closing_sentence_is_not_a_byline() -> None:
    a = variant("emagazine-byline", byline="Kỳ tới: những con đường mới")
    r = extract(render(a).encode(), a.url)
    assert r["authors"] == []
    assert r["body_text"].endswith("Kỳ tới: những con đường mới")


def test_every_image_of_a_figure_gets_its_caption() -> None:
    a = variant("gallery", images=[(f"https://bdemo.1cdn.vn/2026/09/16/g{i}.jpg", None) for i in range(3)])
    a.images[0] = (a.images[0][0], "Toàn cảnh tuyến xe buýt. Ảnh: Đức Anh")
    r = extract(render(a).encode(), a.url)
    assert [i["caption"] for i in r["images"]] == ["Toàn cảnh tuyến xe buýt. Ảnh: Đức Anh"] * 3
    assert "Toàn cảnh" not in r["body_text"]


def test_an_image_table_with_a_caption_per_image_pairs_them() -> None:
    a = variant("current", images=[])
    table = ('<table class="full-img"><tr><td><img src="https://b.1cdn.vn/a.jpg"></td><td><img src="https://b.1cdn.vn/b.jpg">'
             '</td></tr><tr><td class="image_desc">Ảnh A</td><td class="image_desc">Ảnh B</td></tr></table>')
    html = render(a).replace("<div class=\"oneads\" id=\"zone-61\">", table + "<div class=\"oneads\" id=\"zone-61\">")
    r = extract(html.encode(), a.url)
    assert r["images"] == [{"src": "https://b.1cdn.vn/a.jpg", "caption": "Ảnh A"},
                           {"src": "https://b.1cdn.vn/b.jpg", "caption": "Ảnh B"}]
