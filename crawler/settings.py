"""Settings of the archiving crawler; every default lives here.

Override any of them per run with ``-s NAME=VALUE`` or in a Scrapyd schedule call.
"""

from crawler import __version__

BOT_NAME = "xinhua-archiver"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
# Adds one crawl spider per site profile (crawler/sites/<name>.yaml → scrapy crawl <name>).
SPIDER_LOADER_CLASS = "spiders.loader.ProfileSpiderLoader"
COMMANDS_MODULE = "crawler.commands"

# --- Politeness: these sites are public services; crawl them like a considerate reader.
# Operators should append a contact address: -s USER_AGENT="... (+mailto:you@example.org)".
USER_AGENT = f"xinhua-archiver/{__version__} (news archiving crawler; obeys robots.txt)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.25
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024  # article pages are 10-400 KB; anything huge is not one
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# A request that still fails after its retries is reported by the spider that sent it: a
# warning, not an error (crawler/extensions/fetchlog.py tells each failing host once).
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
FETCH_FAILURE_LOG_ONCE = True
# With requests out and no answer for this many seconds, the log names the URL waited for
# (crawler/extensions/fetchlog.py); 0: never.
FETCH_WAIT_NOTICE = 5
REDIRECT_MAX_TIMES = 5
# --- Where requests may go (crawler/downloadermiddlewares/addressguard.py): only http(s),
# never to loopback, private, link-local or cloud metadata addresses, unless the host or
# address is listed here, e.g. ["127.0.0.1"] for a test server or ["intranet.example.org",
# "10.1.0.0/16"].
FETCH_ALLOWED_HOSTS: list[str] = []
COOKIES_ENABLED = False
# No remote consoles on unattended crawlers: both execute code sent to them.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
# Cookies and the remote control, off above, are not even imported (crawler/addons/lean_startup.py).

FEED_EXPORT_ENCODING = "utf-8"

# --- Pages → articles → files, one stage per pipeline module.
ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.normalise.NormalisePipeline": 200,
    "pipelines.validate.ValidatePipeline": 300,
    "pipelines.deduplicate.DeduplicatePipeline": 400,
    "pipelines.images.ImagePipeline": 700,
    "pipelines.capture.CapturePipeline": 750,
    "pipelines.archive.ArchivePipeline": 800,
}
# Next to the spider (Scrapy's own run 700-900 on its output): links to archived articles,
# nearly all of a scheduled run's, are dropped before Referer, UrlLength and Depth see them.
SPIDER_MIDDLEWARES = {"crawler.spidermiddlewares.skip_archived.SkipArchivedMiddleware": 950}
DOWNLOADER_MIDDLEWARES = {
    # First of all, before robots.txt is asked: no request to an internal address.
    "crawler.downloadermiddlewares.addressguard.AddressGuardMiddleware": 50,
}
EXTENSIONS = {
    "scrapy.extensions.logstats.LogStats": None,
    # a live line on a terminal, else the periodic one
    "crawler.extensions.progress.CrawlProgress": 0,
    "crawler.extensions.fetchlog.HostFailureLog": 0,
    "crawler.extensions.fetchlog.SilentWaitNotice": 0,
    # commits before the lock is let go (100)
    "crawler.extensions.archive_history.ArchiveHistory": 90,
    "crawler.extensions.archive_lock.ArchiveLock": 100,
    # Counts the run as the spider closes, before any monitor (530 here, 500 for Spidermon's
    # own extension) logs its failures; logs its line when the engine stops: the run's last.
    "crawler.extensions.summary.RunSummary": 400,
    "crawler.extensions.field_health.FieldHealthReport": 500,
    "crawler.extensions.gc_tuning.GcTuning": 0,
    # Spidermon's monitors and runner; its Scrapy extension may replace this
    # (crawler/extensions/monitors.py)
    "crawler.extensions.monitors.CloseMonitorRunner": 530,
}
RUN_SUMMARY_FILE = None  # also write the run summary as JSON here
# --- Progress (crawler/extensions/progress.py): on a terminal one live line, refreshed every
# interval; in cron, under Scrapyd or with a LOG_FILE the periodic stats line (LOGSTATS_INTERVAL).
PROGRESS_ENABLED = True
PROGRESS_INTERVAL = 0.5  # seconds
# --- End-of-run monitors (crawler/extensions/monitors.py, Spidermon).
SPIDERMON_ENABLED = True
SPIDERMON_SPIDER_CLOSE_MONITORS = ["crawler.extensions.monitors.CloseMonitors"]
MONITOR_MIN_ARTICLES = 1
MONITOR_MAX_ERROR_RATE = 0.2
MONITOR_MIN_FIELD_FOUND = 0.8
MONITOR_MIN_FIELD_PRIMARY = 0.5
MONITOR_MIN_FIELD_SAMPLE = 10

