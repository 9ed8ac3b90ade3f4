"""Looking inside a running LAN Chat window from the test side only, with no help from the app.

The app ships no test hook. A test drives the real window through things that exist anyway:

- the page: Qt WebEngine's own DevTools endpoint, which Qt opens only when the process is started
  with ``QTWEBENGINE_REMOTE_DEBUGGING=127.0.0.1:<port>`` (a Qt feature, not our code; the tests
  set it, a normal start does not). Scripts run in the page with ``Runtime.evaluate``, which is
  the same page, so ``window.pywebview.api`` is there as for the app's own scripts;
- the window: the X server (its title, and closing it with ``WM_DELETE_WINDOW``, which is what a
  window manager sends when a person clicks the close button);
- the app's log (the first page load's time) and its own HTTP server (``/api/room``).

Only the DevTools domain ``Runtime`` is used, and only ``evaluate``: nothing is enabled that would
change how the window behaves (no dialog handling, no download or network interception).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import need_tool, wait_until

DEVTOOLS_ENV = "QTWEBENGINE_REMOTE_DEBUGGING"
FIRST_LOAD = re.compile(r"first page loaded (\d+(?:\.\d+)?) s after launch")
# DevTools answers these while the page is being replaced (a navigation or a reload): the script
# is tried again on the next document, as a person would wait for the page.
PAGE_CHANGING = ("Execution context was destroyed", "Cannot find default execution context",
                 "Inspected target navigated or closed", "Cannot find context with specified id")


class ScriptError(AssertionError):
    """A script evaluated in the page threw; ``detail`` is what DevTools said."""

    def __init__(self, detail: object) -> None:
        super().__init__(f"the script threw: {detail}")
        self.detail = detail


class DevToolsPage:
    """The window's one web page, through Qt WebEngine's DevTools endpoint on ``port``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self._ws: ClientConnection | None = None
        self._next_id = 0

    def target(self) -> dict[str, Any] | None:
        """The page's DevTools target (``url``, ``webSocketDebuggerUrl``), or None if none yet.

        Raises httpx.TransportError while the endpoint is not listening (the app is starting).
        """
        pages = [t for t in self._http.get("/json/list").json() if t.get("type") == "page"]
        assert len(pages) <= 1, f"more than one page in the app: {pages}"
        return pages[0] if pages else None

    def url(self) -> str | None:
        """The address of the page the window shows (None before the first one)."""
        target = self.target()
        return (target or {}).get("url") or None

    def evaluate(self, js: str, timeout: float = 30) -> Any:
        """What ``js`` evaluates to in the page, as pywebview's ``evaluate_js`` gives it: the
        script runs through ``eval``, so its last expression is the result and its ``const``
        declarations stay local; the value comes back as JSON (undefined is None)."""
        deadline = time.monotonic() + timeout
        expression = f"eval({json.dumps(js)})"
        while True:
            reply = self._call("Runtime.evaluate", {"expression": expression,
                                                    "returnByValue": True}, timeout)
            error = reply.get("error")
            if error is None:
                break
            if not any(m in str(error.get("message")) for m in PAGE_CHANGING) \
                    or time.monotonic() > deadline:
                raise AssertionError(f"DevTools refused the script: {error}")
            time.sleep(0.05)
        result = reply["result"]
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise ScriptError(details.get("exception", {}).get("description") or details)
        return result["result"].get("value")

    def _call(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        """One DevTools command and its reply (events, if any, are skipped)."""
        for attempt in (1, 2):
            ws = self._connection()
            self._next_id += 1
            try:
                ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
                while True:
                    message = json.loads(ws.recv(timeout))
                    if message.get("id") == self._next_id:
                        return dict(message)
            except ConnectionClosed:  # the endpoint dropped us: connect again, once
                self._ws = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _connection(self) -> ClientConnection:
        if self._ws is None:
            target = wait_until(self.target, timeout=10, what="the page's DevTools target")
            self._ws = connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=10,
                               legacy=True)  # kept open across calls, closed by close()
        return self._ws

    def disconnect(self) -> None:
        """Leave the page (a new connection is made if the test evaluates again)."""
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    def close(self) -> None:
        self.disconnect()
        self._http.close()


# The X window ------------------------------------------------------------------------------

def need_window_tools() -> None:
    """Skip (fail in CI) before starting an app whose window cannot be looked at."""
    need_tool(shutil.which("xdotool"), "xdotool")
    need_tool(shutil.which("xprop"), "x11-utils (xprop)")


def _x(display: str, *cmd: str) -> str:
    return subprocess.run(cmd, env={**os.environ, "DISPLAY": display}, capture_output=True,
                          encoding="utf-8", errors="replace", timeout=15).stdout


