"""Read the TOML config once into frozen, validated objects.

Everything a run needs from the file is checked here, before anything is written: unknown keys,
wrong types, missing keys, bad URLs, bad cron expressions and non-positive numbers all raise
`ConfigError` with one line naming the file, the line (when it can be found) and the dotted key,
e.g. ``sources.toml:12: source[2].schedule: bad cron expression '*/61 * * * *' (...)``.
Sources and list items are numbered from 1 in these messages, as a reader counts them.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from archive.errors import ConfigError
from archive.urls import absolute_http_url, host_of, is_ip, normalise_domain


@dataclass(frozen=True)
class ArchiveSettings:
    """``[archive]``: where the archive lives and how large one WARC file may grow."""

    dir: Path
    """Absolute; a relative ``dir`` is resolved against the config file's folder."""
    warc_max_bytes: int = 1_000_000_000


@dataclass(frozen=True)
class CrawlSettings:
    """``[crawl]``: how politely and how far every source is fetched."""

    user_agent: str = "newsarchive/0.1 (+https://example.org/newsarchive)"
    obey_robots: bool = True
    concurrency: int = 16
    delay: float = 0.5
    """Seconds between requests to one site; 0 leaves pacing to autothrottle alone."""
    timeout: float = 30
    max_page_bytes: int = 10_000_000
    allow_private_addresses: bool = False
    recheck_window: timedelta = timedelta(hours=48)
    retry_attempts: int = 5
    """Tries of an article that fails (HTTP error, timeout, refused) before it is given up."""
    retry_after: timedelta = timedelta(hours=1)
    """Wait before the second try; it doubles after each further failure."""


@dataclass(frozen=True)
class Source:
    """One ``[[source]]``: an outlet, its feeds and news sitemaps, and when to poll them."""

    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    schedule: str = "0 * * * *"
    """Five-field cron expression, read in `timezone`; `cron_trigger` turns it into a trigger."""
    allowed_domains: tuple[str, ...] = ()
    """Lower-case, punycoded; defaults to the hosts of the source's feeds and sitemaps."""
    timezone: str = "UTC"
    """IANA zone name; defaults to ``[schedule].timezone``."""


@dataclass(frozen=True)
class ScheduleSettings:
    """``[schedule]``: how the `newsarchive schedule` daemon runs the sources' crons."""

    timezone: str = "UTC"
    """Zone of the sources that name none (IANA name such as "Europe/Berlin")."""
    max_parallel_runs: int = 1
    """How many due sources are crawled at the same time. They share one crawl process, which
    holds the archive lock, so two processes never write one archive; others wait their turn."""
    stop_timeout: timedelta = timedelta(seconds=60)
    """How long SIGTERM waits for a running crawl to finish its writes before killing it."""


@dataclass(frozen=True)
class Config:
    """The whole validated config file."""

    path: Path
    """Absolute path of the file it was read from."""
    archive: ArchiveSettings
    crawl: CrawlSettings
    sources: tuple[Source, ...]
    schedule: ScheduleSettings = ScheduleSettings()
    collection: tuple[Path, ...] = ()
    """``[collection] shards``: the archives readers read as one (absolute; relative paths
    resolve against the config file's folder). Empty: the readers read ``[archive].dir``."""

    def select(self, names: Sequence[str]) -> tuple[Source, ...]:
        """The sources called `names`, in config order; every source if `names` is empty.

        Raises ConfigError naming the first unknown name and the known ones.
        """
        known = {source.name for source in self.sources}
        for name in names:
            if name not in known:
                raise ConfigError(
                    f"{self.path}: unknown source {name!r} (known: {', '.join(sorted(known))})"
                )
        wanted = set(names) or known
        return tuple(source for source in self.sources if source.name in wanted)


