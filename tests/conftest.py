"""Shared fixtures: the sample news site on 127.0.0.x."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawler.sample_server import SampleSite


@pytest.fixture(scope="session")
def site() -> Iterator[SampleSite]:
    """The sample site, generation 1, shared read-only by the tests that do not change it."""
    with SampleSite(slow_seconds=3.0) as running:
        yield running
