"""One exception hierarchy for newsarchive.

Every message is a single line a user can act on; the CLI prints it as is and maps the class to an
exit code. Anything else that escapes is a bug and keeps its traceback.
"""


def one_line(text: str, limit: int = 200) -> str:
    """`text` as one short printable line, even when it quotes raw bytes from a damaged file."""
    text = "".join(c if c.isascii() and c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class NewsarchiveError(Exception):
    """Base class: an expected failure with a one-line, user-facing message."""

    exit_code = 1


class ConfigError(NewsarchiveError):
    """The configuration file is unreadable or invalid (exit 2, nothing written)."""

    exit_code = 2


class UsageError(NewsarchiveError):
    """A command was called with arguments that cannot work (exit 2)."""

    exit_code = 2


class ArchiveLockedError(NewsarchiveError):
    """Another process holds this archive's lock (exit 75, EX_TEMPFAIL)."""

    exit_code = 75


class ArchiveError(NewsarchiveError):
    """The archive on disk cannot be read or written (disk full, permissions, corruption)."""

    exit_code = 1


class NotFoundError(NewsarchiveError):
    """What a reader asked for (a record id, a URL) is not in the archive (exit 1)."""

    exit_code = 1


class ClusterUnavailableError(NewsarchiveError):
    """The cluster's Redis cannot be reached or refuses us (exit 69, EX_UNAVAILABLE: nothing was
    written; a supervisor may start the command again later)."""

    exit_code = 69
