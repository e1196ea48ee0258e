"""The queue of due runs: a Redis stream read by a consumer group, with a lease per source.

Redis gives the delivery guarantees: a message read with XREADGROUP stays in the reader's
pending list until XACK, survives a restart in the AOF, and one whose reader went silent for
longer than the visibility timeout is taken over by another reader with XAUTOCLAIM. What is
added here is what a crawl needs on top:

- coalescing: a source already queued (or being crawled) is not queued again (`enqueue`);
- one worker per source at a time: a lease key per source, set for the duration of a run and
  renewed with the run's claim on its message (`RunStream.hold`), so per-host politeness holds
  without a shared rate limiter;
- a final result is acknowledged, the message deleted and the source's last result kept in one
  atomic step (`RunStream.finish`); anything else leaves the message pending, to be redelivered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from crawler.cluster import keys

logger = logging.getLogger(__name__)

# Enqueue the sources (ARGV[4..]) that are neither waiting in the stream nor leased, as one
# message; return {id, names} or nil. KEYS: stream, queued hash, then one lease key per source.
_ENQUEUE = """
local fresh = {}
for i = 4, #ARGV do
  local id = redis.call('hget', KEYS[2], ARGV[i])
  local waiting = id and #redis.call('xrange', KEYS[1], id, id) > 0
  if not waiting and redis.call('exists', KEYS[i - 1]) == 0 then
    table.insert(fresh, ARGV[i])
  end
end
if #fresh == 0 then return false end
local id = redis.call('xadd', KEYS[1], '*', 'sources', table.concat(fresh, ','),
  'config', ARGV[1], 'due', ARGV[2], 'enqueued_by', ARGV[3])
for _, name in ipairs(fresh) do redis.call('hset', KEYS[2], name, id) end
return {id, table.concat(fresh, ',')}
"""
# Take or renew every lease of KEYS for ARGV[1] for ARGV[2] ms, all or none; the owner of a
# lease held by another, or nil.
_ACQUIRE = """
for _, key in ipairs(KEYS) do
  local owner = redis.call('get', key)
  if owner and owner ~= ARGV[1] then return owner end
end
for _, key in ipairs(KEYS) do redis.call('set', key, ARGV[1], 'PX', ARGV[2]) end
return false
"""
# Delete the leases of KEYS that ARGV[1] holds.
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then redis.call('del', key) end
end
"""
# Acknowledge and delete message ARGV[2] of group ARGV[1]; for each of its n sources (ARGV[5..])
# drop its queued mark (if it is this message's), its lease (if ARGV[3] holds it) and keep
# ARGV[4] as its last result. KEYS: stream, queued hash, n leases, n source hashes.
_FINISH = """
local n = (#KEYS - 2) / 2
redis.call('xack', KEYS[1], ARGV[1], ARGV[2])
redis.call('xdel', KEYS[1], ARGV[2])
for i = 1, n do
  if redis.call('hget', KEYS[2], ARGV[4 + i]) == ARGV[2] then
    redis.call('hdel', KEYS[2], ARGV[4 + i])
  end
  if redis.call('get', KEYS[2 + i]) == ARGV[3] then redis.call('del', KEYS[2 + i]) end
  redis.call('hset', KEYS[2 + n + i], 'last', ARGV[4])
end
"""


@dataclass(frozen=True)
class RunMessage:
    """One queued run: which sources, under which config (TOML text), due when, from where."""

    id: str
    sources: tuple[str, ...]
    config: str
    due: str
    enqueued_by: str

    @classmethod
    def parse(cls, message_id: str, fields: Mapping[str, str] | None) -> RunMessage | None:
        """The message, or None when it lacks a field a run needs (nothing can run it)."""
        fields = fields or {}
        sources = tuple(name for name in fields.get("sources", "").split(",") if name)
        if not sources or not fields.get("config"):
            return None
        return cls(
            message_id,
            sources,
            fields["config"],
            fields.get("due", ""),
            fields.get("enqueued_by", ""),
        )

    @property
    def names(self) -> str:
        return ", ".join(self.sources)


