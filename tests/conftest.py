"""Shared fixtures: real hosts on free loopback ports, real clients, artifacts, leak checks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from server.runner import ServerThread
from server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def artifact_path(name: str) -> Path:
    """Where a test keeps a screenshot or log; the folder is git-ignored."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    print(f"\nartifact: {path}")
    return path


def need_tool(path: str | None, what: str) -> None:
    """Skip when a system tool is missing, except in CI, where a missing tool is a failure."""
    if path and Path(path).exists():
        return
    message = f"{what} is not installed (run the README's test command as root to install it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def wait_until(cond: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
               what: str = "condition") -> Any:
    """Poll ``cond`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def test_settings(data_dir: Path, **changes: Any) -> Settings:
    base = Settings(room="Test room", host="127.0.0.1", port=0, data_dir=data_dir,
                    discovery=False, leave_grace_seconds=0.0)
    return base.with_(**changes)


class OnLoopback:
    """Something serving LAN Chat on 127.0.0.1 at ``self.port``: its page and chat URLs."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


class Host(OnLoopback):
    """A real uvicorn host on a free loopback port, restartable on the same data directory."""

    def __init__(self, data_dir: Path, **changes: Any) -> None:
        self.data_dir = data_dir
        self.changes = changes
        self.thread: ServerThread | None = None
        self.port = 0

    def start(self, **more: Any) -> Host:
        settings = test_settings(self.data_dir, **{**self.changes, **more})
        if self.port:
            settings = settings.with_(port=self.port)
        self.thread = ServerThread(settings).start()
        self.port = self.thread.port
        return self

    def stop(self) -> None:
        """Stop as an outage or restart would look to clients (no closing announcement)."""
        if self.thread is not None:
            self.thread.stop()
            self.thread = None

    def close_room(self) -> None:
        """Stop as the person hosting closes the room: clients are told it closed."""
        if self.thread is not None:
            self.thread.stop(closing_room=True)
            self.thread = None

    @property
    def app(self) -> Any:
        assert self.thread is not None
        return self.thread.app

class Chatter:
    """A real WebSocket client speaking the chat protocol."""

    def __init__(self, host: Host, name: str, client_id: str | None = None,
                 since: int | None = None, **connect_kw: Any) -> None:
        self.client_id = client_id or str(uuid.uuid4())
        # Entered as a context manager: websockets deprecates using connect() bare.
        self.ws: ClientConnection = connect(host.ws_url, open_timeout=10,
                                            **connect_kw).__enter__()
        self.ws.send(json.dumps({"type": "hello", "name": name, "client_id": self.client_id,
                                 "since": since}))
        self.welcome = self.recv_type("welcome")
        self.me = self.welcome["you"]

    def send(self, **frame: Any) -> None:
        self.ws.send(json.dumps(frame))

    def say(self, text: str, **extra: Any) -> str:
        cmid = extra.pop("client_msg_id", None) or str(uuid.uuid4())
        self.send(type="message", text=text, client_msg_id=cmid, **extra)
        return cmid

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=timeout))

    def recv_type(self, kind: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} event matching {match} within {timeout} s")
            event = self.recv(left)
            if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    h = Host(tmp_path / "data").start()
    yield h
    h.stop()


@pytest.fixture
def make_host(tmp_path: Path) -> Iterator[Callable[..., Host]]:
    started: list[Host] = []

    def make(**changes: Any) -> Host:
        h = Host(tmp_path / f"data{len(started)}", **changes).start()
        started.append(h)
        return h

    yield make
    for h in started:
        h.stop()


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Fail a test that leaves a thread of its own running (hosts, zeroconf, watchers)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()
                 and not t.daemon or (t not in before and t.name.startswith("lanchat"))]
        extra = [t for t in extra if t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"threads left running: {[t.name for t in extra]}"


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a process this test started (by its PID): SIGTERM, then SIGKILL after ``grace``."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


@pytest.fixture(scope="module")
def xvfb() -> Iterator[Any]:
    """A private virtual X screen for a module's window tests."""
    from tests.desktop_helpers import Xvfb

    need_tool(shutil.which("xvfb-run"), "xvfb")
    binary = shutil.which("Xvfb")
    need_tool(binary, "xvfb")
    screen = Xvfb(str(binary))
    yield screen
    screen.stop()


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")
