"""Where the archive lands: README's Quick start, the config rule, the shipped files agreeing."""

from __future__ import annotations

import json
import re
from pathlib import Path

from support import REPO, LocalSite, local_config, newsarchive, serve

from crawler.config import load_config

ARTICLE = (
    "<html><head><title>Harbour reopens</title></head><body><article><h1>Harbour reopens</h1>"
    + "<p>The harbour reopened on Monday after a week of repairs to the north pier, and the "
    "first ferries left on time while the harbour master thanked the crews for their work.</p>"
    * 3
    + "</article></body></html>"
)
PRODUCTION_CONFIG = "/etc/newsarchive/sources.toml"


def _site(site: LocalSite) -> str:
    """One feed with one article; the `[[source]]` table that crawls it."""
    item = f"<item><title>Harbour reopens</title><link>{site.base_url}/harbour.html</link></item>"
    site.pages["/feed.xml"] = (
        "application/rss+xml",
        f'<rss version="2.0"><channel>{item}</channel></rss>'.encode(),
    )
    site.pages["/harbour.html"] = ("text/html", ARTICLE.encode())
    return f'[[source]]\nname = "port"\nfeeds = ["{site.base_url}/feed.xml"]\n'


def _records(stats: str) -> int:
    count: int = json.loads(stats)["records"]
    return count


def test_quick_start_archives_into_data_where_readers_look(tmp_path: Path) -> None:
    """README: `crawl --config FILE --archive-dir data` lands in ./data, and `stats` and `query`
    with no option read ./data; a relative `dir` in a config resolves against its folder, and
    readers given the same `--config` meet that archive."""
    (tmp_path / "config").mkdir()
    with serve(LocalSite()) as site:
        config = local_config(tmp_path / "config" / "site.toml", Path("data"), _site(site))
        quick = newsarchive(
            "crawl", "--config", "config/site.toml", "--archive-dir", "data", cwd=tmp_path
        )
        assert quick.returncode == 0, quick.stderr
        assert (tmp_path / "data" / "catalog.sqlite").is_file()
        assert not (tmp_path / "config" / "data").exists()
        stats = newsarchive("stats", "--json", cwd=tmp_path)
        assert stats.returncode == 0, stats.stderr
        assert _records(stats.stdout) == 1
        query = newsarchive("query", "--format", "csv", cwd=tmp_path)
        assert "Harbour reopens" in query.stdout

        by_config = newsarchive("crawl", "--config", "config/site.toml", cwd=tmp_path)
        assert by_config.returncode == 0, by_config.stderr
    assert load_config(config).archive.dir == tmp_path / "config" / "data"
    stats = newsarchive("stats", "--json", "--config", config.relative_to(tmp_path), cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert _records(stats.stdout) == 1


def _unit_settings(name: str) -> dict[str, str]:
    text = (REPO / "config" / name).read_text(encoding="utf-8")
    return dict(re.findall(r"^(\w+)=(.*)$", text, re.MULTILINE))


def test_shipped_config_archives_where_the_shipped_units_may_write() -> None:
    """The units and the crontab read the shipped config from /etc/newsarchive; its archive dir
    must be the folder they run in and may write to, not a folder under read-only /etc."""
    archive_dir = load_config(REPO / "config" / "sources.toml").archive.dir
    assert archive_dir == Path("/var/lib/newsarchive")
    for unit in ("newsarchive.service", "newsarchive-crawl.service"):
        settings = _unit_settings(unit)
        assert settings["ReadWritePaths"] == str(archive_dir), unit
        assert settings["WorkingDirectory"] == str(archive_dir), unit
        assert f"--config {PRODUCTION_CONFIG}" in settings["ExecStart"], unit
    assert _unit_settings("crontab.example")["CONFIG"] == PRODUCTION_CONFIG
