"""load_config: defaults, path resolution, and one-line errors naming file, line and key."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.errors import ConfigError
from crawler.config import (
    ArchiveSettings,
    CrawlSettings,
    ScheduleSettings,
    Source,
    cron_trigger,
    cron_weekdays,
    load_config,
)

SHIPPED = Path(__file__).parent.parent / "config" / "sources.toml"
MINIMAL = """\
[[source]]
name = "daily"
feeds = ["https://feeds.daily.example/world.xml"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.exit_code == 2
    return message


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.path == tmp_path / "sources.toml"
    assert config.archive == ArchiveSettings(dir=tmp_path / "data")
    assert config.crawl == CrawlSettings()
    assert config.crawl.recheck_window == timedelta(hours=48)
    assert config.sources == (
        Source(
            name="daily",
            feeds=("https://feeds.daily.example/world.xml",),
            schedule="0 * * * *",
            allowed_domains=("feeds.daily.example",),
        ),
    )


def test_every_key_is_read(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """\
[archive]
dir = "/srv/news"
warc_max_bytes = 5_000_000

[crawl]
user_agent = "test-agent/1.0"
obey_robots = false
concurrency = 4
delay = 0
timeout = 12.5
max_page_bytes = 1000
allow_private_addresses = true
recheck_window = "1d12h"

[[source]]
name = "a.b-c_1"
sitemaps = ["https://x.example/news-sitemap.xml", "https://x.example/news-sitemap.xml"]
schedule = "*/15  6-22 * * mon-fri"
allowed_domains = ["X.Example", "bücher.example", "127.0.0.1"]
""",
        )
    )
    assert config.archive == ArchiveSettings(dir=Path("/srv/news"), warc_max_bytes=5_000_000)
    assert config.crawl == CrawlSettings(
        user_agent="test-agent/1.0",
        obey_robots=False,
        concurrency=4,
        delay=0.0,
        timeout=12.5,
        max_page_bytes=1000,
        allow_private_addresses=True,
        recheck_window=timedelta(days=1, hours=12),
    )
    (source,) = config.sources
    assert source.sitemaps == ("https://x.example/news-sitemap.xml",)
    assert source.schedule == "*/15 6-22 * * mon-fri"
    assert source.allowed_domains == ("x.example", "xn--bcher-kva.example", "127.0.0.1")


def test_relative_dir_resolves_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "sources.toml"
    path.write_text(
        '[archive]\ndir = "../archive"\n[collection]\nshards = ["../a", "/srv/b"]\n' + MINIMAL,
        encoding="utf-8",
    )
    cwd = Path.cwd()
    os.chdir(tmp_path / "etc")
    try:
        config = load_config(Path("sources.toml"))
    finally:
        os.chdir(cwd)
    assert config.archive.dir == tmp_path / "archive"
    assert config.collection == (tmp_path / "a", Path("/srv/b")), "like [archive].dir"
    assert config.path == path


def test_home_relative_dir_expands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write(tmp_path, '[archive]\ndir = "~/newsarchive"\n' + MINIMAL)
    assert load_config(path).archive.dir == tmp_path / "home" / "newsarchive"


def test_archive_dir_override_wins(tmp_path: Path) -> None:
    path = write(tmp_path, '[archive]\ndir = "data"\n' + MINIMAL)
    assert load_config(path, archive_dir=tmp_path / "elsewhere").archive.dir == (
        tmp_path / "elsewhere"
    )


def test_shipped_example_config_loads() -> None:
    config = load_config(SHIPPED)
    assert config.archive.dir == Path("/var/lib/newsarchive"), "where the shipped units write"
    assert config.crawl.allow_private_addresses is False
    assert 5 <= len(config.sources) <= 8
    assert any(source.sitemaps for source in config.sources)
    for source in config.sources:
        assert source.feeds or source.sitemaps
        assert source.allowed_domains


