"""The desktop app in a real window under Xvfb, each run in its own ``python -m desktop`` process.

Every app runs with --no-discovery (no mDNS leaves the machine) and talks only to 127.0.0.1.
Screenshots of the real screen land in test-artifacts/ (look at them).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from server.runner import ServerThread
from server.settings import Settings
from tests.conftest import ROOT, artifact_path, need_tool, wait_until
from tests.desktop_helpers import (
    EXPECTED_API,
    DesktopApp,
    Xvfb,
    answer_hosting_question,
    app_env,
    free_port,
    js_string,
    listening_addresses,
    port_is_free,
    question_windows,
)

pytestmark = [pytest.mark.desktop, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                      reason="the window tests use Xvfb")]

UI_READY = (ROOT / "static" / "js" / "main.js").exists()


@pytest.fixture
def launch(tmp_path: Path, xvfb: Xvfb) -> Iterator[type[DesktopApp]]:
    started: list[DesktopApp] = []

    def start(*args: str, home: str | None = None) -> DesktopApp:
        app = DesktopApp(tmp_path / (home or f"app{len(started)}"), xvfb.display, *args)
        started.append(app)
        return app

    yield start  # type: ignore[misc]
    for app in started:
        app.stop()


def shot(xvfb: Xvfb, name: str) -> Path:
    """Screenshot the virtual screen; fail if it came out blank."""
    need_tool("/usr/bin/import", "imagemagick")
    path = xvfb.screenshot(artifact_path(name))
    spread = subprocess.run(["/usr/bin/convert", str(path), "-format", "%[fx:standard_deviation]",
                             "info:"], capture_output=True, text=True, timeout=30).stdout
    assert float(spread or 0) > 0.01, f"{name} is a blank screen"
    return path


def host_from_page(app: DesktopApp, room: str, name: str) -> None:
    """Host a room the way the lobby page does: through the bridge, then load the new URL;
    the person agrees in the app's native question."""
    app.eval(f"window.pywebview.api.host_room({{room: {js_string(room)}, name: "
             f"{js_string(name)}}}).then(r => {{ window.__hosted = r; "
             f"if (r.url) location.href = r.url; }}); true")
    answer_hosting_question(app, host=True)
    wait_until(lambda: (s := app.try_state()) and s["hosting"] and s["url"]
               and not s["url"].endswith("#lobby"), timeout=15, what="the room to be hosted")


def test_window_opens_on_the_lobby_with_only_the_bridge_methods(launch, xvfb) -> None:
    app = launch()
    state = app.wait_loaded()
    print(f"\nlaunch to lobby loaded: {state['launch_to_loaded']:.2f} s wall clock "
          f"({state['first_load_seconds']:.2f} s inside the app)")
    assert state["url"] == f"http://127.0.0.1:{app.app_port}/#lobby"
    assert state["title"] == "LAN Chat"
    assert not state["hosting"]
    # The test looks in through Qt's DevTools endpoint, which the app says is on.
    assert "DevTools endpoint is on (127.0.0.1:" in app.log()
    # Before hosting, the server answers on loopback only.
    assert listening_addresses(app.app_port) == {"127.0.0.1"}
    room = httpx.get(f"http://127.0.0.1:{app.app_port}/api/room").json()
    assert room["hosting"] is False
    keys = wait_until(lambda: app.eval("window.pywebview && window.pywebview.api && "
                                       "JSON.stringify(Object.keys(window.pywebview.api))"),
                      timeout=10, what="window.pywebview.api")
    assert set(json.loads(keys)) == EXPECTED_API
    assert app.eval("document.readyState") == "complete"
    assert app.eval("window.pywebview.api.lobby_url() instanceof Promise")
    if UI_READY:
        wait_until(lambda: "LAN Chat" in (app.eval("document.body.innerText") or "")
                   and app.eval("document.styleSheets.length > 0"),
                   timeout=10, what="the lobby to render with its styles")
        time.sleep(0.5)  # let the first paint settle before the screenshot
    shot(xvfb, "desktop-lobby.png")
    assert state["launch_to_loaded"] < 10


