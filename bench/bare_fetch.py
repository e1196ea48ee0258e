"""Scrapy alone fetching a corpus: every feed, then every article it lists, bodies discarded.

    python bench/bare_fetch.py --concurrency 64 FEED_URL [FEED_URL ...]

The floor under any Scrapy crawl of the same pages: no middleware, pipeline, extraction or
writing of ours. `bench/throughput.py` runs it to show how much of the crawl process's CPU is
Scrapy's own. Prints the number of articles fetched.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Iterator

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response


class BareSpider(scrapy.Spider):
    name = "bare"
    fetched = 0

    def __init__(self, feeds: list[str]) -> None:
        super().__init__()
        self.feeds = feeds

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.feeds:
            yield scrapy.Request(url, callback=self.parse_feed)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        for link in response.xpath("//item/link/text()").getall():
            yield scrapy.Request(link, callback=self.parse_article)

    def parse_article(self, response: Response) -> None:
        BareSpider.fetched += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("feeds", nargs="+")
    args = parser.parse_args()
    process = CrawlerProcess(
        {
            "CONCURRENT_REQUESTS": args.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
            # As in the crawl's settings: Scrapy's default (100) starts that many tasks for
            # every response's output, a third of its CPU here.
            "CONCURRENT_ITEMS": 1,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        }
    )
    process.crawl(BareSpider, feeds=args.feeds)
    process.start()
    print(BareSpider.fetched)


if __name__ == "__main__":
    main()
