"""Scrapy settings shared by one-off scrapes and crawls (``scrapy.cfg`` points here).

Every newsarchive component is registered here and disables itself (NotConfigured) where it does
not apply: the archive's pipeline and run recorder for a crawl of the ``onecms`` spider, the
cluster's for a worker (``NEWSARCHIVE_REDIS``; the spider then applies ``profiles.apply_cluster``).
The cluster's components import no Redis code until they are enabled."""

from __future__ import annotations

from scrapy.settings import default_settings as _scrapy_defaults

from .. import __version__

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["newsarchive.spiders"]
NEWSPIDER_MODULE = "newsarchive.spiders"

# Identify ourselves, with a contact URL (override with NEWSARCHIVE_USER_AGENT or -s USER_AGENT=…).
USER_AGENT = f"newsarchive/{__version__} (+https://github.com/newsarchive/newsarchive; archiving bot)"

ROBOTSTXT_OBEY = True
DOWNLOADER_MIDDLEWARES = {
    "newsarchive.crawl.middlewares.DiscoveryBound": 50,  # --max-articles bounds discovery too
    # Scrapy's own allows everything when robots.txt fails; ours disallows (see middlewares.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "newsarchive.crawl.middlewares.PoliteRobotsTxtMiddleware": 100,
    # and it retries at once on 429/503, ignoring Retry-After
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "newsarchive.crawl.middlewares.RetryAfterMiddleware": 550,
    "newsarchive.crawl.middlewares.SiteConcurrencyGate": 950,  # CONCURRENT_REQUESTS_PER_DOMAIN, really
    "newsarchive.cluster.components.SharedSitePoliteness": 950,  # the same across a cluster's workers
    # a crawl follows redirects within its site only (the hop elsewhere is a recorded failure)
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "newsarchive.crawl.middlewares.SiteRedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "newsarchive.crawl.middlewares.SiteMetaRefreshMiddleware": 580,
}

CONCURRENT_REQUESTS = 16
# Scrapy hands each callback's output to CONCURRENT_ITEMS (100) new asyncio tasks, whatever its size:
# ~100 tasks per page fetched, a fifth of a crawl's time on 2 cores. Our pipeline is synchronous
# (one transaction per article), so more than a few buys nothing.
CONCURRENT_ITEMS = 4
# Scrapy parses each callback's source (inspect + ast) to warn about generators that return a
# value; ours are known not to, and it costs a compile per callback.
WARN_ON_GENERATOR_RETURN_VALUE = False
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0

DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024  # an article page is ~100 KB: 16 MiB is a runaway
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
REDIRECT_MAX_TIMES = 10
RETRY_GIVE_UP_LOG_LEVEL = "INFO"  # a page given up on is recorded in the run and retried next run

COOKIES_ENABLED = False
# No code-execution consoles in the crawler process (docs/security.md)
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # recent Scrapy: a local HTTP server that runs code in the process
# Only http(s) is ever fetched: a redirect or a link to file:, data:, ftp: or s3: fails
DOWNLOAD_HANDLERS = {"file": None, "data": None, "ftp": None, "s3": None}
LOG_LEVEL = "INFO"  # what `scrapy crawl` users expect; newsarchive crawl and scrape set their own
SPIDER_MIDDLEWARES = {"newsarchive.cluster.components.ClaimAck": 1}  # a worker acknowledges its claims
ITEM_PIPELINES = {
    "newsarchive.crawl.pipelines.ArchivePipeline": 300,  # a crawl: into the archive
    "newsarchive.cluster.components.PushPipeline": 300,  # a cluster worker: to the writer, through Redis
}
EXTENSIONS = {
    "newsarchive.crawl.extensions.RunRecorder": 500,
    "newsarchive.cluster.components.ClusterWorker": 500,
    "scrapy.extensions.throttle.AutoThrottle": None,
    "newsarchive.crawl.middlewares.PoliteAutoThrottle": 0,  # AutoThrottle that keeps Crawl-delay
    "scrapy.extensions.logstats.LogStats": None,  # RunRecorder prints our own progress
    "scrapy.extensions.remote_control.RemoteControl": None,  # no listening port on a crawl host
}
# newsarchive's own settings
NEWSARCHIVE_DB = None  # default: $NEWSARCHIVE_DB or data/archive.db
NEWSARCHIVE_WINDOW = "7d"  # how far an empty archive reaches back before the newest article
NEWSARCHIVE_REVISIT = "1h,6h,24h,7d"  # re-checks after publication
NEWSARCHIVE_QUIET = False
NEWSARCHIVE_MAX_RETRY_AFTER = 120  # seconds; a longer Retry-After defers the page to the next run
NEWSARCHIVE_MAX_CRAWL_DELAY = 60  # seconds; a longer robots.txt Crawl-delay is kept at this (docs/security.md)
NEWSARCHIVE_FRONTIER = "newsarchive.crawl.frontier.LocalFrontier"  # the cluster profile sets its own
# items handed to the writer process (extract + store, crawl/worker.py) and not yet stored: a kill -9
# loses at most these and the requests in flight (refetched by the next run)
NEWSARCHIVE_WRITER_WINDOW = 8
NEWSARCHIVE_WRITER_BACKLOG = 32  # items fetched and not stored past which no new request is scheduled
NEWSARCHIVE_WRITER_PROCESS = True  # False: extract + store on the reactor thread (one core; for a debugger)
NEWSARCHIVE_REDIS = None  # redis://HOST:PORT/N: this crawl is a worker of a cluster run (docs/cluster.md)
NEWSARCHIVE_CLUSTER_PLAN = None  # a worker that plans the run (default: one given NEWSARCHIVE_DB)
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# Every name is resolved through the guard, which checks the address actually connected to
# (scrape refuses private ranges there: a second lookup cannot rebind it) and knows a static table.
if hasattr(_scrapy_defaults, "TWISTED_DNS_RESOLVER"):  # the setting's name since Scrapy 2.14
    TWISTED_DNS_RESOLVER = "newsarchive.netguard.GuardedResolver"
else:  # pragma: no cover
    DNS_RESOLVER = "newsarchive.netguard.GuardedResolver"
NEWSARCHIVE_HOSTS: dict[str, str] = {}  # name -> address, never looked up (like curl --resolve)
NEWSARCHIVE_HOSTS_ONLY = False  # True: a name outside NEWSARCHIVE_HOSTS fails, no DNS query is made
# "site": the host a crawl was given may be on any address (a site on the local network, the demo);
# every other host (a redirect hop to www., a media host) may not be private. scrape sets False.
NEWSARCHIVE_ALLOW_PRIVATE = "site"
FEED_EXPORT_ENCODING = "utf-8"

# Media (newsarchive/media.py, docs/media.md): the images, og:image, a podcast's audio and a video's
# poster of each archived article, fetched politely (the media host's robots.txt, its own download
# slot with the same delay and concurrency as a site, the same timeouts and address guard) and
# kept once by SHA-256 in the media file beside the archive. `crawl --no-media` sets False.
NEWSARCHIVE_MEDIA = True
NEWSARCHIVE_MEDIA_VIDEO = False  # video files too (large): off unless asked for
NEWSARCHIVE_MEDIA_MAXSIZE_IMAGE = 10 * 1024 * 1024  # bytes per file; larger is refused, recorded, retried
NEWSARCHIVE_MEDIA_MAXSIZE_AUDIO = 64 * 1024 * 1024
NEWSARCHIVE_MEDIA_MAXSIZE_VIDEO = 256 * 1024 * 1024
