"""The run summary's line and its `--json` name every figure alike."""

from __future__ import annotations

import json
import re
from dataclasses import fields

from crawler.summary import PREFIX, Summary


def test_json_keys_are_the_labels_of_the_line() -> None:
    counters = [f.name for f in fields(Summary) if f.name not in ("sources", "seconds")]
    stats = {PREFIX + name: 100 + n for n, name in enumerate(counters)}
    summary = Summary.from_stats(
        stats, sources=4, warc_bytes=stats[PREFIX + "warc_bytes"], seconds=1
    )
    line, document = summary.as_line(), json.loads(summary.as_json())
    for name in counters:
        group, _, label = name.partition("_")
        label = label.replace("_", " ").replace("off site", "off-site")
        if name == "warc_bytes":
            group, label = "", "WARC bytes"
        # The figure stands after its group's name ("feeds 100 polled") or in its list.
        assert re.search(rf"{group}[^;]*\b{document[name]} {label}\b", line), (name, line)
