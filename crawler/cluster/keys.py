"""The names of everything the cluster keeps in Redis: one prefix, so a Redis shared with other
applications shows newsarchive's keys together (and `SCAN MATCH newsarchive:*` finds them)."""

from __future__ import annotations

PREFIX = "newsarchive:"
