"""The crawl's worker pool: workers never outlive the crawl process, even a SIGKILLed one."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from support import REPO

from crawler.workers import Workers

POOL_THEN_WAIT = """\
import asyncio, os
from crawler.workers import Workers

async def main() -> None:
    workers = Workers(2)
    pids = await asyncio.gather(*(workers.run(os.getpid) for _ in range(8)))
    print(" ".join(str(pid) for pid in sorted(set(pids))), flush=True)
    await asyncio.sleep(120)

if __name__ == "__main__":
    asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # gone, or going while its entry is read
        return False
    return state != "Z"


def test_workers_exit_when_the_crawl_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "pool.py"
    script.write_text(POOL_THEN_WAIT)
    with subprocess.Popen(
        [sys.executable, str(script)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ) as crawl:
        try:
            assert crawl.stdout is not None
            workers = [int(pid) for pid in crawl.stdout.readline().split()]
            assert workers and all(_alive(pid) for pid in workers)
            crawl.send_signal(signal.SIGKILL)
            crawl.wait()
            deadline = time.monotonic() + 10
            while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not any(_alive(pid) for pid in workers), "workers outlived the killed crawl"
        finally:
            crawl.kill()  # a no-op once the test has killed it; leaving the block reaps it


def _die() -> None:
    os._exit(9)


def test_a_worker_killed_mid_task_fails_that_task_and_the_run_goes_on() -> None:
    workers = Workers(1)

    async def calls() -> tuple[BaseException | None, int]:
        try:
            await workers.run(_die)
        except BrokenProcessPool as exc:
            died: BaseException | None = exc
        else:
            died = None
        return died, await workers.run(os.getpid)

    try:
        died, pid = asyncio.run(calls())
    finally:
        workers.close()
    assert isinstance(died, BrokenProcessPool)
    assert pid != os.getpid()
