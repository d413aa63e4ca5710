"""scrape refuses private, loopback and link-local addresses by default, on the resolved address."""

from __future__ import annotations

import socket
from importlib import resources

import pytest
from conftest import ROBOTS_OK, html_route, run_cli

from newsarchive.netguard import refusal


def stub(table: dict[str, str]):
    """A resolver that never asks the machine's DNS."""

    def resolve(host: str, port: int, *args: object) -> list:
        if host not in table:
            raise socket.gaierror("no such name (stub resolver)")
        family = socket.AF_INET6 if ":" in table[host] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (table[host], port))]

    return resolve


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/a-1.html", "http://2130706433/a-1.html", "http://0x7f000001/a-1.html", "http://127.1/a-1.html",
    "http://0177.0.0.1/a-1.html", "http://[::1]/a-1.html", "http://[::ffff:127.0.0.1]/a-1.html",
    "http://10.1.2.3/a-1.html", "http://192.168.0.1/a-1.html", "http://172.16.5.5/a-1.html",
    "http://169.254.169.254/latest/meta-data", "http://[fe80::1]/a-1.html", "http://0.0.0.0/a-1.html",
    "http://intranet.example/a-1.html", "http://rebind.example/a-1.html",
])
def test_refused(url: str) -> None:
    resolver = stub({"intranet.example": "10.0.0.7", "rebind.example": "::ffff:192.168.1.1"})
    assert refusal(url, resolver) is not None


@pytest.mark.parametrize("url", ["https://baonghean.vn/a-1.html", "http://93.184.216.34/a-1.html",
                                 "http://[2606:2800:220:1::1]/x", "http://unknown.example/a-1.html"])
def test_allowed(url: str) -> None:
    assert refusal(url, stub({"baonghean.vn": "203.113.131.1"})) is None


def test_scrape_makes_no_connection_to_a_refused_address(site) -> None:
    s = site({"/robots.txt": ROBOTS_OK, "/a-1.html": html_route("<html></html>")})
    port = s.base.rsplit(":", 1)[1]
    for host in ("127.0.0.1", "2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]"):
        out = run_cli("scrape", f"http://{host}:{port}/a-1.html", "--no-store")
        assert out.returncode == 1 and "refused" in out.stderr and "--allow-private" in out.stderr, host
        assert len(out.stderr.strip().splitlines()) == 1
    assert s.requests == []


SEED = resources.files("newsarchive.demo").joinpath("article.html").read_bytes()


def test_a_name_is_judged_on_the_address_connected_to(site) -> None:
    # names resolve through the stub table only (no DNS query leaves the machine)
    s = site({"/robots.txt": ROBOTS_OK, "/a-1.html": html_route(SEED)})
    url = f"http://news.test:{s.port}/a-1.html"
    out = run_cli("scrape", url, "--no-store", "--resolve", "news.test:127.0.0.1", "--resolve-only")
    assert out.returncode == 1 and "refused: news.test is 127.0.0.1" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and s.requests == []
    unknown = run_cli("scrape", f"http://nowhere.test:{s.port}/a-1.html", "--no-store", "--resolve-only")
    assert unknown.returncode == 1 and "DNS lookup failed" in unknown.stderr and s.requests == []
    ok = run_cli("scrape", url, "--no-store", "--resolve", "news.test:127.0.0.1", "--resolve-only", "--allow-private")
    assert ok.returncode == 0, ok.stderr
    assert s.requests == ["/robots.txt", "/a-1.html"]


def test_allow_private_is_for_the_named_host_not_for_a_redirect(site) -> None:
    inner = site({"/robots.txt": ROBOTS_OK, "/secret-1.html": html_route(SEED)}, host="127.0.0.2")
    outer = site({"/robots.txt": ROBOTS_OK, "/a-1.html": html_route(SEED),
                  "/moved-1.html": (301, {"Location": "/a-1.html"}, b""),
                  "/away-1.html": (302, {"Location": inner.url("/secret-1.html")}, b""),
                  "/meta-1.html": (302, {"Location": "http://169.254.169.254/latest/meta-data"}, b"")})
    moved = run_cli("scrape", "--allow-private", outer.url("/moved-1.html"), "--no-store", "--json")
    assert moved.returncode == 0, moved.stderr  # a redirect on the same server is followed
    for path in ("/away-1.html", "/meta-1.html"):
        out = run_cli("scrape", "--allow-private", outer.url(path), "--no-store")
        assert out.returncode == 1 and "refused" in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    assert inner.requests == []


def test_bad_resolve_entries_are_usage_errors() -> None:
    out = run_cli("scrape", "http://news.test/a-1.html", "--resolve", "news.test")
    assert out.returncode == 2 and "--resolve" in out.stderr
