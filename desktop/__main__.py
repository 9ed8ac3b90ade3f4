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
import threading
import time
from pathlib import Path

from server import __version__, paths
from server.config import ConfigError, add_host_options, resolve
from server.settings import Settings

from .bridge import safe_external_url
from .crash import CrashReporter
from .instance import PrimaryInstance
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
    instance, handed_over = claim_or_hand_over(args.join)
    if handed_over is not None:
        return handed_over
    try:
        code = open_window(args, settings, prefs, launched_at, log_path, instance)
    finally:
        if instance is not None:
            instance.stop()
    leave_if_only_foreign_threads_are_left(code)
    return code


def leave_if_only_foreign_threads_are_left(code: int) -> None:
    """pywebview injects its API into each loaded page from a thread of its own that waits for
    the page's answer; a window closed meanwhile never answers, and Python would wait for that
    thread at exit until the watchdog ended the process with 3. Once everything of ours has
    stopped and only such threads are left, leave now, with the real exit code."""
    left = [t for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()]
    if left and not any(t.name.startswith("lanchat-") for t in left):
        log.info("leaving without waiting for %s", [t.name for t in left])
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        os._exit(code)


def claim_or_hand_over(join: str | None) -> tuple[PrimaryInstance | None, int | None]:
    """Become the one running app, or pass ``join`` (or "come forward") to the running one
    and return the exit code. The lock lives in the config folder, so one per user."""
    from .instance import claim, hand_over

    folder = paths.user_config_dir()
    try:
        instance = claim(folder)
    except OSError as exc:  # an unwritable config folder must not stop the app
        log.warning("cannot take the one-app lock in %s: %s", folder, exc)
        return None, None
    if instance is not None:
        return instance, None
    if hand_over(folder, join):
        log.info("LAN Chat already runs: handed %s over to it", join or "the launch")
        say("LAN Chat is already running: its window was brought forward.")
        return None, 0
    say("LAN Chat: another copy holds the lock but does not answer; close it and try again.")
    log.error("another copy holds the one-app lock but did not answer")
    return None, 1


def open_window(args: argparse.Namespace, settings: Settings, prefs: PrefsStore,
                launched_at: float, log_path: Path | None,
                instance: PrimaryInstance | None) -> int:
    """Start the lobby server, and while it starts, open the window on it (or serve headless
    when no window can open). Unexpected errors from here on show a dialog."""
    from .headless import serve_headless
    from .servers import EmbeddedServer
    from .shell import Launch, LobbyWatch, display_problem, run_window

    watch = LobbyWatch()
    try:
        server = EmbeddedServer(settings).start_lobby_soon(watch.failed)
    except OSError as exc:
        say(f"LAN Chat: {words('cannot_start', error=exc)}")
        log.exception("cannot start")
        return 2
    problem = display_problem()
    if problem is not None:
        log.warning("%s: serving headless instead of opening a window", words(problem, "en"))
        server.stop()
        if instance is not None:  # a windowless run is not the one app a later launch finds
            instance.stop()
        return serve_headless(settings, problem)
    reporter = CrashReporter(log_path).install()
    download_dir = args.download_dir.expanduser().resolve() if args.download_dir else None
    try:
        return run_window(Launch(server, watch, prefs, launched_at, args.join, download_dir,
                                 reporter, instance))
    except OSError as exc:
        log.exception("cannot start")
        reporter.show("LAN Chat cannot start.", exc)
        return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
