"""Which addresses a one-off scrape may reach: by default not private, loopback, link-local or
otherwise reserved ones (a URL handed to ``scrape`` could point into the machine's own network).
Decided on the resolved address, whatever spelling the URL uses (``2130706433``, ``0x7f000001``,
``127.1``, ``[::ffff:127.0.0.1]`` are all 127.0.0.1)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

Resolver = Callable[..., list[Any]]


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if ":" in host:
        try:
            return ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return None
    try:  # inet_aton reads the legacy forms too: 2130706433, 0x7f000001, 127.1, 0177.0.0.1
        return ipaddress.ip_address(socket.inet_ntoa(socket.inet_aton(host)))
    except OSError:
        return None


def _forbidden(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved or addr.is_multicast
            or addr.is_unspecified)


def refusal(url: str, resolver: Resolver = socket.getaddrinfo) -> str | None:
    """Why ``url`` may not be fetched by default, or None. A name that does not resolve is left to
    the fetch (which reports it as unreachable)."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return f"no host in {url}"
    literal = _literal(host)
    if literal is not None:
        addrs = [literal]
    else:
        try:
            infos = resolver(host, parts.port or (443 if parts.scheme == "https" else 80), 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None
        addrs = [a for a in (_literal(info[4][0]) for info in infos) if a is not None]
    for addr in addrs:
        if _forbidden(addr):
            return (f"refused: {host} is {addr}, a private, loopback or link-local address "
                    "(--allow-private scrapes a local server on purpose)")
    return None
