"""URL identity: canonical form, tracking parameters, site key, CMS article id."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from .text import safe_url

_TRACKING = re.compile(
    # Only parameters that never select content: dropping "page" or "id" would merge articles.
    r"^(utm_\w*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl|igshid|zarsrc|ref_src)$",
    re.I,
)
_ONECMS_ID = re.compile(r"-(\d+)\.html?$")


def canonical(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, tracking parameters removed,
    the remaining query sorted; no control character, inner whitespace percent-encoded."""
    parts = urlsplit(safe_url(url))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, 80 if scheme == "http" else 443) else None
    if scheme not in ("http", "https"):
        port = parts.port
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host and not host.startswith("["):  # IPv6 literal
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def absolute(href: str | None, base: str) -> str | None:
    if not href:
        return None
    href = safe_url(href)  # controls first: "\x1bjavascript:" is a javascript: URL too
    if not href or href.lower().startswith(("data:", "javascript:", "about:", "blob:")):
        return None
    try:
        return safe_url(urljoin(base, href))  # the base URL may carry controls as well
    except ValueError:
        return None


def site_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def article_id(url: str) -> str | None:
    m = _ONECMS_ID.search(urlsplit(url).path)
    return m.group(1) if m else None


def origin_site(url: str) -> str:
    """The site a URL belongs to, for provenance: host without ``www.``, and the port unless it is
    the scheme's default (so ``http://a`` and ``https://www.a`` are one site; ``a:8001`` and
    ``a:8002`` are two). Empty for a URL with no http(s) host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return ""
    try:
        port = parts.port
    except ValueError:
        return ""
    host = site_of(url)
    return host if port in (None, {"http": 80, "https": 443}[scheme]) else f"{host}:{port}"


def same_site(a: str, b: str) -> bool:
    """Whether two URLs belong to one site (www.-variants, http and https, default ports alike)."""
    site = origin_site(a)
    return bool(site) and site == origin_site(b)


def run_key(url: str) -> str:
    """What makes two URLs one article within a crawl run: the OneCMS id on its site where the URL
    has one (slug, case and query variants all carry it), else the URL in w3lib's canonical form
    (percent-encoding, IDN hosts, query order and tracking parameters compared equal)."""
    found = article_id(url)
    if found:  # the common case, and a hot one (every article link of a crawl): no w3lib needed
        site = origin_site(url)
        if site.isascii():
            return f"{site}#{found}"
    from w3lib.url import canonicalize_url

    try:
        normal = canonicalize_url(canonical(url))
    except ValueError:
        return url
    found = article_id(normal)
    return f"{origin_site(normal)}#{found}" if found else normal
