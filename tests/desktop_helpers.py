"""Running the real desktop app (``python -m desktop``) as a subprocess, and looking inside it.

Each app runs in its own process (Qt cannot start twice in one) with its own config, log and data
folders, discovery off, and the test-only control endpoint (desktop/testcontrol.py) on a free
loopback port. Whatever a test starts is stopped by PID in its teardown.
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

import httpx

from tests.conftest import ROOT, stop_process, wait_until

EXPECTED_API = {"get_prefs", "set_prefs", "host_room", "set_unread", "notify", "open_external",
                "lobby_url", "hosting_state", "stop_hosting"}


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


def app_env(home: Path, display: str | None, control_port: int | None) -> dict[str, str]:
    """An environment with the app's folders under ``home`` and the chosen display, if any."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "LANCHAT_TEST_CONTROL")}
    env.update({"XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
                "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
                "PYTHONUNBUFFERED": "1"})
    if display is not None:
        env["DISPLAY"] = display
    if control_port is not None:
        env["LANCHAT_TEST_CONTROL"] = str(control_port)
    return env


class DesktopApp:
    """``python -m desktop`` in a subprocess; ``eval``/``state``/``close`` via the control port."""

    def __init__(self, home: Path, display: str | None, *args: str,
                 control: bool = True) -> None:
        self.home = home
        self.control_port = free_port() if control else None
        self.app_port = free_port()
        self.stdout_path = home / "stdout.txt"
        self.stderr_path = home / "stderr.txt"
        home.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "desktop", "--no-discovery", "--port", str(self.app_port),
               "--data-dir", str(home / "chat-data"), *args]
        self.started_at = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=app_env(home, display,
                                                                    self.control_port),
                                         stdout=out, stderr=err, start_new_session=True)
        self.http = httpx.Client(timeout=30)

    @property
    def log_path(self) -> Path:
        return self.home / "state" / "LANChat" / "log" / "lanchat.log"

    def _control(self, method: str, path: str, body: object = None) -> Any:
        assert self.control_port is not None
        r = self.http.request(method, f"http://127.0.0.1:{self.control_port}{path}",
                              json=body)
        data = r.json()
        if r.status_code != 200:
            raise AssertionError(f"control {path} failed: {data}")
        return data

    def state(self) -> dict[str, Any]:
        return dict(self._control("GET", "/state"))

    def try_state(self) -> dict[str, Any] | None:
        try:
            return self.state()
        except httpx.TransportError:
            if self.proc.poll() is not None:
                raise AssertionError(f"the app exited with {self.proc.returncode}: "
                                     f"{self.output()}") from None
            return None

    def eval(self, js: str) -> Any:
        return self._control("POST", "/eval", {"js": js})["result"]

    def wait_loaded(self, timeout: float = 30) -> dict[str, Any]:
        """Wait for the first page load; returns the state with the wall-clock launch time."""
        state: dict[str, Any] = wait_until(
            lambda: (s := self.try_state()) and s.get("first_load_seconds") is not None
            and s.get("url") and s,
            timeout=timeout, what="the window's first page load")
        state["launch_to_loaded"] = time.monotonic() - self.started_at
        return state

    def close(self) -> float:
        """Close the window as a user would; returns seconds until the process ended."""
        t0 = time.monotonic()
        self._control("POST", "/close")
        self.proc.wait(timeout=10)
        return time.monotonic() - t0

    def output(self) -> str:
        return (self.stdout_path.read_text(errors="replace") + "\n"
                + self.stderr_path.read_text(errors="replace"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Teardown: stop the process we started (by its PID) if it is still running."""
        self.http.close()
        stop_process(self.proc)


def js_string(value: str) -> str:
    return json.dumps(value)

