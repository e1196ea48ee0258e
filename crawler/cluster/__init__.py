"""The distributed mode: a scheduler and any number of workers sharing one collection through Redis.

A worker runs exactly the single-process crawl into its own shard; Redis holds what the shards
share (the queue of due runs, the dedup lookups, heartbeats). Nothing outside this package
imports Redis.
"""

CLUSTER_ENV = "NEWSARCHIVE_CLUSTER"
"""Where `--cluster` given without a URL reads it: a password in an argument shows in `ps`."""
