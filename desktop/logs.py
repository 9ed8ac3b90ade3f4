"""Logging for the desktop app: a rotating file in the user's log folder (there is no console)."""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import sys
from pathlib import Path

from server import paths

LOG_FILE = "lanchat.log"
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def guard_std_streams() -> None:
    """A frozen windowed app has ``sys.stdout``/``sys.stderr`` set to None; writes must not fail."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # lives for the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")


def say(line: str) -> None:
    """Print one line for a user looking at a terminal, if there is one."""
    try:
        print(line, flush=True)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Send every log record to ``<user log dir>/lanchat.log`` (rotated at 1 MB, 3 kept).

    Returns the file's path, or None when the folder cannot be written (then logs go nowhere
    rather than stopping the app).
    """
    root = logging.getLogger()
    root.setLevel(level)
    path = paths.user_log_dir() / LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
        path = None  # type: ignore[assignment]
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    return path
