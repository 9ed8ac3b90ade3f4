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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server import paths

from .bridge import APP_TITLE, EXPOSED, Bridge, JsApi
from .crash import CrashReporter
from .downloads import QtDownloads, default_download_dir
from .instance import PrimaryInstance
from .logs import say
from .pinning import Pinning, PinStore, own_peers
from .prefs import PrefsStore
from .servers import EmbeddedServer
from .standby import StandbyKeeper
from .useragent import desktop_user_agent
from .words import words

log = logging.getLogger(__name__)

FORCE_EXIT_AFTER = 3.0  # seconds after the window closed; the last resort if something hangs


def display_problem() -> str | None:
    """Why a window cannot open here, as a key of ``words`` ("no_display", "no_gui"), or None
    when it can (as far as can be told upfront)."""
    if sys.platform.startswith("linux"):
        has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        offscreen = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen",
                                                                            "minimal")
        if not has_display and not offscreen:
            return "no_display"
    try:
        import webview  # noqa: F401
        if sys.platform.startswith("linux"):
            from PyQt6 import QtWebEngineWidgets  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means no window
        log.info("no GUI backend: %r", exc)
        return "no_gui"
    return None


# Qt Quick puts the web engine's frames on the screen. Its default draws them through OpenGL,
# which costs the first paint about 0.3 s where OpenGL itself is software (no GPU driver:
# virtual machines, remote desktops, Xvfb); in software the lobby showed at 0.73 s instead of
# 1.04 s (median of 8 launches). The engine then composites in software too, which a page of
# text and small images does not notice. Whoever starts the app can pick another backend.
QUICK_BACKEND = "software"


def prepare_qt_environment() -> None:
    """Qt WebEngine refuses to run its sandbox as root and has no GPU under Xvfb; Qt Quick
    draws in software unless the environment names another backend (``QUICK_BACKEND``).

    Qt also opens its DevTools endpoint (no password: whatever reaches it can run scripts in the
    window, bridge included) when the environment asks for it. That is Qt's, not ours, and only
    whoever starts the process can ask; the log says so, so that it is never on unnoticed.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")
    os.environ.setdefault("QT_QUICK_BACKEND", QUICK_BACKEND)
    devtools = os.environ.get("QTWEBENGINE_REMOTE_DEBUGGING")
    if devtools or "remote-debugging" in os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", ""):
        log.warning("Qt WebEngine's DevTools endpoint is on (%s): anything that reaches it can "
                    "run scripts in this window", devtools or "QTWEBENGINE_CHROMIUM_FLAGS")


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


def protect_bridge(bridge: Bridge, window: Any, pinning: Pinning | None = None) -> None:
    """Put our dispatcher in front of pywebview's (desktop/dispatch.py says why).

    With Qt (Linux) our own web-channel object replaces pywebview's; it also asks the person
    before hosting. Other backends keep pywebview's dispatcher behind a guard that refuses
    malformed calls and limits their rate, and ask with pywebview's confirmation dialog.
    """
    if sys.platform.startswith("linux"):
        from .qtbridge import install
        install(bridge, pinning)
        return
    from .dispatch import guard_pywebview_dispatch
    guard_pywebview_dispatch(EXPOSED)
    bridge.set_confirm(lambda room, with_password: bool(window.create_confirmation_dialog(
        "LAN Chat: host a room?", f"Host “{room}” on your network? Other computers on this "
        "network can reach LAN Chat on this computer until you close the app.")))


def create_main_window(webview: Any, bridge: Bridge, url: str,
                       pinning: Pinning | None = None) -> Any:
    """The one window, with the bridge attached and guarded before any page can call it, and
    rooms' certificates judged by ``pinning`` (desktop/pinning.py)."""
    window = webview.create_window(APP_TITLE, url, js_api=JsApi(bridge), width=1100, height=760,
                                   min_size=(360, 480), text_select=True)
    if window is None:  # pywebview returns None only when it cannot make a window at all
        raise RuntimeError("pywebview could not create a window")
    bridge.attach(window)
    protect_bridge(bridge, window, pinning)
    return window


