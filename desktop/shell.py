"""The window: pywebview around the embedded server, and an orderly shutdown when it closes."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server import paths
from server.settings import Settings

from .bridge import APP_TITLE, Bridge, JsApi
from .downloads import QtDownloads, default_download_dir
from .logs import say
from .prefs import PrefsStore
from .servers import EmbeddedServer
from .testcontrol import ENV_VAR, TestControl
from .useragent import desktop_user_agent

log = logging.getLogger(__name__)

FORCE_EXIT_AFTER = 3.0  # seconds after the window closed; the last resort if something hangs


def display_problem() -> str | None:
    """Why a window cannot open here, or None when it can (as far as can be told upfront)."""
    if sys.platform.startswith("linux"):
        has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        offscreen = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen",
                                                                            "minimal")
        if not has_display and not offscreen:
            return "no display found"
    try:
        import webview  # noqa: F401
        if sys.platform.startswith("linux"):
            from PyQt6 import QtWebEngineWidgets  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means no window
        log.info("no GUI backend: %r", exc)
        return "no GUI toolkit found (install LAN Chat's desktop extra: pywebview with Qt)"
    return None


def prepare_qt_environment() -> None:
    """Qt WebEngine refuses to run its sandbox as root and has no GPU under Xvfb."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")


class SignalWatcher:
    """Turns SIGINT/SIGTERM into a window close while Qt's loop holds the main thread.

    Python runs signal handlers only between bytecodes of the main thread, which Qt keeps busy
    in C; the wakeup fd is written by the C-level handler at once, and a thread reads it.
    """

    def __init__(self, on_signal: Callable[[], None]) -> None:
        self._on_signal = on_signal
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._previous: dict[int, Any] = {}
        self._old_fd = -1
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="lanchat-signals", daemon=True)

    def start(self) -> SignalWatcher:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, lambda *_: None)
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while True:
            try:
                data = self._reader.recv(16)
            except OSError:
                return
            if not data or self._stopping.is_set():
                return
            log.info("signal %s received: closing the window", list(data))
            self._on_signal()

    def stop(self) -> None:
        self._stopping.set()
        signal.set_wakeup_fd(self._old_fd)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        try:
            self._writer.send(b"\0")  # wakes _watch, which sees _stopping and returns
        except OSError:
            pass
        self._thread.join(0.5)
        self._writer.close()
        self._reader.close()


def force_exit_later(delay: float) -> None:
    """Start the watchdog: if the process is still here after ``delay`` s, log it and exit."""

    def watchdog() -> None:
        time.sleep(delay)
        alive = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
        log.error("watchdog: still running %.1f s after the window closed (threads: %s); "
                  "forcing exit", delay, alive)
        logging.shutdown()
        os._exit(3)

    threading.Thread(target=watchdog, name="lanchat-watchdog", daemon=True).start()


def run_window(settings: Settings, start_url: str | None, prefs: PrefsStore,
               launched_at: float, download_dir: Path | None = None) -> int:
    """Serve the lobby on loopback, open the window on it, and clean up when it closes."""
    import webview

    prepare_qt_environment()
    server = EmbeddedServer(settings).start_lobby()
    bridge = Bridge(server, prefs)
    url = start_url or f"{server.origin}/#lobby"
    window = webview.create_window(APP_TITLE, url, js_api=JsApi(bridge), width=1100, height=760,
                                   min_size=(360, 480), text_select=True)
    if window is None:  # pywebview returns None only when it cannot make a window at all
        server.stop()
        raise RuntimeError("pywebview could not create a window")
    bridge.attach(window)
    if sys.platform.startswith("linux"):  # Qt: our own handler (see desktop/downloads.py)
        downloads = QtDownloads(window, (lambda: download_dir) if download_dir else
                                default_download_dir)
        window.events.shown += downloads.attach
    else:  # the other backends save into the Downloads folder themselves
        webview.settings["ALLOW_DOWNLOADS"] = True
    first_load: list[float] = []
    closing = threading.Event()

    def on_loaded() -> None:
        if not first_load:
            first_load.append(time.monotonic() - launched_at)
            log.info("first page loaded %.2f s after launch", first_load[0])
        bridge.page_changed()

    watchdog_started = threading.Event()

    def start_watchdog() -> None:
        if not watchdog_started.is_set():
            watchdog_started.set()
            force_exit_later(FORCE_EXIT_AFTER)

    def on_closed() -> None:
        closing.set()
        log.info("window closed")
        start_watchdog()

    def close_window() -> None:
        if not closing.is_set():
            threading.Thread(target=window.destroy, name="lanchat-close", daemon=True).start()

    window.events.loaded += on_loaded
    window.events.closed += on_closed

    control: TestControl | None = None
    control_port = os.environ.get(ENV_VAR, "")
    if control_port.isdigit():
        def state() -> dict[str, Any]:
            loaded = window.events.loaded.is_set()
            return {"url": window.get_current_url() if loaded and not closing.is_set() else None,
                    "title": window.title, "server_port": server.port,
                    "hosting": server.hosting, "room": server.room,
                    "first_load_seconds": first_load[0] if first_load else None}
        control = TestControl(int(control_port), window, state, close_window).start()

    signals = SignalWatcher(close_window).start()
    say(f"LAN Chat: window open on {url}")
    icon = paths.app_icon()
    try:
        webview.start(gui="qt" if sys.platform.startswith("linux") else None,
                      private_mode=True, user_agent=desktop_user_agent(),
                      icon=str(icon) if icon is not None else None)
    finally:
        closing.set()
        start_watchdog()
        t0 = time.monotonic()
        server.stop()
        signals.stop()
        if control is not None:
            control.stop()
        log.info("shut down in %.2f s after the window closed", time.monotonic() - t0)
        left = [t.name for t in threading.enumerate()
                if t is not threading.current_thread() and not t.daemon and t.is_alive()]
        if left:
            log.warning("threads still running at exit: %s", left)
    return 0
