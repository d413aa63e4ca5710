"""An extraction frees what it built when it returns: no reference cycle keeps a page's tree.

The syndicated parser's source line was read by a nested function that called itself: the closure
held itself, the parser, the page, its class index and the whole tree in a cycle, freed only by the
garbage collector's next pass (3,207 objects left for 13 pages, a tree of ~1,000 elements each);
every collection until then walked them, a third of the extraction's collector time."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from conftest import shared_path
from test_variants import article

from newsarchive import extract
from newsarchive.demo.templates import VARIANTS, render


@contextmanager
def collector_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def cyclic_garbage() -> int:
    """Objects of the extraction (newsarchive's, lxml's) that only the cycle collector can free
    (they stay in gc.garbage while it looks). Other objects are not counted: a thread another test
    left running (a server, a writer's checkpointer) makes garbage of its own meanwhile."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = sum(type(o).__module__.split(".")[0] in ("newsarchive", "lxml") for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return found


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_leaves_no_cycle(variant: str) -> None:
    a = article(variant, source="suckhoedoisong.vn")
    page = render(a).encode()
    extract(page, a.url)  # first calls fill caches that stay (site profiles, parser classes)
    with collector_paused():
        record = extract(page, a.url)
        assert cyclic_garbage() == 0
    assert record["title"] == a.title


def test_the_real_pages_leave_no_cycle() -> None:
    pages = sorted(shared_path("real-pages").glob("*.html"))
    assert pages
    for path in pages:
        url = f"https://{path.name.split('__')[0]}/x-1.html"
        extract(path.read_bytes(), url)
        with collector_paused():
            extract(path.read_bytes(), url)
            assert cyclic_garbage() == 0, path.name