def load_config(path: Path, *, archive_dir: Path | None = None) -> Config:
    """Read and validate the config at `path`; `archive_dir` (relative to the working
    directory) overrides ``[archive].dir``. Raises ConfigError, with one line, on any problem."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config file is not UTF-8 ({exc.reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, str(exc)) from None
    except RecursionError:  # Python 3.11's tomllib sets no limit of its own
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
    return _Loader(path, text).config(data, archive_dir)


_SOURCE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_DURATION_PART = re.compile(r"(\d+)([dhms])")
_DURATION_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day", "1-31"),
    ("month", "1-12"),
    ("day_of_week", "0-7 or sun-sat"),
)
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEKDAY_PART = re.compile(r"(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?")
_DOMAIN = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


class _Invalid(Exception):
    """A value is wrong; `item` and `value` point at the list element, when there is one."""

    def __init__(self, message: str, item: int | None = None, value: str | None = None) -> None:
        super().__init__(message)
        self.item = item
        self.value = value


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names.update({list: "an array", dict: "a table"})
    return names.get(type(value), f"a {type(value).__name__}")


def _expect(value: object, kinds: tuple[type, ...], wanted: str) -> Any:
    """`value` itself if it is one of `kinds` (a bool is not an int here), else _Invalid."""
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise _Invalid(f"expected {wanted}, got {_type_name(value)} ({value!r})")
    return value


def _text(value: object) -> str:
    text: str = _expect(value, (str,), "a string")
    if not text.strip():
        raise _Invalid("must not be empty")
    return text


def _directory(value: object) -> Path:
    text = _text(value)
    try:
        return Path(text).expanduser()
    except RuntimeError:
        raise _Invalid(f"cannot expand {text!r}: no such user or no home directory") from None


def _flag(value: object) -> bool:
    flag: bool = _expect(value, (bool,), "true or false")
    return flag


def _positive_int(value: object) -> int:
    number: int = _expect(value, (int,), "an integer")
    if number <= 0:
        raise _Invalid(f"must be positive, got {number}")
    return number


def _number(value: object, *, allow_zero: bool) -> float:
    number: float = float(_expect(value, (int, float), "a number"))
    too_small = number < 0 or (number == 0 and not allow_zero)
    if too_small or not math.isfinite(number):
        wanted = "a non-negative" if allow_zero else "a positive"
        raise _Invalid(f"must be {wanted} number, got {value}")
    return number


def _duration(value: object) -> timedelta:
    text: str = _expect(value, (str,), 'a duration string like "48h", "30m", "7d" or "90s"')
    if not re.fullmatch(r"(\d+[dhms])+", text.strip()):
        raise _Invalid(f'bad duration {text!r} (use forms like "48h", "30m", "7d", "1h30m")')
    window = timedelta()
    try:
        for amount, unit in _DURATION_PART.findall(text):
            window += timedelta(**{_DURATION_UNITS[unit]: int(amount)})
    except OverflowError:
        raise _Invalid(f"duration {text!r} is too long") from None
    if window <= timedelta(0):
        raise _Invalid(f"must be positive, got {text!r}")
    return window


def _shard(text: str) -> str:
    _directory(text)  # a `~user` that does not expand is an error here, not when read
    return text


def _source_name(value: object) -> str:
    name = _text(value)
    if not _SOURCE_NAME.fullmatch(name):
        raise _Invalid(f"bad source name {name!r} (use letters, digits, '_', '.', '-')")
    return name


def cron_weekdays(field: str) -> str:
    """A cron day-of-week field (``1-5``, ``0,6``, ``*/2``, ``sat-sun``...) in APScheduler's
    terms: ``*`` or comma-separated day names.

    Cron counts Sunday as 0 or 7 and steps from Sunday; APScheduler counts Monday as 0, rejects 7
    and steps from Monday. Expanding to names keeps cron's meaning. Raises ValueError.
    """
    days: set[int] = set()
    for part in field.lower().split(","):
        match = _WEEKDAY_PART.fullmatch(part)
        if match is None:
            raise ValueError(f"bad day-of-week {part!r}")
        span, step = match.group(1), int(match.group(2) or 1)
        first, _, last = ("0-6" if span == "*" else span).partition("-")
        low = _weekday_number(first)
        high = _weekday_number(last) if last else (6 if match.group(2) else low)
        if step < 1 or low > high:
            raise ValueError(f"bad day-of-week range {part!r}")
        days.update(day % 7 for day in range(low, high + 1, step))
    if len(days) == len(_WEEKDAYS):
        return "*"
    return ",".join(_WEEKDAYS[day] for day in sorted(days, key=lambda day: (day + 6) % 7))


def _weekday_number(text: str) -> int:
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text)
    if text.isdigit() and int(text) <= 7:
        return int(text)
    raise ValueError(f"bad day of week {text!r} (use 0-7, 0 and 7 being Sunday, or sun-sat)")


def cron_trigger(expression: str, timezone: str = "UTC") -> BaseTrigger:
    """The APScheduler trigger firing when cron would fire `expression` in `timezone`.

    Config validation and the scheduler both build triggers here, so a schedule that loads is a
    schedule that runs. As in cron, a day of month and a day of week that are both restricted
    (neither starts with ``*``) fire on either. Raises ValueError for a bad expression.
    """
    fields = expression.split()
    if len(fields) != len(_CRON_FIELDS):
        raise ValueError(f"expected 5 fields, got {len(fields)}")
    minute, hour, day, month, weekday = fields
    common = {"minute": minute, "hour": hour, "month": month, "timezone": timezone}
    weekdays = cron_weekdays(weekday)
    if not day.startswith("*") and not weekday.startswith("*"):
        return OrTrigger(
            [CronTrigger(day=day, **common), CronTrigger(day_of_week=weekdays, **common)]
        )
    return CronTrigger(day=day, day_of_week=weekdays, **common)


def _cron(value: object) -> str:
    expression = _text(value)
    fields = expression.split()
    if len(fields) != len(_CRON_FIELDS):
        raise _Invalid(
            f"bad cron expression {expression!r} (expected 5 fields: minute hour day month "
            f"day_of_week, got {len(fields)})"
        )
    for (field, allowed), part in zip(_CRON_FIELDS, fields, strict=True):
        try:
            if field == "day_of_week":
                part = cron_weekdays(part)
            CronTrigger(timezone="UTC", **{field: part})
        except ValueError as exc:
            reason = re.sub(r"^Error validating expression '[^']*': ", "", str(exc))
            raise _Invalid(
                f"bad cron expression {expression!r} ({field} must be {allowed}: {reason})"
            ) from None
    try:
        cron_trigger(expression)
    except ValueError as exc:
        raise _Invalid(f"bad cron expression {expression!r} ({exc})") from None
    return " ".join(fields)


def _timezone(value: object) -> str:
    name = _text(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(
            f"unknown time zone {name!r} (use an IANA name like 'UTC' or 'Europe/Berlin')"
        ) from None
    return name


def _strings(value: object, check: Callable[[str], str]) -> tuple[str, ...]:
    items: list[object] = _expect(value, (list,), "an array of strings")
    checked: list[str] = []
    for index, item in enumerate(items):
        try:
            checked.append(check(_text(item)))
        except _Invalid as exc:
            located = item if isinstance(item, str) else None
            raise _Invalid(str(exc), item=index, value=located) from None
    return tuple(dict.fromkeys(checked))


def _url(text: str) -> str:
    url = absolute_http_url(text)
    if url is None:
        raise _Invalid(f"bad URL {text!r} (need an absolute http:// or https:// URL with a host)")
    return url


def _domain(text: str) -> str:
    domain = normalise_domain(text)
    if not domain or not (_DOMAIN.fullmatch(domain) or is_ip(domain)):
        raise _Invalid(f"bad domain {text!r} (need a host name like 'example.com' or an IP)")
    return domain


_ARCHIVE_KEYS: dict[str, Callable[[object], Any]] = {
    "dir": _directory,
    "warc_max_bytes": _positive_int,
}
_CRAWL_KEYS: dict[str, Callable[[object], Any]] = {
    "user_agent": _text,
    "obey_robots": _flag,
    "concurrency": _positive_int,
    "delay": lambda value: _number(value, allow_zero=True),
    "timeout": lambda value: _number(value, allow_zero=False),
    "max_page_bytes": _positive_int,
    "allow_private_addresses": _flag,
    "recheck_window": _duration,
    "retry_attempts": _positive_int,
    "retry_after": _duration,
}
_SOURCE_KEYS: dict[str, Callable[[object], Any]] = {
    "name": _source_name,
    "feeds": lambda value: _strings(value, _url),
    "sitemaps": lambda value: _strings(value, _url),
    "schedule": _cron,
    "allowed_domains": lambda value: _strings(value, _domain),
    "timezone": _timezone,
}
_COLLECTION_KEYS: dict[str, Callable[[object], Any]] = {
    "shards": lambda value: _strings(value, _shard),
}
_SCHEDULE_KEYS: dict[str, Callable[[object], Any]] = {
    "timezone": _timezone,
    "max_parallel_runs": _positive_int,
    "stop_timeout": _duration,
}


class _Loader:
    """Validates parsed TOML against the schema above, turning problems into ConfigError."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.locator = _Locator(text)

    def config(self, data: Mapping[str, Any], archive_dir: Path | None) -> Config:
        tables = ("archive", "crawl", "schedule", "collection", "source")
        self._unknown_keys(data, tables, table=None, index=None)
        archive = self._table(data, "archive", _ARCHIVE_KEYS)
        base = self.path.resolve().parent
        folder = archive_dir if archive_dir is not None else base / archive.get("dir", "data")
        archive["dir"] = folder.resolve()
        crawl = self._table(data, "crawl", _CRAWL_KEYS)
        schedule = ScheduleSettings(**self._table(data, "schedule", _SCHEDULE_KEYS))
        return Config(
            path=self.path.resolve(),
            archive=ArchiveSettings(**archive),
            crawl=CrawlSettings(**crawl),
            sources=self._sources(data.get("source"), schedule.timezone),
            schedule=schedule,
            collection=self._collection(data, base),
        )

    def _collection(self, data: Mapping[str, Any], base: Path) -> tuple[Path, ...]:
        if "collection" not in data:
            return ()
        shards = self._table(data, "collection", _COLLECTION_KEYS).get("shards")
        if not shards:
            raise self.error("collection", None, "shards", "must list at least one archive dir")
        return tuple((base / Path(text).expanduser()).resolve() for text in shards)

    def _table(
        self, data: Mapping[str, Any], table: str, schema: Mapping[str, Callable[[object], Any]]
    ) -> dict[str, Any]:
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise self.error(None, None, table, f"expected a table, got {_type_name(section)}")
        return self._fields(section, schema, table, None)

    def _fields(
        self,
        section: Mapping[str, Any],
        schema: Mapping[str, Callable[[object], Any]],
        table: str,
        index: int | None,
    ) -> dict[str, Any]:
        self._unknown_keys(section, tuple(schema), table, index)
        fields: dict[str, Any] = {}
        for key, value in section.items():
            try:
                fields[key] = schema[key](value)
            except _Invalid as exc:
                raise self.error(table, index, key, str(exc), exc.item, exc.value) from None
        return fields

    def _sources(self, sources: object, timezone: str) -> tuple[Source, ...]:
        if sources is None or sources == []:
            raise self.error(None, None, "source", "at least one [[source]] table is required")
        if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
            raise self.error(None, None, "source", "must be an array of tables ([[source]])")
        built: list[Source] = []
        for index, section in enumerate(sources):
            fields = self._fields(section, _SOURCE_KEYS, "source", index)
            if "name" not in fields:
                raise self.error("source", index, None, "missing required key 'name'")
            if not fields.get("feeds") and not fields.get("sitemaps"):
                raise self.error("source", index, None, "needs at least one of feeds or sitemaps")
            if any(source.name == fields["name"] for source in built):
                raise self.error(
                    "source", index, "name", f"duplicate source name {fields['name']!r}"
                )
            if "allowed_domains" not in fields:
                urls = (*fields.get("feeds", ()), *fields.get("sitemaps", ()))
                fields["allowed_domains"] = tuple(dict.fromkeys(host_of(url) for url in urls))
            fields.setdefault("timezone", timezone)
            built.append(Source(**fields))
        return tuple(built)

    def _unknown_keys(
        self, section: Mapping[str, Any], known: Sequence[str], table: str | None, index: int | None
    ) -> None:
        for key in section:
            if key not in known:
                raise self.error(
                    table, index, key, f"unknown key (expected one of: {', '.join(known)})"
                )

    def error(
        self,
        table: str | None,
        index: int | None,
        key: str | None,
        message: str,
        item: int | None = None,
        value: str | None = None,
    ) -> ConfigError:
        """A ConfigError for `key` of `table` (source number `index`), located in the file."""
        line = self.locator.line(table, index, key, value)
        dotted = ".".join(
            part
            for part in (
                f"{table}[{index + 1}]" if table and index is not None else table,
                f"{key}[{item + 1}]" if key and item is not None else key,
            )
            if part
        )
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {dotted}: {message}")


