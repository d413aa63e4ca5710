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


def refusal(url: str, resolver: Resolver | None = socket.getaddrinfo) -> str | None:
    """Why ``url`` may not be fetched by default, or None. A name that does not resolve is left to
    the fetch (which reports it as unreachable); with no ``resolver`` only literal addresses are
    judged here, and names by :class:`GuardedResolver` when the connection is made."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return f"no host in {url}"
    literal = _literal(host)
    if literal is not None:
        addrs = [literal]
    elif resolver is None:
        return None
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


def parse_hosts(entries: Any) -> dict[str, str]:
    """``NEWSARCHIVE_HOSTS``: a dict, or ``host:address`` entries (curl's ``--resolve`` without the
    port), comma-separated or a list."""
    if not entries:
        return {}
    if isinstance(entries, dict):
        return {str(k).lower(): str(v) for k, v in entries.items()}
    if isinstance(entries, str):
        entries = [e for e in entries.split(",") if e.strip()]
    table = {}
    for entry in entries:
        host, sep, address = entry.strip().partition(":")
        if not sep or _literal(address.strip("[]")) is None:
            raise ValueError(f"not host:address: {entry!r}")
        table[host.lower()] = address.strip("[]")
    return table


def _make_resolver_class() -> type:
    """Scrapy's resolver with a guard on the address actually connected to (so a name that
    resolves differently the second time, DNS rebinding, cannot slip past a check made
    earlier) and a static name table. Built lazily: importing Twisted is not free."""
    from scrapy.resolver import CachingThreadedResolver
    from twisted.internet import defer
    from twisted.internet.error import DNSLookupError

    class GuardedResolver(CachingThreadedResolver):  # type: ignore[misc]
        """Settings: ``NEWSARCHIVE_HOSTS`` (a static table; with ``NEWSARCHIVE_HOSTS_ONLY`` names
        outside it fail without any DNS query), ``NEWSARCHIVE_ALLOW_PRIVATE`` (True; "site": only the host the
        spider was given, its base URL or URL, may be private; a list of host names that may be;
        False refuses them all)."""

        hosts: dict[str, str] = {}
        hosts_only = False
        refused: dict[str, str] = {}  # name -> why (Scrapy rewords a DNS error: callers look here)
        allow_private: bool | frozenset[str] | str = True
        crawler: Any = None

        @classmethod
        def from_crawler(cls, crawler: Any, reactor: Any) -> Any:
            resolver = super().from_crawler(crawler, reactor)
            settings = crawler.settings
            resolver.hosts = parse_hosts(settings.get("NEWSARCHIVE_HOSTS"))
            resolver.hosts_only = settings.getbool("NEWSARCHIVE_HOSTS_ONLY")
            resolver.crawler = crawler
            allow = settings.get("NEWSARCHIVE_ALLOW_PRIVATE", True)
            if allow == "site":
                resolver.allow_private = "site"
            elif isinstance(allow, list | tuple | set | frozenset):
                resolver.allow_private = frozenset(h.lower() for h in allow)
            else:
                resolver.allow_private = settings.getbool("NEWSARCHIVE_ALLOW_PRIVATE", True)
            return resolver

        def getHostByName(self, name: str, timeout: Any = ()) -> Any:  # noqa: N802 (Twisted's name)
            key = name.lower().rstrip(".")
            literal = _literal(key.strip("[]"))
            if literal is not None:
                d = defer.succeed(str(literal))
            elif key in self.hosts:
                d = defer.succeed(self.hosts[key])
            elif self.hosts_only:
                return defer.fail(DNSLookupError(f"{name}: not in NEWSARCHIVE_HOSTS (no DNS query made)"))
            else:
                d = super().getHostByName(name, timeout)
            return d.addCallback(self._check, name)

        def _site_hosts(self) -> set[str] | None:
            """The hosts the running spiders were given (a crawl's base URL, a scrape's URL); None
            when no spider says. Scrapy builds the resolver from the crawler process, not a crawler."""
            crawlers = getattr(self.crawler, "crawlers", None) or [self.crawler]
            hosts = set()
            for crawler in crawlers:
                spider = getattr(crawler, "spider", None)
                value = getattr(spider, "base", None) or getattr(spider, "url", None)
                if isinstance(value, str) and (host := urlsplit(value).hostname):
                    hosts.add(host.lower())
            return hosts or None

        def _check(self, address: str, name: str) -> str:
            key = name.lower().rstrip(".")
            if self.allow_private == "site":  # the crawled host may be anywhere; every other hop not
                site_hosts = self._site_hosts()
                allowed = site_hosts is None or key in site_hosts
            else:
                allowed = self.allow_private is True or (
                    isinstance(self.allow_private, frozenset) and key in self.allow_private)
            addr = _literal(address)
            if not allowed and addr is not None and _forbidden(addr):
                why = (f"refused: {name} is {addr}, a private, loopback or link-local address"
                       " (--allow-private scrapes a local server on purpose)")
                GuardedResolver.refused[name.lower().rstrip(".")] = why
                raise DNSLookupError(why)
            return address

    return GuardedResolver


def refusal_of(url: str) -> str | None:
    """Why the resolver refused the host of ``url`` in this process, if it did."""
    cls = globals().get("GuardedResolver")
    return cls.refused.get((urlsplit(url).hostname or "").lower()) if cls is not None else None


def __getattr__(name: str) -> Any:
    if name == "GuardedResolver":
        cls = _make_resolver_class()
        globals()["GuardedResolver"] = cls
        return cls
    raise AttributeError(name)