def test_select(tmp_path: Path) -> None:
    config = load_config(SHIPPED)
    assert [source.name for source in config.select(["npr", "bbc"])] == ["bbc", "npr"]
    assert config.select([]) == config.sources
    with pytest.raises(ConfigError, match=r"unknown source 'nope' \(known: aljazeera, bbc"):
        config.select(["bbc", "nope"])


GOOD_SOURCE = '[[source]]\nname = "ok"\nfeeds = ["https://ok.example/rss"]\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD_SOURCE + '\n[[source]]\nname = "two"\nfeeds = ["https://two.example/rss"]\n'
            'schedule = "*/61 * * * *"\n',
            "sources.toml:8: source[2].schedule: bad cron expression '*/61 * * * *' "
            "(minute must be 0-59: the step value (61) is higher than the total range of the "
            "expression (59))",
        ),
        (
            GOOD_SOURCE + 'schedule = "0 * * *"\n',
            "sources.toml:4: source[1].schedule: bad cron expression '0 * * *' "
            "(expected 5 fields: minute hour day month day_of_week, got 4)",
        ),
        (
            '[crawl]\nconcurrency = "16"\n' + GOOD_SOURCE,
            "sources.toml:2: crawl.concurrency: expected an integer, got a string ('16')",
        ),
        (
            "[crawl]\nconcurrency = true\n" + GOOD_SOURCE,
            "sources.toml:2: crawl.concurrency: expected an integer, got a boolean (True)",
        ),
        (
            "[crawl]\n\nobey_robots = 1\n" + GOOD_SOURCE,
            "sources.toml:3: crawl.obey_robots: expected true or false, got an integer (1)",
        ),
        (
            "[crawl]\ntimeout = 0\n" + GOOD_SOURCE,
            "sources.toml:2: crawl.timeout: must be a positive number, got 0",
        ),
        (
            "[crawl]\ndelay = -1\n" + GOOD_SOURCE,
            "sources.toml:2: crawl.delay: must be a non-negative number, got -1",
        ),
        (
            "[archive]\nwarc_max_bytes = 0\n" + GOOD_SOURCE,
            "sources.toml:2: archive.warc_max_bytes: must be positive, got 0",
        ),
        (
            '[crawl]\nrecheck_window = "2 weeks"\n' + GOOD_SOURCE,
            "sources.toml:2: crawl.recheck_window: bad duration '2 weeks' "
            '(use forms like "48h", "30m", "7d", "1h30m")',
        ),
        (
            "[crawl]\nrecheck_window = 48\n" + GOOD_SOURCE,
            "sources.toml:2: crawl.recheck_window: expected a duration string like "
            '"48h", "30m", "7d" or "90s", got an integer (48)',
        ),
        (
            "[crawl]\nuser_agent = 'x'\nconcurency = 4\n" + GOOD_SOURCE,
            "sources.toml:3: crawl.concurency: unknown key (expected one of: user_agent, "
            "obey_robots, concurrency, delay, timeout, max_page_bytes, allow_private_addresses, "
            "recheck_window, retry_attempts, retry_after)",
        ),
        (
            "[crawl]\nretry_attempts = 0\n" + GOOD_SOURCE,
            "sources.toml:2: crawl.retry_attempts: must be positive, got 0",
        ),
        (
            '[crawl]\nretry_after = "soon"\n' + GOOD_SOURCE,
            "sources.toml:2: crawl.retry_after: bad duration 'soon' "
            '(use forms like "48h", "30m", "7d", "1h30m")',
        ),
        (
            '[collection]\nshard = ["a"]\n' + GOOD_SOURCE,
            "sources.toml:2: collection.shard: unknown key (expected one of: shards)",
        ),
        (
            '[collection]\nshards = "a"\n' + GOOD_SOURCE,
            "sources.toml:2: collection.shards: expected an array of strings, got a string ('a')",
        ),
        (
            "[collection]\nshards = []\n" + GOOD_SOURCE,
            "sources.toml:2: collection.shards: must list at least one archive dir",
        ),
        (
            "[crwal]\ndelay = 1\n" + GOOD_SOURCE,
            "sources.toml:1: crwal: unknown key "
            "(expected one of: archive, crawl, schedule, collection, source)",
        ),
        (
            GOOD_SOURCE + 'feed = ["https://ok.example/other"]\n',
            "sources.toml:4: source[1].feed: unknown key (expected one of: name, feeds, "
            "sitemaps, schedule, allowed_domains, timezone)",
        ),
        (
            '[archive]\ndir = "data"\n',
            "sources.toml: source: at least one [[source]] table is required",
        ),
        (
            GOOD_SOURCE + '\n[[source]]\nfeeds = ["https://two.example/rss"]\n',
            "sources.toml:5: source[2]: missing required key 'name'",
        ),
        (
            GOOD_SOURCE + '\n[[source]]\nname = "empty"\nfeeds = []\n',
            "sources.toml:5: source[2]: needs at least one of feeds or sitemaps",
        ),
        (
            GOOD_SOURCE + '\n[[source]]\nname = "ok"\nfeeds = ["https://two.example/rss"]\n',
            "sources.toml:6: source[2].name: duplicate source name 'ok'",
        ),
        (
            '[[source]]\nname = "has space"\nfeeds = ["https://ok.example/rss"]\n',
            "sources.toml:2: source[1].name: bad source name 'has space' "
            "(use letters, digits, '_', '.', '-')",
        ),
        (
            '[[source]]\nname = "x"\nfeeds = [\n  "https://ok.example/rss",\n'
            '  "ftp://files.example/feed.xml",\n]\n',
            "sources.toml:5: source[1].feeds[2]: bad URL 'ftp://files.example/feed.xml' "
            "(need an absolute http:// or https:// URL with a host)",
        ),
        (
            '[[source]]\nname = "x"\nsitemaps = ["/sitemap.xml"]\n',
            "sources.toml:3: source[1].sitemaps[1]: bad URL '/sitemap.xml' "
            "(need an absolute http:// or https:// URL with a host)",
        ),
        (
            '[[source]]\nname = "x"\nfeeds = "https://ok.example/rss"\n',
            "sources.toml:3: source[1].feeds: expected an array of strings, got a string "
            "('https://ok.example/rss')",
        ),
        (
            GOOD_SOURCE + 'allowed_domains = ["https://ok.example/"]\n',
            "sources.toml:4: source[1].allowed_domains[1]: bad domain 'https://ok.example/' "
            "(need a host name like 'example.com' or an IP)",
        ),
        (
            "source = 3\n",
            "sources.toml:1: source: must be an array of tables ([[source]])",
        ),
        (
            "archive = 5\n" + GOOD_SOURCE,
            "sources.toml:1: archive: expected a table, got an integer",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert message == f"{tmp_path}/{expected}"


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD_SOURCE + "schedule = = '0 * * * *'\n")
    assert message == f"{tmp_path}/sources.toml:4: invalid TOML: Invalid value (column 12)"


