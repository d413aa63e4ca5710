"""scrape refuses private, loopback and link-local addresses by default, on the resolved address."""

from __future__ import annotations

import socket

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