def test_hosting_a_room_shows_a_websocket_message_in_the_window(launch, xvfb) -> None:
    app = launch()
    app.wait_loaded()
    wait_until(lambda: app.eval("!!(window.pywebview && window.pywebview.api && "
                                "window.pywebview.api.host_room)"), what="the bridge")
    host_from_page(app, "Desk room", "Ann")
    state = app.state()
    assert state["url"] == f"http://127.0.0.1:{app.app_port}/"
    assert state["room"] == "Desk room"
    assert listening_addresses(app.app_port) == {"0.0.0.0"}  # reachable from the LAN now
    info = httpx.get(f"http://127.0.0.1:{app.app_port}/api/room").json()
    assert info["hosting"] is True and info["room"] == "Desk room"
    wait_until(lambda: app.state()["title"] == "LAN Chat — Desk room", what="the title")
    prefs = json.loads((app.home / "config" / "LANChat" / "prefs.json").read_text())
    assert prefs["name"] == "Ann"
    if not UI_READY:
        pytest.skip("the UI (static/js/main.js) has not landed: message rendering not checked")

    # The page joins as Ann (the join prompt is prefilled from the prefs): submit it if shown.
    def joined() -> bool:
        users = httpx.get(f"http://127.0.0.1:{app.app_port}/api/room").json()["users"]
        if users:
            return True
        app.eval("(() => { const f = document.querySelector('form'); const i = f && "
                 "f.querySelector('input[name=name]'); if (i && !i.value) i.value = 'Ann'; "
                 "if (f) f.requestSubmit(); return true; })()")
        return False

    wait_until(joined, timeout=20, interval=0.5, what="the window to join its room")
    text = f"hello from a websocket client {uuid.uuid4().hex[:8]}"
    with connect(f"ws://127.0.0.1:{app.app_port}/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "name": "Bob", "client_id": str(uuid.uuid4()),
                            "since": None}))
        assert json.loads(ws.recv(10))["admin"] is False  # a visitor does not moderate
        ws.send(json.dumps({"type": "message", "text": text, "client_msg_id": str(uuid.uuid4())}))
        wait_until(lambda: text in (app.eval("document.body.innerText") or ""), timeout=15,
                   what="the message to appear in the window")
    time.sleep(0.5)
    shot(xvfb, "desktop-room.png")
    # The hosting window itself is the room's admin: a WebSocket from its page (its cookies)
    # is welcomed with admin true.
    app.eval("(() => { const ws = new WebSocket(`ws://${location.host}/ws`); "
             "ws.onopen = () => ws.send(JSON.stringify({type: 'hello', name: 'Ann', "
             "client_id: 'desktop-admin-probe'})); ws.onmessage = (e) => { "
             "const f = JSON.parse(e.data); if (f.type === 'welcome') { "
             "window.__admin = f.admin; ws.close(); } }; return true; })()")
    wait_until(lambda: app.eval("window.__admin === undefined ? null : window.__admin")
               is not None, timeout=15, what="the window's own welcome")
    assert app.eval("window.__admin") is True


def test_hosting_with_a_password_from_the_lobby_form(launch) -> None:
    """The lobby's own form hosts a password room; the host's window is let in at once, a
    stranger without the password is not."""
    if not UI_READY:
        pytest.skip("the UI (static/js/main.js) has not landed")
    app = launch()
    app.wait_loaded()
    wait_until(lambda: app.eval("!!document.querySelector('#host-password')"),
               what="the lobby's host form")
    app.eval("(() => { const v = (id, x) => { const i = document.getElementById(id); "
             "i.value = x; i.dispatchEvent(new Event('input')); }; v('host-name', 'Ann'); "
             "v('host-room', 'Locked room'); v('host-password', 'open sesame'); "
             "document.getElementById('host-password').form.requestSubmit(); return true; })()")
    answer_hosting_question(app, host=True)
    port = app.app_port

    def users() -> int:
        try:  # the server is being restarted on the LAN for a moment
            return int(httpx.get(f"http://127.0.0.1:{port}/api/room", timeout=2).json()["users"])
        except httpx.HTTPError:
            return 0

    wait_until(lambda: users() == 1, timeout=20, interval=0.3,
               what="the host's window to join its own password room without a prompt")
    info = httpx.get(f"http://127.0.0.1:{port}/api/room").json()
    assert info["password"] is True and info["room"] == "Locked room"
    assert httpx.get(f"http://127.0.0.1:{port}/api/events").status_code == 401
    with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    login = httpx.post(f"http://127.0.0.1:{port}/api/login", json={"password": "open sesame"})
    assert login.status_code == 200 and "lanchat_session" in login.cookies


