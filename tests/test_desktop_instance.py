"""One app at a time, and a dialog when it breaks: the real window under Xvfb.

A second launch of ``python -m desktop`` by the same user (the same config folder) hands its
request to the running app and exits; the running window comes forward or opens the requested
room. A real failure (a damaged history file in the data folder) shows the error dialog with
the log's path instead of the window vanishing (test-artifacts/desktop-error-dialog.png).

Every app runs with --no-discovery on 127.0.0.1; every process is stopped by its PID.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Host, artifact_path, need_tool, stop_process, wait_until
from tests.desktop_helpers import DesktopApp, Xvfb, app_env, free_port, port_is_free

pytestmark = [pytest.mark.desktop, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                      reason="the window tests use Xvfb")]


@pytest.fixture
def first(tmp_path: Path, xvfb: Xvfb) -> Iterator[DesktopApp]:
    app = DesktopApp(tmp_path / "home", xvfb.display)
    yield app
    app.stop()


def launch_again(app: DesktopApp, *args: str, timeout: float = 30) -> tuple[int, float, str]:
    """Start ``python -m desktop`` again as the same user (same folders, same display), on a
    port of its own; returns its exit code, how long it ran, and what it printed."""
    assert app.display is not None
    port = free_port()
    env = app_env(app.home, app.display, None)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "desktop", "--no-discovery", "--port",
                             str(port), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        stop_process(proc)  # only if the timeout hit
    took = time.monotonic() - t0
    assert port_is_free(port), "the second launch started a server of its own"
    return proc.returncode, took, out.decode(errors="replace")


def test_a_second_launch_brings_the_running_window_forward_and_exits(first: DesktopApp,
                                                                   xvfb: Xvfb) -> None:
    state = first.wait_loaded(timeout=60)
    code, took, out = launch_again(first)
    print(f"\nsecond launch exited {code} after {took:.2f} s")
    assert code == 0, out
    assert "already running" in out
    wait_until(lambda: "window brought forward" in first.log(), timeout=15,
               what="the running app to act on the request")
    assert first.proc.poll() is None, "the first app quit"
    assert first.state()["url"] == state["url"]  # still the lobby
    windows = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^LAN Chat"],
                             env={**os.environ, "DISPLAY": xvfb.display}, capture_output=True,
                             text=True, timeout=15).stdout.split()
    assert len(windows) == 1, f"expected one LAN Chat window, found {windows}"


def test_a_second_launch_with_join_opens_that_room_in_the_running_window(
        first: DesktopApp, tmp_path: Path) -> None:
    first.wait_loaded(timeout=60)
    host = Host(tmp_path / "other-host", room="Other room", hosting=True).start()
    try:
        code, took, out = launch_again(first, "--join", f"{host.url}/")
        print(f"\nsecond launch with --join exited {code} after {took:.2f} s")
        assert code == 0, out
        wait_until(lambda: (first.page.url() or "").startswith(host.url), timeout=20,
                   what="the running window to open the other host's room")
        assert "another launch asked for the room" in first.log()
        # The running app's own server is untouched: still the lobby, on loopback.
        room = httpx.get(f"http://127.0.0.1:{first.app_port}/api/room", timeout=10).json()
        assert room["hosting"] is False
    finally:
        host.stop()


def test_a_damaged_history_shows_an_error_dialog_naming_the_log(tmp_path: Path,
                                                                xvfb: Xvfb) -> None:
    """A real input the app accepts: a data folder whose history file is not a database."""
    need_tool("/usr/bin/import", "imagemagick")
    home = tmp_path / "home"
    (home / "chat-data").mkdir(parents=True)
    (home / "chat-data" / "history.sqlite3").write_bytes(b"not a database " * 400)
    app = DesktopApp(home, xvfb.display)
    try:
        dialog = wait_until(lambda: subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", "something went wrong"],
            env={**os.environ, "DISPLAY": xvfb.display}, capture_output=True, text=True,
            timeout=15).stdout.split(), timeout=60, what="the error dialog")
        time.sleep(0.5)  # let it paint before the screenshot
        shot = xvfb.screenshot(artifact_path("desktop-error-dialog.png"))
        assert shot.stat().st_size > 0
        log = app.log()
        assert "showing the error dialog" in log
        assert "file is not a database" in log
        assert str(app.log_path) in app.output()  # the dialog's text, also printed
        assert app.proc.poll() is None, "the app vanished instead of showing the dialog"
        # The person reads it and presses Enter: then the app ends, with a failure status.
        subprocess.run(["xdotool", "windowfocus", "--sync", dialog[0], "key", "Return"],
                       env={**os.environ, "DISPLAY": xvfb.display}, timeout=15, check=False)
        assert app.proc.wait(20) == 1, app.output()
    finally:
        app.stop()


# The hand-over itself, without a window --------------------------------------------------------

def test_one_claim_per_user_folder_and_later_launches_reach_its_holder(tmp_path: Path) -> None:
    from desktop.instance import ADDRESS_FILE, claim, hand_over

    first = claim(tmp_path)
    assert first is not None
    try:
        assert claim(tmp_path) is None  # the lock is held: a second launch cannot claim
        assert (tmp_path / ADDRESS_FILE).stat().st_mode & 0o077 == 0  # the key is private
        got: list[str | None] = []
        assert hand_over(tmp_path, "http://127.0.0.1:9/", timeout=5)  # before a window exists
        first.set_handler(got.append)  # ...is replayed once it does
        assert hand_over(tmp_path, None, timeout=5)
        wait_until(lambda: got == ["http://127.0.0.1:9/", None], timeout=5,
                   what="both requests")
    finally:
        first.stop()
    again = claim(tmp_path)  # released: the next launch is the one app
    assert again is not None
    again.stop()


def test_a_request_without_the_key_or_for_a_non_web_address_is_refused(tmp_path: Path) -> None:
    import json
    import socket

    from desktop.instance import ADDRESS_FILE, claim, hand_over

    first = claim(tmp_path)
    assert first is not None
    got: list[str | None] = []
    first.set_handler(got.append)
    try:
        port = json.loads((tmp_path / ADDRESS_FILE).read_text())["port"]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.recv(100)  # the challenge
            conn.sendall(json.dumps({"request": '{"join": null}', "proof": "0" * 64}).encode()
                         + b"\n")
            assert conn.recv(100) == b"", "a wrong proof was answered"
        assert not hand_over(tmp_path, "file:///etc/passwd", timeout=1)
        assert not hand_over(tmp_path, "javascript:alert(1)", timeout=1)
        assert hand_over(tmp_path, None, timeout=5)  # the listener survived all that
        wait_until(lambda: got == [None], timeout=5, what="the good request")
    finally:
        first.stop()


@pytest.mark.parametrize(("platform", "kind"), [("linux", "qt"), ("win32", "win32"),
                                                ("darwin", "osascript")])
def test_each_system_has_its_error_dialog(platform: str, kind: str) -> None:
    from desktop.crash import CrashReporter, dialog_kind, message_text

    assert dialog_kind(platform) == kind
    assert CrashReporter(None, platform).kind == kind
    text = message_text("LAN Chat hit an unexpected error.", ValueError("bad thing"),
                        Path("/somewhere/lanchat.log"))
    assert "ValueError: bad thing" in text and "/somewhere/lanchat.log" in text