def set_up_downloads(webview: Any, window: Any, download_dir: Path | None) -> None:
    """Qt needs our own handler (see desktop/downloads.py); the other backends save into the
    Downloads folder themselves once allowed to."""
    if sys.platform.startswith("linux"):
        downloads = QtDownloads(window, (lambda: download_dir) if download_dir else
                                default_download_dir)
        window.events.shown += downloads.attach
    else:
        webview.settings["ALLOW_DOWNLOADS"] = True


class WindowLife:
    """Follows the window from its first page to its closing.

    Logs the first page load's time (what start-up speed is judged by), tells the bridge of
    every new page, and arms the exit watchdog once, when the window closes or the GUI loop ends
    (whichever comes first), so that a hang in shutdown cannot keep the process alive.
    """

    def __init__(self, window: Any, bridge: Bridge, launched_at: float,
                 standby: StandbyKeeper | None = None) -> None:
        self._window = window
        self._bridge = bridge
        self._standby = standby
        self._launched_at = launched_at
        self._loaded_once = False
        self._watchdog = threading.Lock()
        self._watchdog_started = False
        self.closing = threading.Event()
        self.shown = threading.Event()
        self.failed = False
        window.events.shown += self.shown.set
        window.events.loaded += self.on_loaded
        window.events.closed += self.on_closed

    def on_loaded(self) -> None:
        if not self._loaded_once:
            self._loaded_once = True
            log.info("first page loaded %.2f s after launch",
                     time.monotonic() - self._launched_at)
        self._bridge.page_changed()
        if self._standby is not None:
            # pywebview runs this on a thread of its own, where asking Qt for the URL may wait.
            try:
                url = self._window.get_current_url() or ""
            except Exception:  # noqa: BLE001 - a closing window has no page to stand by for
                url = ""
            self._standby.page_loaded(url)

    def on_closed(self) -> None:
        self.closing.set()
        log.info("window closed")
        self.start_watchdog()

    def start_watchdog(self) -> None:
        with self._watchdog:
            if self._watchdog_started:
                return
            self._watchdog_started = True
        force_exit_later(FORCE_EXIT_AFTER)

    def close_window(self) -> None:
        """Close the window from any thread (pywebview's destroy blocks until Qt has done it)."""
        if not self.closing.is_set():
            threading.Thread(target=self._window.destroy, name="lanchat-close",
                             daemon=True).start()


def start_gui(webview: Any) -> None:
    """Run the GUI loop on this (the main) thread until the window has closed."""
    icon = paths.app_icon()
    webview.start(gui="qt" if sys.platform.startswith("linux") else None,
                  private_mode=True, user_agent=desktop_user_agent(),
                  icon=str(icon) if icon is not None else None)


def shut_down(server: EmbeddedServer, signals: SignalWatcher,
              standby: StandbyKeeper | None = None) -> None:
    """Stop what the window needed, and say in the log how long it took and what is left.
    The standby stops alongside the app's own server (both within the exit watchdog's time)."""
    t0 = time.monotonic()
    stopping = None
    if standby is not None:
        stopping = threading.Thread(target=standby.stop, args=(FORCE_EXIT_AFTER - 0.5,),
                                    name="lanchat-standby-stop")
        stopping.start()
    server.stop()
    if stopping is not None:
        stopping.join(FORCE_EXIT_AFTER - 0.5)
    signals.stop()
    log.info("shut down in %.2f s after the window closed", time.monotonic() - t0)
    left = [t.name for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()]
    if left:
        log.warning("threads still running at exit: %s", left)


