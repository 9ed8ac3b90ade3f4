"""``python -m desktop``: LAN Chat's desktop app (a window, or headless when there is no display).

Options: ``--join URL`` opens another host's room instead of the lobby; ``--headless`` serves
without a window on purpose; ``--download-dir`` (where files saved from the window go); the
host's options (``--port``, a free one if that is busy, ``--data-dir``, ``--room``,
``--config``, ``--set``, ...) are declared once in :mod:`server.config` for this program and
``python -m server``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from server import __version__, paths
from server.config import ConfigError, add_host_options, resolve
from server.settings import Settings

from .bridge import safe_external_url
from .logs import guard_std_streams, say, setup_logging
from .prefs import PrefsStore
from .words import words

log = logging.getLogger("desktop")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m desktop",
                                description="LAN Chat: chat and share files on your network.")
    p.add_argument("--join", metavar="URL", default=None,
                   help="open this host's room (http://address:port/) instead of the lobby")
    p.add_argument("--headless", action="store_true",
                   help="no window: host the room on the LAN and print the URL to open")
    p.add_argument("--download-dir", type=Path, default=None,
                   help="where files saved from the window go (default: your Downloads folder)")
    add_host_options(p)
    args = p.parse_args(argv)
    if args.join is not None and safe_external_url(args.join) is None:
        p.error("--join needs an http:// or https:// address, e.g. http://192.168.1.20:8765/")
    return args


def settings_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    """The server's settings: options > environment > config file > defaults. The lobby
    answers this machine only, whatever the sources say; hosting opens it to the LAN."""
    settings = resolve(args, Settings(), os.environ if environ is None else environ)
    return settings.with_(hosting=False, host="127.0.0.1")


def main(argv: list[str] | None = None) -> int:
    launched_at = time.monotonic()
    guard_std_streams()
    args = parse_args(argv)
    log_path = setup_logging()
    log.info("LAN Chat %s starting (log: %s)", __version__, log_path)
    prefs = PrefsStore(paths.user_config_dir())
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        say(f"LAN Chat: {exc}")
        return 2

    from .headless import serve_headless
    if args.headless:
        return serve_headless(settings, "headless")

    from .shell import display_problem, run_window
    problem = display_problem()
    if problem is not None:
        log.warning("%s: serving headless instead of opening a window", words(problem, "en"))
        return serve_headless(settings, problem)
    try:
        download_dir = args.download_dir.expanduser().resolve() if args.download_dir else None
        return run_window(settings, args.join, prefs, launched_at, download_dir)
    except OSError as exc:
        say(f"LAN Chat: {words('cannot_start', error=exc)}")
        log.exception("cannot start")
        return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
