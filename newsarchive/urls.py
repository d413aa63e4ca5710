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


def same_site(a: str, b: str) -> bool:
    return site_of(a) == site_of(b)
