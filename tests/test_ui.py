"""The Datasette UI, through Datasette's own test client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_search import ARTICLES
from test_store import rec

from newsarchive.store import Archive

datasette = pytest.importorskip("datasette", reason="the ui extra (datasette) is not installed")


@pytest.fixture
def ds(tmp_path: Path):
    from newsarchive.ui import make_datasette

    path = tmp_path / "archive.db"
    a = Archive(path)
    for n, title, body, site, section, authors, published in ARTICLES:
        a.save(rec(url=f"https://{site}/bai-{n}.html", site=site, article_id=str(n), title=title, body_text=body,
                   sapo=None, section=section, authors=authors, published_at=published, tags=[], images=[]))
    a.close()
    return make_datasette(path)


def get(ds, path: str):
    return asyncio.run(ds.client.get(path))


def test_search_folds_diacritics_like_the_cli(ds) -> None:
    response = get(ds, "/archive/search.json?q=dien+bien&_shape=array")
    assert response.status_code == 200, response.text
    titles = {row["title"] for row in response.json()}
    assert titles == {"Điện Biên đón khách du lịch", "Dien bien gia vang hom nay", "Nghệ An: tiêm vắc-xin covid-19"}
    page = get(ds, "/archive/search?q=da+nang")
    assert page.status_code == 200 and "<mark>Đà</mark> <mark>Nẵng</mark>" in page.text


def test_facets_and_canned_queries(ds) -> None:
    data = get(ds, "/archive/article_view.json?_facet=site").json()
    facets = {f["value"]: f["count"] for f in data["facet_results"]["site"]["results"]}
    assert facets == {"a.vn": 3, "b.vn": 2}
    authors = get(ds, "/archive/author_articles.json?_facet=author").json()["facet_results"]["author"]["results"]
    assert {f["value"] for f in authors} >= {"Lan Anh", "Hải Yến"}
    for query in ("latest", "revised", "coverage"):
        assert get(ds, f"/archive/{query}.json").status_code == 200, query
    rows = get(ds, "/archive/author.json?author=Lan+Anh&_shape=array").json()
    assert len(rows) == 2


def test_article_bodies_are_readable(ds) -> None:
    page = get(ds, "/archive/articles/1")
    assert page.status_code == 200 and "<p>Tỉnh Điện Biên đón nhiều khách trong dịp lễ.</p>" in page.text


def test_a_malformed_search_matches_nothing_and_does_not_crash(ds) -> None:
    response = get(ds, "/archive/search.json?q=%22dien&_shape=array")
    assert response.status_code == 200 and response.json() == []
