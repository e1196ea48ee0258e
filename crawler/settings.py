"""Scrapy settings built from the validated config: the one place our components are switched on."""

from __future__ import annotations

from typing import Any

from crawler.config import Config

DOWNLOADER_MIDDLEWARES = {
    # Refuse forbidden addresses before robots.txt is fetched for them.
    "crawler.downloadermiddlewares.addressguard.AddressGuardMiddleware": 45,
    # One spider crawls many sources: the per-source scope replaces the per-spider one.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.downloadermiddlewares.sourcescope.SourceScopeMiddleware": 50,
    # robots.txt as RFC 9309 reads it: unreachable means disallow, at most 500 KiB read.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
    # A redirect loop ends as a failure of the request, not as a silently dropped duplicate.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.downloadermiddlewares.redirect.MetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.downloadermiddlewares.redirect.RedirectMiddleware": 600,
    # Every exchange as received, before decompression and redirects.
    "crawler.downloadermiddlewares.warccapture.WarcCaptureMiddleware": 950,
    # Nearer still: a response from a refused address is dropped before it can be archived.
    "crawler.downloadermiddlewares.addressguard.ConnectedAddressMiddleware": 960,
}

# Feeds list articles and articles are leaves: there is no depth to limit, and counting it cost
# 2% of the crawl process (py-spy, 2,000 articles).
SPIDER_MIDDLEWARES = {"scrapy.spidermiddlewares.depth.DepthMiddleware": None}

ITEM_PIPELINES = {
    "pipelines.extraction.ExtractionPipeline": 100,
    "pipelines.dedup.DedupPipeline": 200,
    "pipelines.store.StorePipeline": 300,
}


def scrapy_settings(config: Config, *, log_level: str = "WARNING") -> dict[str, Any]:
    crawl = config.crawl
    return {
        "BOT_NAME": "newsarchive",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "ROBOTSTXT_USER_AGENT": crawl.user_agent,
        "CONCURRENT_REQUESTS": crawl.concurrency,
        # Politeness per host is `delay` (and autothrottle), as the README says. With no delay,
        # Scrapy 2.19 starts up to CONCURRENT_REQUESTS to one host whatever this says (scrapy#6982),
        # while its connection pool keeps only this many alive: every other request would pay a
        # new TCP connection. Equal to the total, every connection is reused.
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency,
        # Scrapy starts this many tasks for every response's output; an article yields one item.
        "CONCURRENT_ITEMS": 1,
        "DOWNLOAD_DELAY": crawl.delay,
        "AUTOTHROTTLE_ENABLED": crawl.delay > 0,
        "AUTOTHROTTLE_START_DELAY": max(crawl.delay, 0.1),
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DNS_TIMEOUT": crawl.timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 2,
        # The spider and the robots.txt middleware log a failure given up on as its one line.
        "RETRY_GIVE_UP_LOG_LEVEL": "DEBUG",
        "REDIRECT_MAX_TIMES": 10,
        # Scrapy drops longer URLs (default 2083) without a callback or errback: nothing counted,
        # and a listing never closed. Sent, they end as data (a 414, say) like any other failure.
        "URLLENGTH_LIMIT": 0,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOGSTATS_INTERVAL": 0,
        "LOG_LEVEL": log_level,
        "LOG_INSTALL_ROOT_HANDLER": False,  # the CLI owns logging: one format, one destination
        "REMOTE_CONTROL_ENABLED": False,  # no listening port on an archiving server
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "NEWSARCHIVE_ALLOW_PRIVATE_ADDRESSES": crawl.allow_private_addresses,
        "DOWNLOADER_MIDDLEWARES": DOWNLOADER_MIDDLEWARES,
        "SPIDER_MIDDLEWARES": SPIDER_MIDDLEWARES,
        "ITEM_PIPELINES": ITEM_PIPELINES,
        "EXTENSIONS": {"crawler.progress.ProgressDisplay": 500},  # on a terminal only
    }
