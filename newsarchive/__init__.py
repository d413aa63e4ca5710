"""newsarchive: scrape and archive news articles (OneCMS sites first) into one SQLite file."""

from __future__ import annotations

__version__ = "0.1.0"

from .extract import NotAnArticle, extract  # noqa: E402

__all__ = ["NotAnArticle", "extract", "__version__"]
