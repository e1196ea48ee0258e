"""Where each file of an archive lives.

One object answers "where is X?" so that the writer, the readers and the CLI agree on the on-disk
layout of design.md without spelling paths out themselves.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ArchiveLayout:
    """The paths under one archive directory; nothing is created or checked here."""

    root: Path

    @property
    def warc_dir(self) -> Path:
        """WARC files, written only by `WarcWriter`."""
        return self.root / "warc"

    @property
    def records_dir(self) -> Path:
        """Daily JSONL article records, written only by `RecordStore`."""
        return self.root / "records"

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog, rebuildable from WARC and records."""
        return self.root / "catalog.sqlite"

    @property
    def lock_path(self) -> Path:
        """The file `ArchiveLock` locks so that two crawls never write one archive."""
        return self.root / ".lock"

    @property
    def schedule_lock_path(self) -> Path:
        """The file the `newsarchive schedule` daemon locks: one daemon per archive."""
        return self.root / ".schedule.lock"

    @property
    def indexes_dir(self) -> Path:
        """Derived indexes (CDXJ and the like)."""
        return self.root / "indexes"

    @property
    def quarantine_dir(self) -> Path:
        """Lines `verify --repair` moved out of `records/` (not records), kept as they were."""
        return self.root / "quarantine"