# --- Throughput without behaviour changes (see benchmarks/README.md for the figures).
# Scrapy's check for spider callbacks that return a value from a generator reads their
# source with inspect and ast; its cache is keyed by bound methods, new with every request,
# so it ran again and again (2% of a crawl). tests/test_spiders.py runs the same check.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response's output; our callbacks
# yield one item, or a page of links, so a handful is plenty.
CONCURRENT_ITEMS = 8
# gc.freeze() at engine start, then these thresholds (empty: Python's defaults). Higher ones
# let cyclic garbage grow between full collections; since the spiders stopped leaving parsed
# pages in reference cycles they are no faster either (benchmarks/README.md).
GC_THRESHOLDS = [10000, 10, 10]
LOG_FORMATTER = "crawler.logformatter.ArchiveLogFormatter"
LOG_LEVEL = "INFO"

# --- Site rules.
# A folder of *.yaml profiles and a source mapping file of your own; None (or empty) means the
# ones packaged with the crawler, crawler/sites/ and crawler/sources.yaml, read as package data
# (importlib.resources): from a source checkout, an installed package or a Scrapyd egg alike.
SITE_PROFILES_DIR = None
SOURCE_CATEGORIES_FILE = None
# List pages are followed this many links deep from a start URL (columns link to columns).
DISCOVERY_LIST_DEPTH = 2

# --- Incremental crawls: articles in the catalog are not fetched again, unless they were
# published within the revisit window (so that corrections are caught).
INCREMENTAL_ENABLED = True
INCREMENTAL_REVISIT_DAYS = 3

# --- Extraction: the most work one page may cost. Real article pages have 300-3,000 elements
# nested 10-20 deep. A page with more elements is dropped (PageTooComplex), and so is a page
# nested deeper when a generic heuristic has to read all of it; at these bounds a page takes
# at most about a second. One 2,048 levels deep, where libxml2 stops reading, is always dropped.
EXTRACT_MAX_ELEMENTS = 25_000
EXTRACT_MAX_DEPTH = 128

# --- Validation.
# Publication dates further in the future than this are errors, not scoops.
VALIDATE_MAX_FUTURE_HOURS = 24

# --- Archive.
ARCHIVE_DIR = "archive"
ARCHIVE_SITE_URL = ""  # prefix of the back links, e.g. "//news.example.org"
ARCHIVE_LAYOUT = "post"
ARCHIVE_TO_STDOUT = False  # print the Markdown instead of writing files (scrape --stdout)
ARCHIVE_CATALOG = True  # keep <ARCHIVE_DIR>/_catalog/ (SQLite index + articles.jsonl)
ARCHIVE_JEKYLL_SITE = True  # create the Jekyll site files (never overwriting edits)
ARCHIVE_IMAGES = True  # download article images into <ARCHIVE_DIR>/assets/images/
# What one article may keep: its further images keep their original URLs (a page of 60
# images of 8 MiB must not write half a gigabyte). Xinhua's articles have 0-20 photos.
ARCHIVE_IMAGES_MAX_PER_ARTICLE = 30
ARCHIVE_IMAGES_MAX_BYTES_PER_ARTICLE = 20 * 1024 * 1024
# Keep what the servers sent for every archived article page (continuation pages too), request
# and response, as WARC files in <ARCHIVE_DIR>/_warc/ (crawler/archive/warc.py); a writer starts
# a new file each day (UTC) and past this size.
ARCHIVE_WARC = True
ARCHIVE_WARC_MAX_BYTES = 1024 * 1024 * 1024
# Commit what each run changed (posts, images, site files) to the archive folder's own git
# repository, created when missing (crawler/archive/history.py).
ARCHIVE_GIT = False
# Overlapping runs: the second waits this many seconds for the first, then exits non-zero.
ARCHIVE_LOCK = True
ARCHIVE_LOCK_WAIT = 0
ARCHIVE_LOCK_SHARED = False  # set by distributed mode: the workers of a crawl share the lock

# --- scrapy buildsite (crawler/archive/sitebuild.py): the Jekyll site in parts of whole days.
BUILDSITE_JEKYLL = "jekyll"  # the command, or its path
# Jekyll 4.3's build time grows with the square of a site's files: parts of about 1,000 posts
# cost ~1 ms per post in it, against ~0.5 s of start-up per part.
BUILDSITE_PART_POSTS = 1000
BUILDSITE_JOBS = 1  # Jekyll builds at a time (-j N)

# --- Distributed crawls (crawler/addons/distributed.py, docs/distributed.md): set REDIS_URL and
# start as many workers as you like; they share scrapy-redis's frontier and one archive.
ADDONS = {
    "crawler.addons.distributed.DistributedAddon": 0,
    "crawler.addons.lean_startup.LeanStartupAddon": 0,
}
REDIS_URL = None
DISTRIBUTED_RUN = None  # names the shared queue and seen-list (default: the spider's name)
DISTRIBUTED_RETRIES = 2  # times a request a dead worker took is put back in the queue
DISTRIBUTED_WORKER_TIMEOUT = 20.0  # seconds without a heartbeat after which a worker is dead
# A worker that loses Redis mid-run retries (backing off) for this many seconds, then stops
# with a failed summary; one that cannot reach it at start does not crawl at all.
DISTRIBUTED_REDIS_RETRY_SECONDS = 30.0
