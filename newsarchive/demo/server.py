"""A tiny site on a free loopback port, served from the files shipped in this package."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

ROBOTS = b"User-agent: *\nDisallow: /print/\nDisallow: /api/getcomment/\n"
ARTICLE = "/dien-bien-so-thong-tin-va-truyen-thong-trien-khai-nhiem-vu-2024-384142.html"


def _pages() -> dict[str, tuple[str, bytes]]:
    article = resources.files(__package__).joinpath("article.html").read_bytes()
    return {
        "/robots.txt": ("text/plain", ROBOTS),
        ARTICLE: ("text/html; charset=utf-8", article),
    }


class _Handler(BaseHTTPRequestHandler):
    pages: dict[str, tuple[str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        found = self.pages.get(self.path.split("?")[0])
        if found is None:
            self.send_error(404)
            return
        ctype, body = found
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_demo(host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the demo site; yields its base URL (``http://127.0.0.1:PORT/``)."""
    handler = type("DemoHandler", (_Handler,), {"pages": _pages()})
    server = ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
