"""The collection's dedup index: shards crawling through one real redis-server archive every article
once across the collection, share texts and payloads, survive a kill between commit and publish
and a Redis lost mid-run, and the index rebuilt from the shards equals the one they published."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import redis as redis_py
from redis_server import RedisServer, redis_server
from support import (
    REPO,
    background_crawl,
    local_config,
    newsarchive,
    records_of,
    warc_records,
)

from crawler.sample_server import SampleSite

# Run the CLI with Publisher.publish patched: at the first publish of committed records,
# `kill-before` SIGKILLs the crawl (committed, never published); `kill-redis PID` lets the
# publish happen, then SIGKILLs the Redis server (lost mid-run).
PATCHED_CRAWL = """
import os, signal, sys

from crawler.cli import main
from crawler.cluster.publish import Publisher

action = sys.argv[1]
original = Publisher.publish


def publish(self):
    committed = bool(self._rows("records"))
    if committed and action == "kill-before":
        os.killpg(os.getpgrp(), signal.SIGKILL)
    result = original(self)
    if committed and action.startswith("kill-redis="):
        os.kill(int(action.partition("=")[2]), signal.SIGKILL)
    return result


Publisher.publish = publish
sys.exit(main(sys.argv[2:]))
"""


def _config(tmp_path: Path, site: SampleSite, shard: str, outlets: list[str]) -> Path:
    """A config whose sources are the sample site's `outlets` (a name twice: a second source
    listing the same feeds, as two sources listing one article do)."""
    tables = site.sources_toml().split("[[source]]\n")[1:]
    chosen = []
    for n, outlet in enumerate(outlets):
        table = next(t for t in tables if t.startswith(f'name = "{outlet}"'))
        chosen.append("[[source]]\n" + table.replace(f'"{outlet}"', f'"{outlet}{n}"', 1))
    return local_config(
        tmp_path / f"{shard}.toml", tmp_path / shard, "\n".join(chosen), timeout=1.5
    )


def _crawl(config: Path, redis: RedisServer, worker: str) -> dict[str, Any]:
    done = newsarchive(
        "crawl", "--config", config, "--cluster", redis.url, "--worker-name", worker, "--json"
    )
    assert done.returncode == 0, done.stderr
    return done.summary()


def _patched_crawl(
    action: str, config: Path, redis: RedisServer, worker: str
) -> subprocess.CompletedProcess[str]:
    """`crawl --json` as the worker, with `PATCHED_CRAWL`'s `action`."""
    args = ["crawl", "--config", config, "--cluster", redis.url, "--worker-name", worker, "--json"]
    return subprocess.run(
        [sys.executable, "-c", PATCHED_CRAWL, action, *map(str, args)],
        cwd=REPO,
        capture_output=True,
        start_new_session=True,
        timeout=120,
        text=True,
    )


def _articles(*shards: Path) -> Counter[tuple[str, int]]:
    """(canonical URL, version) of every record in the shards, with how often each is there."""
    return Counter((r["canonical_url"], r["version"]) for s in shards for r in records_of(s))


def _index(client: redis_py.Redis) -> dict[str, Any]:
    """Every key of the collection's index (claims aside) with its value."""
    dump: dict[str, Any] = {}
    for name in client.scan_iter(match="newsarchive:*"):
        if name.startswith("newsarchive:claim:"):
            continue
        kind = client.type(name)
        dump[name] = client.hgetall(name) if kind == "hash" else client.get(name)
    return dump


def _response_ids(shard: Path) -> dict[str, tuple[str, str]]:
    """Record id -> (target URI, date) of every response record of the shard."""
    return {
        r.rec_headers.get_header("WARC-Record-ID"): (
            r.rec_headers.get_header("WARC-Target-URI"),
            r.rec_headers.get_header("WARC-Date"),
        )
        for _, r in warc_records(shard)
        if r.rec_type == "response"
    }


