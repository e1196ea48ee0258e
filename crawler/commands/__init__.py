"""Commands of `newsarchive` that live in a module of their own, one per command.

Each module has `NAME`, `HELP` (one line for the command list), a docstring (the command's
`--help` description: what it does and examples), `add_arguments(parser)` and `run(args) -> int`
(the exit code). `crawler.cli` registers every module listed here; a command only parses its
arguments and calls the library (`archive/`), which does the work.
"""

from __future__ import annotations

from types import ModuleType

from crawler.commands import discover, history, serve, show, worker

EXTRA_COMMANDS: tuple[ModuleType, ...] = (discover, serve, show, history, worker)
