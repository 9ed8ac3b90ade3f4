"""The frozen headless host's entry point: ``lanchat-host`` is ``python -m server`` as one file."""

from __future__ import annotations

import sys

from server.__main__ import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
