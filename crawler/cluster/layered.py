"""The dedup lookups of a cluster worker: its shard's catalog first, then the collection's index.

The shard's own catalog answers what this shard archived, committed or not (so a batch sees its
own records at once); the index in Redis answers for the rest of the collection, as published.
"""

from __future__ import annotations

import logging

from archive.catalog import ArchivedArticle, Catalog, TextOwner, Validators
from archive.warcwriter import WarcLocation
from crawler.cluster.index import ClusterIndex
from crawler.cluster.member import ClusterMember
from crawler.cluster.publish import Publisher, catalog_identity

logger = logging.getLogger(__name__)


class LayeredDedup:
    """`DedupState` over one shard and the collection (see the module docstring)."""

    def __init__(self, catalog: Catalog, index: ClusterIndex) -> None:
        self.catalog = catalog
        self.index = index

    def feed_validators(self, url: str) -> Validators | None:
        """This shard's only: an ETag another shard got could answer 304 to a feed whose entries
        this shard must still see (its retry list and crash recovery are its own)."""
        return self.catalog.feed_validators(url)

    def article(self, canonical_url: str) -> ArchivedArticle | None:
        """The latest version of the article in the collection: a recheck on another shard may
        have stored a version after this shard's."""
        here = self.catalog.article(canonical_url)
        there = self.index.article(canonical_url)
        if there is None or (here is not None and here.version >= there.version):
            return here
        return there

    def canonical_for(self, url: str) -> str | None:
        return self.catalog.canonical_for(url) or self.index.canonical_for(url)

    def text_owner(self, content_hash: str) -> TextOwner | None:
        return self.catalog.text_owner(content_hash) or self.index.text_owner(content_hash)

    def capture_for_payload(self, payload_digest: str) -> WarcLocation | None:
        return self.catalog.capture_for_payload(payload_digest) or self.index.capture_for_payload(
            payload_digest
        )

    def capture_for_url(self, url: str) -> WarcLocation | None:
        return self.catalog.capture_for_url(url) or self.index.capture_for_url(url)


def join_collection(member: ClusterMember, catalog: Catalog) -> tuple[LayeredDedup, Publisher]:
    """A run's lookups and publisher as a cluster member, once what the shard committed but
    never published (a worker killed between the two) is published: before any work is taken."""
    index = ClusterIndex(member)
    publisher = Publisher(index, catalog.db, catalog_identity(catalog.path))
    published = publisher.reconcile()
    if published.records or published.payloads:
        logger.warning(
            "reconciled with the collection's index: published %d records and %d payloads this "
            "shard committed before (a run killed before publishing, or a catalog rebuilt)",
            published.records,
            published.payloads,
        )
    return LayeredDedup(catalog, index), publisher
