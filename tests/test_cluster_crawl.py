"""A crawl run as a cluster worker: checked against a real redis-server before anything is written,
and its shard's WARC files carry the worker's name."""

from __future__ import annotations

from pathlib import Path

from redis_server import redis_server
from support import closed_port, newsarchive, write_config

from crawler.sample_server import SampleSite


def test_unreachable_redis_is_one_line_exit_69_and_nothing_written(
    site: SampleSite, tmp_path: Path
) -> None:
    shard = tmp_path / "shard"
    config = write_config(tmp_path / "sources.toml", site, shard)
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    done = newsarchive("crawl", "--config", config, "--cluster", url)
    assert done.returncode == 69
    assert done.stderr.count("\n") == 1 and "cannot reach Redis" in done.stderr
    assert "hunter2" not in done.stderr  # the password is never shown
    assert not shard.exists()


def test_a_worker_name_that_cannot_name_a_file_is_refused(site: SampleSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "sources.toml", site, tmp_path / "shard")
    with redis_server(tmp_path / "redis") as redis:
        done = newsarchive(
            "crawl", "--config", config, "--cluster", redis.url, "--worker-name", "../evil"
        )
    assert done.returncode == 2
    assert not (tmp_path / "shard").exists()


def test_worker_shard_warc_files_carry_the_worker_name(site: SampleSite, tmp_path: Path) -> None:
    shard = tmp_path / "shard"
    config = write_config(tmp_path / "sources.toml", site, shard)
    with redis_server(tmp_path / "redis") as redis:
        done = newsarchive(
            "crawl", "--config", config, "--cluster", redis.url, "--worker-name", "w1", "--json"
        )
    assert done.returncode == 0, done.stderr
    names = [p.name for p in (shard / "warc").glob("*.warc.gz")]
    assert names and all(name.startswith("w1-") for name in names)
    assert newsarchive("verify", "--archive-dir", shard).returncode == 0


def test_a_new_article_costs_about_three_redis_requests(tmp_path: Path) -> None:
    """Claim with its lookups, payload, text: one request each (a publish is one per batch), so
    that Redis adds little CPU per article to a worker's crawl."""
    with SampleSite(bulk_articles=40) as bulk, redis_server(tmp_path / "redis") as redis:
        config = write_config(tmp_path / "sources.toml", bulk, tmp_path / "shard")
        done = newsarchive(
            "crawl", "--config", config, "--source", "bulk", "--json", "--cluster", redis.url
        )
        assert done.returncode == 0, done.stderr
        requests = redis.client().info("stats")["total_reads_processed"]
    assert done.summary()["articles_new"] == 40
    assert requests / 40 < 4
