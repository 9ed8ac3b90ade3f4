"""Small shared helpers: child processes, clocks, percentiles, the file-descriptor limit."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def raise_nofile(wanted: int = 65536) -> int:
    """Lift the soft open-file limit toward ``wanted`` (never above the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (nan when empty)."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return float(sorted_values[k])


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def rss(proc: psutil.Process) -> int:
    return int(proc.memory_info().rss)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Child:
    """A child process we started: read its first line with a deadline, stop it by its PID."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None,
                 cwd: Path = ROOT) -> None:
        self.popen = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=None,
                                      env=env)
        self.ps = psutil.Process(self.popen.pid)

    def read_line(self, prefix: str, timeout: float = 20.0) -> str:
        """The first stdout line starting with ``prefix``, or fail after ``timeout``."""
        assert self.popen.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.popen.stdout.fileno()
        os.set_blocking(fd, False)
        buf = b""
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.popen.args!r} exited with {self.popen.returncode}")
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = b""
            if chunk:
                buf += chunk
                for line in buf.decode(errors="replace").splitlines():
                    if line.startswith(prefix):
                        return line[len(prefix):].strip()
            time.sleep(0.002)
        raise TimeoutError(f"no {prefix!r} line from {self.popen.args!r} within {timeout} s")

    def stop(self, timeout: float = 5.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        if self.popen.stdout:
            self.popen.stdout.close()


def python() -> str:
    return sys.executable
