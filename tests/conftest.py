"""Shared fixtures: the sample news site on 127.0.0.x, and archives of it crawled once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from archives import crawl_archive

from crawler.sample_server import SampleSite


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked `start_early` run first. With one xdist worker per CPU (README's command,
    without xdist's reordering by test count), a file of minutes started last would keep one
    worker busy long after the others are done."""
    items.sort(key=lambda item: item.get_closest_marker("start_early") is None)


@pytest.fixture(scope="session")
def site() -> Iterator[SampleSite]:
    """The sample site, generation 1, shared read-only by the tests that do not change it."""
    with SampleSite(slow_seconds=3.0) as running:
        yield running


@pytest.fixture(scope="session")
def crawled_once(site: SampleSite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`site` crawled once (generation 1), by the real CLI. Never changed: a module takes
    `copy_archive` of it, as if it had crawled the site itself, without paying for the crawl."""
    return crawl_archive(tmp_path_factory.mktemp("crawled-once"), site)


@pytest.fixture(scope="session")
def crawled_twice(site: SampleSite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`site` crawled in generation 1, then 2 (an edited article, new ones); never changed.
    The site is back at generation 1 afterwards, as the other tests expect it."""
    archive = crawl_archive(tmp_path_factory.mktemp("crawled-twice"), site, generations=(1, 2))
    site.generation = 1
    return archive
