"""newsarchive: scrape and archive news articles (OneCMS sites first) into one SQLite file."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

# The spiders live in the top-level spiders/ folder and are installed as newsarchive.spiders
# (pyproject.toml maps the folder): a top-level "spiders" package would clash in site-packages.
# Imported from a source checkout instead (``python -m scrapy`` from the project root puts the
# checkout first on sys.path), let newsarchive.spiders resolve to that same folder.
_checkout = Path(__file__).resolve().parent.parent
if not (Path(__file__).parent / "spiders").exists() and (_checkout / "scrapy.cfg").exists():
    __path__.append(str(_checkout))  # type: ignore[name-defined]  # noqa: F821

from .extract import ExtractorError, NotAnArticle, extract  # noqa: E402

__all__ = ["ExtractorError", "NotAnArticle", "extract", "__version__"]