def test_deeply_nested_toml_is_an_error_not_a_crash(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[crawl]\nuser_agent = " + "[" * 2000 + "]" * 2000 + "\n")
    assert message == f"{tmp_path}/sources.toml: invalid TOML: arrays or tables nested too deeply"


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read config file: No such file"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"cannot read config file: Is a directory"):
        load_config(tmp_path)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[[source]]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin\.toml: config file is not UTF-8"):
        load_config(latin)


def test_schedule_table_and_time_zones(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[schedule]\ntimezone = "Europe/Berlin"\nmax_parallel_runs = 4\nstop_timeout = "2m"\n'
            + MINIMAL
            + '\n[[source]]\nname = "tokyo"\nfeeds = ["https://t.example/rss"]\n'
            'timezone = "Asia/Tokyo"\n',
        )
    )
    assert config.schedule == ScheduleSettings(
        timezone="Europe/Berlin", max_parallel_runs=4, stop_timeout=timedelta(minutes=2)
    )
    assert [source.timezone for source in config.sources] == ["Europe/Berlin", "Asia/Tokyo"]
    assert load_config(write(tmp_path, MINIMAL)).schedule == ScheduleSettings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[schedule]\ntimezone = "Mars/Olympus"\n' + GOOD_SOURCE,
            "sources.toml:2: schedule.timezone: unknown time zone 'Mars/Olympus' "
            "(use an IANA name like 'UTC' or 'Europe/Berlin')",
        ),
        (
            GOOD_SOURCE + 'timezone = "../../etc/passwd"\n',
            "sources.toml:4: source[1].timezone: unknown time zone '../../etc/passwd' "
            "(use an IANA name like 'UTC' or 'Europe/Berlin')",
        ),
        (
            "[schedule]\nmax_parallel_runs = 0\n" + GOOD_SOURCE,
            "sources.toml:2: schedule.max_parallel_runs: must be positive, got 0",
        ),
        (
            "[schedule]\nstop_timeout = 60\n" + GOOD_SOURCE,
            "sources.toml:2: schedule.stop_timeout: expected a duration string like "
            '"48h", "30m", "7d" or "90s", got an integer (60)',
        ),
        (
            GOOD_SOURCE + 'schedule = "0 6 * * 8"\n',
            "sources.toml:4: source[1].schedule: bad cron expression '0 6 * * 8' "
            "(day_of_week must be 0-7 or sun-sat: bad day of week '8' "
            "(use 0-7, 0 and 7 being Sunday, or sun-sat))",
        ),
        (
            "[schedule]\nmaxparallel = 2\n" + GOOD_SOURCE,
            "sources.toml:2: schedule.maxparallel: unknown key "
            "(expected one of: timezone, max_parallel_runs, stop_timeout)",
        ),
    ],
)
def test_schedule_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert error_of(tmp_path, text) == f"{tmp_path}/{expected}"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0-6", "*"),
        ("5-7", "fri,sat,sun"),
        ("*/2", "tue,thu,sat,sun"),
        ("1-5/2", "mon,wed,fri"),
        ("6,0", "sat,sun"),
        ("sat-sun", None),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("SUN", "sun"),
    ],
)
def test_cron_weekdays_follow_cron_not_apscheduler(field: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            cron_weekdays(field)
    else:
        assert cron_weekdays(field) == expected


def next_fires(expression: str, timezone: str, start: datetime, n: int) -> list[datetime]:
    trigger = cron_trigger(expression, timezone)
    fires: list[datetime] = []
    previous = None
    now = start
    for _ in range(n):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        fires.append(fire.astimezone(UTC))
        previous, now = fire, fire + timedelta(seconds=1)
    return fires


def test_cron_trigger_fires_when_cron_would() -> None:
    monday = datetime(2024, 8, 12, tzinfo=UTC)  # a Monday
    assert [d.strftime("%a") for d in next_fires("0 6 * * 0", "UTC", monday, 2)] == ["Sun"] * 2
    assert next_fires("0 6 * * 7", "UTC", monday, 1) == [datetime(2024, 8, 18, 6, tzinfo=UTC)]
    # both day fields restricted: the 1st of the month OR any Friday, as cron does
    days = [d.day for d in next_fires("0 0 1 * 5", "UTC", datetime(2024, 8, 20, tzinfo=UTC), 4)]
    assert days == [23, 30, 1, 6]
    # a named zone: 06:00 in Berlin is 04:00 UTC in summer
    assert next_fires("0 6 * * *", "Europe/Berlin", monday, 1) == [
        datetime(2024, 8, 12, 4, tzinfo=UTC)
    ]