def test_closing_the_window_stops_everything_within_2_seconds(launch) -> None:
    app = launch()
    app.wait_loaded()
    wait_until(lambda: app.eval("!!(window.pywebview && window.pywebview.api && "
                                "window.pywebview.api.host_room)"), what="the bridge")
    host_from_page(app, "Closing room", "Ann")
    with connect(f"ws://127.0.0.1:{app.app_port}/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "name": "Bob", "client_id": str(uuid.uuid4()),
                            "since": None}))
        wait_until(lambda: json.loads(ws.recv(5))["type"] == "welcome", what="welcome")
        took = app.close()
        print(f"\nwindow close to process exit: {took:.2f} s")
        # The client got a close frame (a clean close), not a dropped connection.
        with pytest.raises(Exception) as closed:
            while True:
                ws.recv(5)
        assert ws.close_code is not None and ws.close_code != 1006, closed.value
    assert app.proc.returncode == 0, app.output()
    assert took < 2.0
    assert port_is_free(app.app_port)
    log = app.log()
    assert "window closed" in log and "watchdog" not in log
    assert "Traceback" not in app.output()


def test_no_display_serves_headless_and_prints_the_url(tmp_path: Path) -> None:
    port = free_port()
    env = app_env(tmp_path, display=None, devtools_port=None)
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):  # the English line, whatever the machine
        env.pop(name, None)
    env["LANG"] = "C.UTF-8"
    proc = subprocess.Popen([sys.executable, "-m", "desktop", "--no-discovery", "--port",
                             str(port), "--data-dir", str(tmp_path / "data")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("LAN Chat: no display found"), line
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        health = httpx.get(url.group(0) + "api/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert "Traceback" not in err and "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def wait_bridge(app: DesktopApp) -> None:
    wait_until(lambda: app.eval("!!(window.pywebview && window.pywebview.api && "
                                "window.pywebview.api.host_room)"), what="the bridge")


def bridge_call(app: DesktopApp, call: str) -> object:
    """Call ``window.pywebview.api.<call>`` from the page and wait for its result."""
    key = f"__r{uuid.uuid4().hex[:8]}"
    app.eval(f"window.pywebview.api.{call}.then(r => window.{key} = JSON.stringify(r ?? null)); 1")
    raw = wait_until(lambda: app.eval(f"window.{key} || ''"), timeout=10, what=call)
    return json.loads(raw)


def test_a_remote_page_in_the_window_cannot_host_or_write_prefs(launch, tmp_path: Path) -> None:
    """Another host's page gets the bridge too (it may read the name and set the title), but
    host_room and set_prefs refuse it."""
    remote = ServerThread(Settings(room="Their room", host="127.0.0.1", port=0,
                                   data_dir=tmp_path / "remote", discovery=False))
    remote.start()
    app = launch()
    try:
        app.wait_loaded()
        wait_bridge(app)
        assert "prefs" in bridge_call(app, 'set_prefs({name: "Ann"})')  # own page: allowed
        app.eval(f"location.href = 'http://127.0.0.1:{remote.port}/'; 1")
        wait_until(lambda: (s := app.try_state()) and s["url"]
                   == f"http://127.0.0.1:{remote.port}/", what="the remote page")
        wait_bridge(app)
        assert bridge_call(app, "get_prefs()") == {"name": "Ann", "last_room": "",
                                                    "standby": True}
        assert "error" in bridge_call(app, 'host_room({room: "Evil", name: "x"})')
        assert "error" in bridge_call(app, 'set_prefs({name: "Mallory"})')
        assert bridge_call(app, "lobby_url()") == f"http://127.0.0.1:{app.app_port}/#lobby"
        bridge_call(app, 'set_unread(3, "Their room")')
        assert app.state()["title"] == "(3) LAN Chat — Their room"
        state = app.state()
        assert not state["hosting"]
        assert listening_addresses(app.app_port) == {"127.0.0.1"}
    finally:
        app.stop()
        remote.stop()


def test_nickname_is_remembered_between_launches(launch) -> None:
    first = launch(home="same")
    first.wait_loaded()
    wait_bridge(first)
    bridge_call(first, 'set_prefs({name: "Ann", last_room: "http://10.1.2.3:8765/"})')
    first.close()
    second = launch(home="same")
    second.wait_loaded()
    wait_bridge(second)
    assert bridge_call(second, "get_prefs()") == {"name": "Ann",
                                                   "last_room": "http://10.1.2.3:8765/"}


def test_sigterm_closes_the_window_cleanly(launch) -> None:
    app = launch()
    app.wait_loaded()
    t0 = time.monotonic()
    app.proc.send_signal(signal.SIGTERM)
    app.proc.wait(10)
    took = time.monotonic() - t0
    assert app.proc.returncode == 0, app.output()
    assert took < 2.0, took
    assert port_is_free(app.app_port)
    assert "watchdog" not in app.log()


def test_a_busy_port_falls_back_to_a_free_one(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc = subprocess.Popen([sys.executable, "-m", "desktop", "--headless", "--no-discovery",
                                 "--port", str(port), "--data-dir", str(tmp_path / "data")],
                                cwd=ROOT, env=app_env(tmp_path, None, None),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            assert url and int(url.group(1)) != port, line
            assert httpx.get(url.group(0) + "api/health", timeout=10).status_code == 200
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err


def test_join_opens_another_hosts_room_with_a_way_back(launch, tmp_path: Path) -> None:
    remote = ServerThread(Settings(room="Far room", host="127.0.0.1", port=0,
                                   data_dir=tmp_path / "remote", discovery=False))
    remote.start()
    try:
        app = launch("--join", f"http://127.0.0.1:{remote.port}/")
        state = app.wait_loaded()
        assert state["url"] == f"http://127.0.0.1:{remote.port}/"
        wait_bridge(app)
        lobby = bridge_call(app, "lobby_url()")
        assert lobby == f"http://127.0.0.1:{app.app_port}/#lobby"
        assert httpx.get(str(lobby).split("#")[0] + "api/health").status_code == 200
        app.stop()
    finally:
        remote.stop()


def test_hosting_asks_the_person_first_and_no_means_no(launch, xvfb) -> None:
    """The lobby's form asks; the app puts a native question on the screen, which only a
    person (the keyboard, through the X server) can answer. Escape declines, and nothing is
    hosted; Alt+H hosts."""
    if not UI_READY:
        pytest.skip("the UI (static/js/main.js) has not landed")
    app = launch()
    app.wait_loaded()
    wait_until(lambda: app.eval("!!document.querySelector('#host-room')"),
               what="the lobby's host form")
    submit = ("(() => { const v = (id, x) => { const i = document.getElementById(id); "
              "i.value = x; i.dispatchEvent(new Event('input')); }; v('host-name', 'Ann'); "
              "v('host-room', '<b>Den</b>'); "
              "document.getElementById('host-room').form.requestSubmit(); return true; })()")
    app.eval(submit)
    wait_until(lambda: question_windows(xvfb.display), what="the hosting question")
    time.sleep(0.5)  # the dialog's first paint, for the screenshot
    shot(xvfb, "desktop-host-question.png")
    answer_hosting_question(app, host=False)
    problem = wait_until(lambda: app.eval("(document.querySelector('.form-error:not([hidden])')"
                                          " || {}).textContent || ''"), what="the refusal")
    assert "did not confirm" in problem
    assert not app.state()["hosting"]
    assert listening_addresses(app.app_port) == {"127.0.0.1"}
    prefs = app.home / "config" / "LANChat" / "prefs.json"
    assert not prefs.exists() or json.loads(prefs.read_text())["last_room"] == ""

    app.eval(submit)
    answer_hosting_question(app, host=True)
    wait_until(lambda: (s := app.try_state()) and s["hosting"], timeout=20, what="hosting")
    assert app.state()["room"] == "<b>Den</b>"
    assert listening_addresses(app.app_port) == {"0.0.0.0"}
