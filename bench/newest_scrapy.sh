#!/bin/sh
# The politeness suite (robots.txt 5xx = disallow, Crawl-delay, Retry-After, redirects...) against the
# newest Scrapy the package index serves, in a throwaway venv: run before raising the "scrapy<…" bound
# in pyproject.toml. Not part of .ci/run (it downloads). Usage: sh bench/newest_scrapy.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
# editable: the tests import newsarchive from the tree (spiders/ is mapped to newsarchive.spiders)
"$venv/bin/pip" install -q -e "$root[test]"
"$venv/bin/pip" install -q --upgrade --no-deps scrapy  # past pyproject's upper bound on purpose
"$venv/bin/python" -c "import scrapy; print('scrapy', scrapy.__version__)"
# newsarchive.crawl.compat fails the import at once if a private hook we override has gone
cd "$root" && "$venv/bin/python" -m pytest -n 0 -q tests/test_politeness.py
