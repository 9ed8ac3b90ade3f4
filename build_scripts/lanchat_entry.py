"""The frozen desktop app's entry point: what runs when a user double-clicks LAN Chat."""

from __future__ import annotations

import multiprocessing
import sys

from desktop.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a no-op unless something spawns a child Python
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
