"""`python -m crawler` is the `newsarchive` command."""

import sys

from crawler.cli import main

sys.exit(main())