def ensure_group(client: redis.Redis) -> None:
    """Create the stream and its consumer group unless they exist; the group starts at the
    stream's beginning, so runs queued before any worker ever started are delivered too."""
    try:
        client.xgroup_create(keys.RUNS, keys.GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def enqueue(
    client: redis.Redis, names: Sequence[str], config: str, due: str, host: str
) -> tuple[str | None, tuple[str, ...]]:
    """Queue one run of those of `names` that are neither queued nor being crawled, atomically.
    Returns the message id (None if every source coalesced) and the sources queued."""
    ensure_group(client)
    found = client.register_script(_ENQUEUE)(
        keys=[keys.RUNS, keys.QUEUED, *map(keys.lease, names)],
        args=[config, due, host, *names],
    )
    if not found:
        return None, ()
    message_id, queued = found
    return str(message_id), tuple(str(queued).split(","))


class RunStream:
    """The stream of runs as worker `worker` reads it: take, hold, finish or give back a run
    (the local daemon's `crawler.schedule.RunQueue` is another thing: runs in this process)."""

    def __init__(self, client: redis.Redis, worker: str) -> None:
        self.client = client
        self.worker = worker
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._finish = client.register_script(_FINISH)

    def own_pending(self) -> list[RunMessage]:
        """Runs this worker took and never finished (it was stopped or died): taken back first
        at start. Messages that cannot run are finished as such."""
        ensure_group(self.client)
        found = self.client.xreadgroup(keys.GROUP, self.worker, {keys.RUNS: "0"})
        return [m for m in (self._checked(i, f) for i, f in _entries(found)) if m]

    def take_stale(self, visibility_ms: int) -> RunMessage | None:
        """A run whose worker has not renewed its claim for `visibility_ms`, now this worker's."""
        _next, claimed, *_deleted = self.client.xautoclaim(
            keys.RUNS, keys.GROUP, self.worker, visibility_ms, count=1
        )
        for message_id, fields in claimed:
            message = self._checked(message_id, fields)
            if message is not None:
                logger.info(
                    "run of %s (%s) taken over: not renewed within the visibility timeout",
                    message.names,
                    message.id,
                )
                return message
        return None

    def take_new(self, block_ms: int) -> RunMessage | None:
        """The next queued run nobody took yet, waiting up to `block_ms` for one."""
        found = self.client.xreadgroup(
            keys.GROUP, self.worker, {keys.RUNS: ">"}, count=1, block=block_ms
        )
        for message_id, fields in _entries(found):
            message = self._checked(message_id, fields)
            if message is not None:
                return message
        return None

    def lease(self, message: RunMessage, lease_ms: int) -> str | None:
        """Take (or renew) the lease of every source of `message` for `lease_ms`; the worker
        holding one of them instead, if another does (then none is taken)."""
        owner = self._acquire(
            keys=[keys.lease(name) for name in message.sources], args=[self.worker, lease_ms]
        )
        return str(owner) if owner else None

    def hold(self, message: RunMessage, lease_ms: int) -> bool:
        """Renew the claim on `message` (its idle time starts again, so no one takes it over)
        and its leases; False if another worker has taken either meanwhile."""
        # The lease first: it then expires before the claim goes stale, so the worker that
        # takes the run over finds its sources free.
        leased = self.lease(message, lease_ms) is None
        claimed = self.client.xclaim(
            keys.RUNS, keys.GROUP, self.worker, 0, [message.id], justid=True
        )
        return leased and bool(claimed)

    def give_back(self, message: RunMessage) -> None:
        """Release the leases of an unfinished run; its message stays pending, so another
        worker (or this one) takes it again after the visibility timeout."""
        self._release(keys=[keys.lease(name) for name in message.sources], args=[self.worker])

    def finish(self, message: RunMessage, result: Mapping[str, Any]) -> None:
        """Acknowledge `message` after a final result, in one step: delete it, drop its
        sources' queued marks and leases, keep `result` as each source's last."""
        sources = message.sources
        self._finish(
            keys=[
                keys.RUNS,
                keys.QUEUED,
                *map(keys.lease, sources),
                *map(keys.source, sources),
            ],
            args=[keys.GROUP, message.id, self.worker, json.dumps(result), *sources],
        )

    def _checked(self, message_id: str, fields: Mapping[str, str] | None) -> RunMessage | None:
        message = RunMessage.parse(message_id, fields)
        if message is None and fields:  # deleted entries have no fields and need nothing
            logger.warning("message %s has no sources or no config; dropped", message_id)
        if message is None:
            self.client.xack(keys.RUNS, keys.GROUP, message_id)
            self.client.xdel(keys.RUNS, message_id)
        return message


def _entries(found: Any) -> list[tuple[str, dict[str, str] | None]]:
    """The (id, fields) of an XREADGROUP answer over the one stream."""
    return [entry for _stream, entries in found or () for entry in entries]