def main_window(display: str, pid: int) -> str | None:
    """The X id of the app's main window: the visible one of its windows that is nobody's
    dialog (a dialog names its owner in WM_TRANSIENT_FOR)."""
    for window in _x(display, "xdotool", "search", "--onlyvisible", "--pid", str(pid)).split():
        props = _x(display, "xprop", "-id", window, "WM_TRANSIENT_FOR", "_NET_WM_WINDOW_TYPE")
        if "WM_TRANSIENT_FOR(WINDOW)" not in props and "_DIALOG" not in props:
            return window
    return None


def window_title(display: str, window: str) -> str:
    return _x(display, "xdotool", "getwindowname", window).rstrip("\n")


class _ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
                ("message_type", ctypes.c_ulong), ("format", ctypes.c_int),
                ("data", ctypes.c_long * 5)]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _ClientMessage), ("pad", ctypes.c_long * 24)]


def ask_window_to_close(display: str, window: str) -> None:
    """Send the window WM_DELETE_WINDOW, as a window manager does when its close button is
    clicked (Xvfb runs no window manager, and xdotool 3.2016 has no command for it)."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.POINTER(_XEvent)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    connection = x11.XOpenDisplay(display.encode())
    assert connection, f"cannot open X display {display}"
    try:
        event = _XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = int(window)
        event.xclient.message_type = x11.XInternAtom(connection, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(connection, b"WM_DELETE_WINDOW", 0)
        event.xclient.data[1] = 0  # CurrentTime
        assert x11.XSendEvent(connection, int(window), 0, 0, ctypes.byref(event))
        x11.XFlush(connection)
    finally:
        x11.XCloseDisplay(connection)


# The whole app, as a test sees it -------------------------------------------------------------

def first_load_seconds(log: str) -> float | None:
    """Seconds from launch to the first page load, from the line the app logs anyway."""
    found = FIRST_LOAD.search(log)
    return float(found.group(1)) if found else None


class AppWindow:
    """A running app's window, page, log and server, seen from outside the process.

    ``state()`` has the fields the tests use: ``url`` (the page's, from DevTools), ``title``
    (the main window's, from the X server), ``server_port``, ``hosting`` and ``room`` (from the
    app's own ``/api/room``), ``first_load_seconds`` (from the app's log).
    """

    def __init__(self, proc: subprocess.Popen[bytes], display: str, devtools_port: int,
                 app_port: int, log_path: Path, started_at: float | None = None) -> None:
        self.proc = proc
        self.display = display
        self.app_port = app_port
        self.log_path = log_path
        self.page = DevToolsPage(devtools_port)
        self.started_at = time.monotonic() if started_at is None else started_at

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output(self) -> str:
        """What to show when the app died (a subclass adds its stdout and stderr)."""
        return self.log()[-3000:]

    def title(self) -> str | None:
        window = main_window(self.display, self.proc.pid)
        return window_title(self.display, window) if window else None

    def state(self) -> dict[str, Any]:
        room = httpx.get(f"http://127.0.0.1:{self.app_port}/api/room", timeout=10).json()
        return {"url": self.page.url(), "title": self.title(), "server_port": self.app_port,
                "hosting": room["hosting"], "room": room["room"],
                "first_load_seconds": first_load_seconds(self.log())}

    def try_state(self) -> dict[str, Any] | None:
        """The state, or None while the app cannot tell it yet (starting, or its server
        restarting to host); fails at once if the app has exited."""
        try:
            return self.state()
        except httpx.TransportError:
            if self.proc.poll() is not None:
                raise AssertionError(f"the app exited with {self.proc.returncode}: "
                                     f"{self.output()}") from None
            return None

    def eval(self, js: str) -> Any:
        return self.page.evaluate(js)

    def wait_loaded(self, timeout: float = 30) -> dict[str, Any]:
        """Wait for the first page load; returns the state with the wall-clock launch time."""
        state: dict[str, Any] = wait_until(
            lambda: (s := self.try_state()) and s.get("first_load_seconds") is not None
            and s.get("url") and s,
            timeout=timeout, interval=0.05, what="the window's first page load")
        state["launch_to_loaded"] = time.monotonic() - self.started_at
        return state

    def close(self, timeout: float = 10) -> float:
        """Close the window as a person would; returns seconds until the process ended."""
        window = wait_until(lambda: main_window(self.display, self.proc.pid), timeout=10,
                            what="the app's window")
        self.page.disconnect()
        t0 = time.monotonic()
        ask_window_to_close(self.display, window)
        self.proc.wait(timeout=timeout)
        return time.monotonic() - t0

    def stop_driving(self) -> None:
        """Teardown: let go of the page (the process itself is the caller's to stop)."""
        self.page.close()