class _Locator:
    """Finds, best effort, the line where a key of a table is written (tomllib gives none)."""

    _HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.sections: list[tuple[str | None, int | None]] = []
        table: str | None = None
        index: int | None = None
        counts: dict[str, int] = {}
        for line in self.lines:
            header = self._HEADER.match(line)
            if header:
                table = header.group(2).strip("\"'")
                index = None
                if header.group(1) == "[[":
                    index = counts.get(table, 0)
                    counts[table] = index + 1
            self.sections.append((table, index))

    def line(
        self, table: str | None, index: int | None, key: str | None, value: str | None = None
    ) -> int | None:
        """1-based line of `key` (or of the table header if `key` is None), else None."""
        rows = [n for n, section in enumerate(self.sections) if section == (table, index)]
        if key is None:
            return rows[0] + 1 if rows else None
        pattern = re.compile(rf"\s*(\"{re.escape(key)}\"|'{re.escape(key)}'|{re.escape(key)})\s*=")
        header = re.compile(rf"\s*\[\[?\s*{re.escape(key)}\s*\]")
        for n in rows:
            if pattern.match(self.lines[n]):
                return self._value_line(n, rows, value) + 1
        if table is None:
            for n, text in enumerate(self.lines):
                if header.match(text):
                    return n + 1
        return None

    def _value_line(self, start: int, rows: Sequence[int], value: str | None) -> int:
        """The line at or after `start`, in the same table, where a list item `value` appears."""
        if value is None:
            return start
        for n in rows:
            if n >= start and value in self.lines[n]:
                return n
        return start


def _syntax_error(path: Path, message: str) -> ConfigError:
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found:
        reason = message[: found.start()]
        return ConfigError(
            f"{path}:{found.group(1)}: invalid TOML: {reason} (column {found.group(2)})"
        )
    return ConfigError(f"{path}: invalid TOML: {message}")
