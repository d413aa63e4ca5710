"""The two ways extraction refuses a page: the page is not an article, or the extractor failed."""

from __future__ import annotations


class NotAnArticle(ValueError):
    """The page is not an article (home, listing, error page, empty or unreadable document)."""


class ExtractorError(Exception):
    """A bug in a parser: an unexpected exception inside one of its field methods (or in choosing
    the parser). Not a verdict on the page: the page is kept and ``reparse`` reads it again once the
    parser is fixed. Deliberately not a ``NotAnArticle``: code that skips non-articles must not
    silently skip extractor bugs too.

    ``url`` is the page's address, ``parser`` the parser class (``CurrentParser``,
    ``OlderParser[nguoiquansat]``, ``generic``…), ``field`` the record field being computed (or
    ``detect``/``finish`` outside the field methods), ``error`` the original exception's type and
    text; the original exception is ``__cause__``."""

    def __init__(self, url: str, parser: str, field: str, exc: BaseException) -> None:
        self.url = url
        self.parser = parser
        self.field = field
        self.error = f"{type(exc).__name__}: {exc}"
        super().__init__(f"extractor error in {parser}.{field} for {url}: {self.error}")
