"""The collection's dedup index in Redis: what every shard has archived, looked up by the others.

Keys (all under `keys.PREFIX`), each written by `crawler.cluster.publish` after a shard's catalog
commit and rebuilt from the shards by `crawler.cluster.rebuild`:

- `url:<canonical>` hash: the latest version of an article (record id, version, content hash,
  payload digest, first fetched, validators) and the shard holding it;
- `alias:<url>` -> the canonical URL it was fetched or listed under;
- `text:<content hash>` hash: the record holding that text (id, canonical URL, published, names);
- `payload:<digest>` hash: the WARC record holding that payload (a `WarcLocation`);
- `capture:<url>` hash: the digest and date of the URL's latest full capture;
- `claim:<url>` -> the worker fetching that article now (SET NX PX, renewed while it works);
- `shard:<worker>:published` hash: per catalog table, the last rowid published (the watermark).

A failed call (Redis gone, refusing, out of memory) is never an answer: it raises
`ClusterUnavailableError`, and every later call raises it at once, so the run stops cleanly instead
of taking "unknown" for "not archived".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import redis

from archive.catalog import ArchivedArticle, ShardLocation, TextOwner, Validators
from archive.errors import ClusterUnavailableError
from crawler.cluster.connection import redacted
from crawler.cluster.keys import PREFIX
from crawler.cluster.member import ClusterMember

T = TypeVar("T")
logger = logging.getLogger(__name__)

CLAIM_SECONDS = 60.0
"""How long a claim outlives its worker: a dead worker's articles wait this long for another."""
RENEW_SECONDS = 10.0
"""How often a working worker renews its claims (with a publish, see `queue_claims`)."""

# Take the claim if it is free or already ours (a restarted worker of the same name).
_CLAIM = """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# Renew (PEXPIRE with ARGV[2]) or release (no ARGV[2]) a claim, only while it is ours.
_OWN = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('DEL', KEYS[1])
"""


def key(kind: str, name: str) -> str:
    return f"{PREFIX}{kind}:{name}"


def watermark_key(shard: str) -> str:
    return f"{PREFIX}shard:{shard}:published"


class ClusterIndex:
    """One crawl run's view of the collection's index: lookups of what other shards archived,
    claims of the articles this worker fetches, and the client publishing uses."""

    def __init__(self, member: ClusterMember) -> None:
        self.client = member.client
        self.shard = member.worker
        self._url = member.url
        self._lost: ClusterUnavailableError | None = None
        self._claim = self.client.register_script(_CLAIM)
        self._own = self.client.register_script(_OWN)
        self.held: set[str] = set()
        """Claims this run holds (canonical URLs), until published or the run ends."""
        self._finished: set[str] = set()
        self._renewed = time.monotonic()

    def call(self, action: Callable[[], T]) -> T:
        """`action`'s result, or ClusterUnavailableError when Redis fails it (or failed before)."""
        if self._lost is not None:
            raise self._lost
        try:
            return action()
        except redis.RedisError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._lost = ClusterUnavailableError(f"lost Redis at {redacted(self._url)}: {reason}")
            raise self._lost from exc

    # lookups: what other shards archived
    def canonical_for(self, url: str) -> str | None:
        found: Any = self.call(lambda: self.client.get(key("alias", url)))
        return cast(str | None, found)

    def article(self, canonical_url: str) -> ArchivedArticle | None:
        found = self._hash("url", canonical_url)
        if not found:
            return None
        return ArchivedArticle(
            canonical_url,
            found["record_id"],
            int(found["version"]),
            found["content_hash"],
            found["payload_digest"],
            _parse_ts(found["first_fetched"]),
            Validators(found.get("etag"), found.get("last_modified")),
        )

    def text_owner(self, content_hash: str) -> TextOwner | None:
        """The record holding this text. One of another shard is never `latest`: its record
        cannot be read here, so it cannot be demoted from here (the copy found later keeps its
        text too)."""
        found = self._hash("text", content_hash)
        if not found:
            return None
        return TextOwner(
            found["record_id"],
            found["canonical_url"],
            found.get("published"),
            found.get("names"),
            latest=False,
        )

    def capture_for_payload(self, payload_digest: str) -> ShardLocation | None:
        """The record of another shard holding this payload. This shard's own catalog is the
        authority on its records: one it forgot (damaged on disk) is not taken from here."""
        found = self._hash("payload", payload_digest)
        if not found or found["shard"] == self.shard:
            return None
        return ShardLocation(
            found["filename"],
            int(found["offset"]),
            int(found["length"]),
            found["record_id"],
            payload_digest,
            found["target_uri"],
            found["date"],
            shard=found["shard"],
        )

    def capture_for_url(self, url: str) -> ShardLocation | None:
        found = self._hash("capture", url)
        return self.capture_for_payload(found["digest"]) if found else None

    def _hash(self, kind: str, name: str) -> dict[str, str]:
        found: Any = self.call(lambda: self.client.hgetall(key(kind, name)))  # decoded: str
        return cast(dict[str, str], found)

    # claims
    def claim(self, url: str) -> bool:
        """Claim the article at `url` for this worker; False: another worker is archiving it."""
        taken = self.call(
            lambda: self._claim(
                keys=[key("claim", url)], args=[self.shard, int(CLAIM_SECONDS * 1000)]
            )
        )
        if taken:
            self.held.add(url)
        return bool(taken)

    def finish(self, url: str) -> None:
        """This run is done with the article at `url` (found archived): release its claim with
        the next publish."""
        self._finished.add(url)

    def queue_claims(self, pipe: Any, published: set[str]) -> None:
        """Queue on `pipe` (the publish's MULTI) the release of the claims of the URLs
        `published` and of those finished, and, every `RENEW_SECONDS`, the renewal of the
        others held."""
        release = (published | self._finished) & self.held
        self._finished.clear()
        for url in release:
            self._own(keys=[key("claim", url)], args=[self.shard], client=pipe)
        self.held -= release
        now = time.monotonic()
        if self.held and now - self._renewed >= RENEW_SECONDS:
            self._renewed = now
            for url in self.held:
                self._own(
                    keys=[key("claim", url)],
                    args=[self.shard, int(CLAIM_SECONDS * 1000)],
                    client=pipe,
                )

    def release_all(self) -> None:
        """At the end of the run: free every claim still held. Best effort: the run's work is
        committed and published by then, and claims Redis did not free expire by themselves."""
        if self._lost is not None or not self.held:
            return
        pipe = self.client.pipeline(transaction=False)
        for url in self.held:
            self._own(keys=[key("claim", url)], args=[self.shard], client=pipe)
        try:
            self.call(pipe.execute)
        except ClusterUnavailableError as exc:
            logger.warning(
                "%d claims not freed, they expire in %d s: %s", len(self.held), CLAIM_SECONDS, exc
            )
        self.held.clear()


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
