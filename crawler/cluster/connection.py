"""Opening the cluster's Redis from a `--cluster` URL, with one-line errors that never show the
password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis

from archive.errors import ClusterUnavailableError, UsageError, one_line

SCHEMES = ("redis", "rediss", "unix")


def redacted(url: str) -> str:
    """`url` as it may be shown or logged: the password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, *, timeout: float = 5.0) -> redis.Redis:
    """A client of the Redis at `url` (redis://, rediss:// for TLS, unix://), checked with PING.

    Raises UsageError for a URL that cannot name a Redis, ClusterUnavailableError when it does
    not answer or refuses the password; responses are decoded as UTF-8.
    """
    if urlsplit(url).scheme not in SCHEMES:
        raise UsageError(f"--cluster must be a redis://, rediss:// or unix:// URL, not {url!r}")
    try:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
        )
        client.ping()
    except ValueError as exc:
        raise UsageError(f"--cluster {redacted(url)}: {exc}") from exc
    except redis.RedisError as exc:
        raise ClusterUnavailableError(
            f"cannot reach Redis at {redacted(url)}: {reason(exc)}"
        ) from exc
    return client


def reason(exc: redis.RedisError) -> str:
    """What went wrong talking to Redis, as one short line."""
    return one_line(str(exc)) or type(exc).__name__
