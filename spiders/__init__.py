"""Scrapy spiders. Installed as ``newsarchive.spiders`` (see pyproject.toml): a top-level package
named ``spiders`` would clash with other projects in site-packages."""