class LobbyWatch:
    """What became of the lobby server's start, which runs while the window opens: a failure
    is kept until the window can show it (:meth:`on_failure`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._handler: Callable[[BaseException], None] | None = None

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._error, handler = exc, self._handler
        if handler is not None:
            handler(exc)

    def on_failure(self, handler: Callable[[BaseException], None]) -> None:
        with self._lock:
            self._handler, error = handler, self._error
        if error is not None:
            handler(error)


@dataclass
class Launch:
    """What :func:`run_window` is given: the lobby server (already starting, see
    EmbeddedServer.start_lobby_soon) and the parts that outlive one window."""

    server: EmbeddedServer
    watch: LobbyWatch
    prefs: PrefsStore
    launched_at: float
    start_url: str | None = None
    download_dir: Path | None = None
    reporter: CrashReporter | None = None
    instance: PrimaryInstance | None = None


def forward_function(window: Any) -> Callable[[], None]:
    """How to bring the window to the front from any thread: on Qt a queued call to the GUI
    thread that keeps a maximized window maximized, elsewhere pywebview's ``restore``."""
    if sys.platform.startswith("linux"):
        from .qtbridge import Raiser
        raiser = Raiser(window)  # made here, on the GUI thread, before the loop starts

        def ask_gui_thread() -> None:
            raiser.request.emit()  # this closure keeps the Raiser (and its QObject) alive

        return ask_gui_thread

    def restore_and_show() -> None:
        window.restore()
        window.show()

    return restore_and_show


def bring_forward(window: Any, forward: Callable[[], None], shown: threading.Event,
                  join: str | None) -> None:
    """Another launch asked: show the window in front, and open ``join`` in it if given."""
    if not shown.wait(30):
        log.warning("the window never showed; ignoring another launch's request")
        return
    if join is not None:
        window.load_url(join)
    forward()
    log.info("window brought forward%s", f" to open {join}" if join else "")


def watch_failures(launch: Launch, life: WindowLife) -> None:
    """If the lobby server fails to start, say so in a dialog, then close the window."""

    def failed(exc: BaseException) -> None:
        life.failed = True
        life.shown.wait(30)
        if launch.reporter is None:
            life.close_window()
            return
        launch.reporter.show("LAN Chat could not start its local server, so the window has "
                             "nothing to show.", exc, then=life.close_window)

    launch.watch.on_failure(failed)


def run_window(launch: Launch) -> int:
    """Open the window on the lobby (served on loopback) and clean up when it closes."""
    import webview

    prepare_qt_environment()
    server = launch.server
    pinning = Pinning(PinStore(paths.user_config_dir()), lambda: own_peers(server.origin))
    standby = StandbyKeeper(server.settings, lambda: server.port,
                            lambda: standing_by_allowed(server, launch.prefs),
                            pins=pinning.pins.get)
    bridge = Bridge(server, launch.prefs, prefs_changed=standby.refresh,
                    room_password=standby.use_password)
    url = launch.start_url or f"{server.origin}/#lobby"
    try:
        window = create_main_window(webview, bridge, url, pinning)
    except BaseException:
        server.stop()
        raise
    set_up_downloads(webview, window, launch.download_dir)
    life = WindowLife(window, bridge, launch.launched_at, standby)
    watch_failures(launch, life)
    if launch.instance is not None:
        forward = forward_function(window)
        launch.instance.set_handler(lambda join: bring_forward(window, forward, life.shown,
                                                               join))
    signals = SignalWatcher(life.close_window).start()
    say(f"LAN Chat: {words('window_open', url=url)}")
    # With "lobby server on" and "first page loaded", the start-up's profile in the log.
    log.info("window made %.2f s after launch; starting the GUI loop",
             time.monotonic() - launch.launched_at)
    try:
        start_gui(webview)
    finally:
        life.closing.set()
        life.start_watchdog()
        shut_down(server, signals, standby)
    return 1 if life.failed else 0


def standing_by_allowed(server: EmbeddedServer, prefs: PrefsStore) -> bool:
    """Whoever deployed the app (the ``standby`` setting) and the person (the preference)
    both let this app keep replicas of the rooms its window is in."""
    return server.settings.standby and prefs.load().standby
