"""Smoke-test the built executables as a user runs them, on any system: what CI runs after
``build.py`` on Linux, Windows and macOS (.github/workflows/build.yml), and what
tests/test_packaging.py runs against the Linux build.

    python build_scripts/smoke.py [--dist DIR] [--app PATH] [--host PATH]

Checks: ``--version`` of both executables (the windowed app on Windows has no console, so
there only its exit status counts); then each of them serving a room (the app with
``--headless``): two WebSocket clients chat, a file goes up and comes back byte for byte.
Every run uses --no-discovery, 127.0.0.1, a free port, and its own data and user folders.
Needs only the standard library and ``websockets`` (one of the app's own dependencies).
Exits non-zero with the reason on the first failure; prints how long each took to answer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from build import products  # noqa: E402 - needs HERE on the path first

from server import __version__  # noqa: E402

WINDOWS = sys.platform.startswith("win")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user_env(home: Path) -> dict[str, str]:
    """The executables' user folders inside ``home`` on every system (platformdirs reads
    these), so a smoke test never touches the real user's data."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({"HOME": str(home), "USERPROFILE": str(home), "APPDATA": str(home / "roaming"),
                "LOCALAPPDATA": str(home / "local"), "XDG_CONFIG_HOME": str(home / "config"),
                "XDG_DATA_HOME": str(home / "data"), "XDG_STATE_HOME": str(home / "state"),
                "XDG_CACHE_HOME": str(home / "cache"), "PYTHONUNBUFFERED": "1"})
    for key in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(key, None)
    return env


def check_version(exe: Path, has_console: bool, home: Path) -> None:
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120,
                         env=user_env(home))
    if out.returncode != 0:
        raise SystemExit(f"{exe} --version exited {out.returncode}: {out.stderr[-2000:]}")
    if has_console and out.stdout.strip() != f"LAN Chat {__version__}":
        raise SystemExit(f"{exe} --version printed {out.stdout!r}")
    print(f"ok: {exe.name} --version")


def wait_answering(proc: subprocess.Popen[bytes], port: int, timeout: float = 60) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"no answer on port {port} within {timeout} s")


def upload(port: int, name: str, payload: bytes) -> str:
    """POST a file as the page does (multipart/form-data); returns its id."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + payload + \
        f"\r\n--{boundary}--\r\n".encode()
    kind = f"multipart/form-data; boundary={boundary}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/files", data=body,
                                     method="POST", headers={"Content-Type": kind})
    with urllib.request.urlopen(request, timeout=60) as r:
        return str(json.loads(r.read())["id"])


def chat_and_share(port: int) -> None:
    """Two people chat; one shares a file, which comes back unchanged."""
    from websockets.sync.client import connect

    def join(name: str):  # type: ignore[no-untyped-def]
        ws = connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10)
        ws.send(json.dumps({"type": "hello", "name": name, "client_id": str(uuid.uuid4())}))
        wait_for(ws, "welcome")
        return ws

    def wait_for(ws, kind: str, **match: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            event = json.loads(ws.recv(timeout=deadline - time.monotonic()))
            if event.get("type") == kind and all(event.get(k) == v for k, v in match.items()):
                return dict(event)
        raise SystemExit(f"no {kind} event {match}")

    ann, bob = join("Ann"), join("Bob")
    try:
        ann.send(json.dumps({"type": "message", "text": "hello", "client_msg_id": "m1"}))
        wait_for(bob, "message", text="hello")
        payload = os.urandom(200_000) + "résumé ✓".encode()
        file_id = upload(port, "notes.bin", payload)
        ann.send(json.dumps({"type": "message", "text": "a file", "client_msg_id": "m2",
                             "file_id": file_id}))
        wait_for(bob, "message", text="a file")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/files/{file_id}",
                                    timeout=60) as r:
            back = r.read()
        if hashlib.sha256(back).digest() != hashlib.sha256(payload).digest():
            raise SystemExit("the file came back changed")
    finally:
        ann.close()
        bob.close()


def serve_and_chat(exe: Path, args: list[str], home: Path) -> None:
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    cmd = [str(exe), *args, "--no-discovery", "--port", str(port),
           "--data-dir", str(home / "chat-data")]
    log = open(home / "output.txt", "wb")  # closed in the finally below
    proc = subprocess.Popen(cmd, env=user_env(home), stdout=log, stderr=subprocess.STDOUT)
    try:
        seconds = wait_answering(proc, port)
        chat_and_share(port)
        print(f"ok: {exe.name} {' '.join(args)}: answered {seconds:.2f} s after start; "
              "chat and file round trip")
    except BaseException:
        log.flush()
        print((home / "output.txt").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        log.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Smoke-test LAN Chat's built executables.")
    p.add_argument("--dist", type=Path, default=HERE.parent / "dist")
    p.add_argument("--app", type=Path, default=None, help="the app's executable")
    p.add_argument("--host", type=Path, default=None, help="the one-file host")
    args = p.parse_args(argv)
    where = products(args.dist.resolve())
    app, host = args.app or where["app"], args.host or where["host"]
    with tempfile.TemporaryDirectory(prefix="lanchat-smoke-") as tmp:
        root = Path(tmp)
        for i, (exe, console) in enumerate([(host, True), (app, not WINDOWS)]):
            check_version(exe, console, root / f"v{i}")
        serve_and_chat(app, ["--headless"], root / "app")
        serve_and_chat(host, ["--host", "127.0.0.1"], root / "host")
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
