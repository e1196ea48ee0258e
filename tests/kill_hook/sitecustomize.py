"""Arms every `crawl` started with this folder on PYTHONPATH and NEWSARCHIVE_TEST_KILL=STAGE:NTH
set, so a cluster worker's crawl (started by the worker, not the test) dies at that write and
takes its worker with it (tests/kill_at_stage.py)."""

import os
import sys

if os.environ.get("NEWSARCHIVE_TEST_KILL") and sys.argv[1:2] == ["crawl"]:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from kill_at_stage import arm

    stage, _, nth = os.environ["NEWSARCHIVE_TEST_KILL"].rpartition(":")
    arm(stage, int(nth), parent=True)
