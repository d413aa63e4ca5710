"""SQL for "of this site", from a site's one identity (``sites.SiteRef.key``: ``host`` or
``host:port``). Records carry the host alone in ``site`` (the record spec); a key with a port
narrows them by the URL's own ``scheme://host:port/`` prefix."""

from __future__ import annotations


def _split(key: str) -> tuple[str, str | None]:
    host, sep, port = key.rpartition(":")
    if sep and port.isdigit() and host and ":" not in host:
        return host, port
    return key, None


def articles_of(key: str, alias: str = "") -> tuple[str, list[str]]:
    """A WHERE condition (and its parameters) for the articles of site ``key``."""
    host, port = _split(key)
    if port is None:
        return f"{alias}site = ?", [host]
    prefixes = [f"http://{host}:{port}/", f"https://{host}:{port}/"]
    return (f"({alias}site = ? AND (substr({alias}url, 1, {len(prefixes[0])}) = ?"
            f" OR substr({alias}url, 1, {len(prefixes[1])}) = ?))", [host, *prefixes])


def runs_of(key: str) -> tuple[str, list[str]]:
    """A WHERE condition for the runs (or failures) of site ``key``: a key without a port takes in
    every port of that host (``127.0.0.1`` is every demo site served there)."""
    host, port = _split(key)
    if port is not None:
        return "site = ?", [key]
    return "(site = ? OR substr(site, 1, ?) = ?)", [host, len(host) + 1, host + ":"]
