"""Hosts as real processes (``python -m server``), for tests that kill, restart or cut them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, OnLoopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HostProcess(OnLoopback):
    """``python -m server`` on loopback with discovery off; started, killed and restarted by PID."""

    def __init__(self, data_dir: Path, port: int | None = None, *args: str) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"host-{self.port}.log"
        self.env: dict[str, str] = {}  # more environment for the host (LD_PRELOAD, say)

    def start(self, timeout: float = 20.0) -> HostProcess:
        cmd = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", str(self.data_dir), "--no-discovery", "--room", "Fault room",
               *self.args]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"host exited with {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"host did not answer within {timeout} s: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()



def log_mentions(host: HostProcess, pattern: str) -> bool:
    return re.search(pattern, host.output()) is not None