def test_shards_one_after_another_share_articles_texts_and_payloads(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    with SampleSite(slow_seconds=0.1) as site, redis_server(tmp_path / "redis") as redis:
        _crawl(_config(tmp_path, site, "a", ["wire"]), redis, "wa")
        second = _crawl(_config(tmp_path, site, "b", ["daily", "wire"]), redis, "wb")
        published = _index(redis.client())
        rebuilt = newsarchive(
            "reindex", "--cluster", redis.url, "--archive-dir", a, "--archive-dir", b
        )
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert rebuilt.stdout.count("\n") == 1 and "2 shards" in rebuilt.stdout
        assert "test-secret" not in rebuilt.stdout
        assert _index(redis.client()) == published  # rebuilt from the shards: the same index
        again = newsarchive(
            "reindex", "--cluster", redis.url, "--archive-dir", a, "--archive-dir", b
        )
        assert again.stdout == rebuilt.stdout and _index(redis.client()) == published
    gone = newsarchive("reindex", "--cluster", redis.url, "--archive-dir", a, "--archive-dir", b)
    assert gone.returncode == 69 and gone.stderr.count("\n") == 1  # Redis stopped: one line
    # Every article once across the collection: wire's are archived by the first shard only.
    assert set(_articles(a, b).values()) == {1}
    assert second["articles_already_archived"] + second["articles_unchanged"] >= len(records_of(a))
    wire = {r["canonical_url"]: r for r in records_of(a)}
    # The syndicated copy on daily names the wire record of the other shard as its original.
    copy = next(r for r in records_of(b) if "/syndicated/" in r["url"])
    original = wire[site.url("wire", "/2024/08/12/shipping-rates-ease.html")]
    assert copy["duplicate_of"] == original["id"] and copy["text"] is None
    # Payloads the first shard stored (wire's robots.txt, feed, pages) are revisits in the second,
    # referring to the first shard's response records by id, target URI and date.
    responses = _response_ids(a)
    crossing = [
        r.rec_headers
        for _, r in warc_records(b)
        if r.rec_type == "revisit" and r.rec_headers.get_header("WARC-Refers-To") in responses
    ]
    assert crossing
    everywhere = responses | _response_ids(b)  # and no revisit refers to a missing record
    assert all(
        r.rec_headers.get_header("WARC-Refers-To") in everywhere
        for _, r in warc_records(b)
        if r.rec_type == "revisit" and r.rec_headers.get_header("WARC-Refers-To")
    )
    for headers in crossing:
        uri, date = responses[headers.get_header("WARC-Refers-To")]
        assert headers.get_header("WARC-Refers-To-Target-URI") == uri
        assert headers.get_header("WARC-Refers-To-Date") == date


def test_shards_at_the_same_time_archive_each_article_once(
    site: SampleSite, tmp_path: Path
) -> None:
    outlets = ["wire", "herald", "gazette", "wire"]  # wire listed by two sources on each worker
    configs = [_config(tmp_path, site, name, outlets) for name in ("a", "b")]
    with redis_server(tmp_path / "redis") as redis:
        args = ("--cluster", redis.url, "--json")
        with (
            background_crawl(configs[0], *args, "--worker-name", "wa") as first,
            background_crawl(configs[1], *args, "--worker-name", "wb") as second,
        ):
            assert first.finish(120).returncode == 0
            assert second.finish(120).returncode == 0
        alone = _crawl(_config(tmp_path, site, "alone", outlets), redis, "walone")
    together = _articles(tmp_path / "a", tmp_path / "b")
    assert set(together.values()) == {1}, [k for k, n in together.items() if n > 1]
    assert together  # and nothing left for a third worker to archive
    assert alone["articles_new"] == alone["articles_duplicate"] == 0


def test_killed_between_commit_and_publish_publishes_at_restart(
    site: SampleSite, tmp_path: Path
) -> None:
    config = _config(tmp_path, site, "a", ["wire", "herald"])
    with redis_server(tmp_path / "redis") as redis:
        assert _patched_crawl("kill-before", config, redis, "wa").returncode == -signal.SIGKILL
        committed = _articles(tmp_path / "a")
        assert committed  # on disk and in the catalog, but in no index
        assert not list(redis.client().scan_iter(match="newsarchive:url:*"))
        again = newsarchive(
            "crawl", "--config", config, "--cluster", redis.url, "--worker-name", "wa"
        )  # the same worker again: it publishes them first
        assert again.returncode == 0, again.stderr
        assert f"index: published {len(committed)} records" in again.stderr
        other = _crawl(_config(tmp_path, site, "b", ["wire", "herald"]), redis, "wb")
        urls = set(redis.client().scan_iter(match="newsarchive:url:*"))
    assert set(_articles(tmp_path / "a", tmp_path / "b").values()) == {1}
    assert other["articles_new"] == other["articles_duplicate"] == 0
    assert {f"newsarchive:url:{url}" for url, _ in committed} <= urls


def test_redis_lost_mid_run_stops_cleanly_and_the_run_redone_archives_each_article_once(
    site: SampleSite, tmp_path: Path
) -> None:
    shard = tmp_path / "a"
    config = _config(tmp_path, site, "a", ["daily", "wire", "herald"])
    with redis_server(tmp_path / "redis") as redis:
        assert redis.process is not None
        killed = _patched_crawl(f"kill-redis={redis.process.pid}", config, redis, "wa")
        assert killed.returncode == 69, killed.stderr
        assert '"outcome": "cluster_unavailable"' in killed.stdout
        assert "lost Redis at" in killed.stderr and "test-secret" not in killed.stderr
        assert list((shard / "warc").glob("*.open")) == []  # WARC closed
        assert newsarchive("verify", "--archive-dir", shard).returncode == 0
        before = _articles(shard)
        redis.restart()
        again = newsarchive(
            "crawl", "--config", config, "--cluster", redis.url, "--worker-name", "wa", "--json"
        )
        assert again.returncode == 0, again.stderr
    after = _articles(shard)
    assert set(after.values()) == {1} and set(before) < set(after)
    assert newsarchive("verify", "--archive-dir", shard).returncode == 0


def test_an_article_claimed_by_another_worker_waits_for_its_claim_to_expire(
    site: SampleSite, tmp_path: Path
) -> None:
    config = _config(tmp_path, site, "a", ["wire"])
    article = site.url("wire", "/2024/08/12/shipping-rates-ease.html")
    with redis_server(tmp_path / "redis") as redis:
        client = redis.client()
        client.set(f"newsarchive:claim:{article}", "dead-worker", px=60_000)
        first = _crawl(config, redis, "wa")
        assert first["articles_deferred"] == 1
        assert article not in {url for url, _ in _articles(tmp_path / "a")}
        client.pexpire(f"newsarchive:claim:{article}", 1)  # the dead worker's claim runs out
        second = _crawl(config, redis, "wa")
        assert not list(client.scan_iter(match="newsarchive:claim:*"))  # all freed at the end
    assert second["articles_new"] == 1
    assert article in {url for url, _ in _articles(tmp_path / "a")}


def test_a_changed_article_is_the_next_version_of_the_other_shards_record(tmp_path: Path) -> None:
    with SampleSite(slow_seconds=0.1) as site, redis_server(tmp_path / "redis") as redis:
        _crawl(_config(tmp_path, site, "a", ["daily"]), redis, "wa")
        site.generation = 2
        _crawl(_config(tmp_path, site, "b", ["daily"]), redis, "wb")
        changed = site.url("daily", "/2024/08/14/reservoir-levels-heatwave.html")
    first = next(r for r in records_of(tmp_path / "a") if r["canonical_url"] == changed)
    second = [r for r in records_of(tmp_path / "b") if r["canonical_url"] == changed]
    assert [(r["version"], r["previous"]) for r in second] == [(2, first["id"])]
    assert set(_articles(tmp_path / "a", tmp_path / "b").values()) == {1}
