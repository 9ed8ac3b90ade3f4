"""One app at a time: a second launch hands its request to the running app and exits.

The first windowed launch takes a per-user lock (a file in the user's config folder, held for
the process's life with ``flock`` or ``msvcrt.locking``; the system releases it when the process
dies, however it dies) and listens on a loopback port for requests from later launches. It
writes the port and a fresh random key into ``instance.json`` (readable by that user only).

A later launch fails to take the lock, reads the file, proves it knows the key (an HMAC of a
nonce the running app sends, so the key never crosses the socket) and sends one JSON request:
``{"join": URL or null}``. The running app brings its window forward, or opens that room in it.
Nothing else can be asked, and the request is checked again by the receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from server.paths import private_folder

log = logging.getLogger(__name__)

LOCK_FILE = "instance.lock"
ADDRESS_FILE = "instance.json"
MAX_REQUEST = 4096
NONCE_BYTES = 32
IO_TIMEOUT = 2.0
Handler = Callable[[str | None], None]


def _try_lock(f: IO[bytes]) -> bool:
    """Lock the open file for this process without waiting; False if another process has it."""
    try:
        if sys.platform == "win32":
            import msvcrt
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _proof(key: bytes, nonce: bytes, body: bytes) -> str:
    return hmac.new(key, nonce + body, hashlib.sha256).hexdigest()


def _read_line(conn: socket.socket, limit: int = MAX_REQUEST) -> bytes:
    """One ``\\n``-terminated line of at most ``limit`` bytes (ValueError beyond that)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(limit + 1 - len(data))
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ValueError("request too long")
    return data.rstrip(b"\n")


class PrimaryInstance:
    """The running app's side: holds the lock and answers later launches."""

    def __init__(self, folder: Path, lock: IO[bytes]) -> None:
        self._folder = folder
        self._lock_file = lock
        self._key = secrets.token_bytes(32)
        self._handler: Handler | None = None
        self._pending: list[str | None] = []
        self._mutex = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._publish(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name="lanchat-instance",
                                        daemon=True)
        self._thread.start()

    def _publish(self, port: int) -> None:
        path = self._folder / ADDRESS_FILE
        tmp = path.with_suffix(".tmp")  # the key must never be readable by others, even briefly
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"port": port, "key": self._key.hex(), "pid": os.getpid()}, f)
        os.replace(tmp, path)

    def set_handler(self, handler: Handler) -> None:
        """Who acts on requests (the window, once it exists); earlier ones are replayed."""
        with self._mutex:
            self._handler = handler
            pending, self._pending = self._pending, []
        for join in pending:
            handler(join)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            with conn:
                conn.settimeout(IO_TIMEOUT)
                try:
                    join = self._answer(conn)
                except (OSError, ValueError) as exc:
                    log.warning("refused a request from another launch: %s", exc)
                    continue
            self._dispatch(join)

    def _answer(self, conn: socket.socket) -> str | None:
        """Challenge, check the proof and the request, acknowledge; returns the join URL."""
        from .bridge import safe_external_url

        nonce = secrets.token_bytes(NONCE_BYTES)
        conn.sendall(nonce.hex().encode() + b"\n")
        message = json.loads(_read_line(conn))
        body = str(message.get("request", "")).encode()
        if not hmac.compare_digest(_proof(self._key, nonce, body), str(message.get("proof"))):
            raise ValueError("wrong proof")
        request = json.loads(body)
        join = request.get("join")
        if join is not None and safe_external_url(join) is None:
            raise ValueError("not an http(s) address")
        conn.sendall(b'{"ok": true}\n')
        return join if isinstance(join, str) else None

    def _dispatch(self, join: str | None) -> None:
        with self._mutex:
            handler = self._handler
            if handler is None:
                self._pending.append(join)
                return
        log.info("another launch asked for %s", f"the room {join}" if join else "the window")
        try:
            handler(join)
        except Exception:  # a failed request must not stop the listener
            log.exception("could not act on another launch's request")

    def stop(self) -> None:
        """Stop answering and give the lock up (the next launch becomes the one app); a
        second call does nothing."""
        if self._lock_file.closed:
            return
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone may not
        except OSError:
            pass
        self._listener.close()
        self._thread.join(2)
        (self._folder / ADDRESS_FILE).unlink(missing_ok=True)
        self._lock_file.close()


def claim(folder: Path) -> PrimaryInstance | None:
    """Become the one running app (None when another process already is)."""
    private_folder(folder)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    lock = os.fdopen(fd, "r+b")  # held for the process's life
    if not _try_lock(lock):
        lock.close()
        return None
    try:
        return PrimaryInstance(folder, lock)
    except BaseException:
        lock.close()
        raise


def _send(address: dict[str, Any], body: bytes) -> bool:
    with socket.create_connection(("127.0.0.1", int(address["port"])), IO_TIMEOUT) as conn:
        conn.settimeout(IO_TIMEOUT)
        nonce = bytes.fromhex(_read_line(conn, 2 * NONCE_BYTES + 1).decode())
        proof = _proof(bytes.fromhex(address["key"]), nonce, body)
        message = json.dumps({"request": body.decode(), "proof": proof}).encode()
        conn.sendall(message + b"\n")
        return bool(json.loads(_read_line(conn)).get("ok"))


def hand_over(folder: Path, join: str | None, timeout: float = 10.0) -> bool:
    """Ask the running app to come forward (or open ``join``); True once it acknowledged.

    Tries until ``timeout``: the running app may be starting and not have published its
    address yet, or the file may still be a dead run's.
    """
    body = json.dumps({"join": join}).encode()
    deadline = time.monotonic() + timeout
    while True:
        try:
            address = json.loads((folder / ADDRESS_FILE).read_text(encoding="utf-8"))
            if _send(address, body):
                return True
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("the running app did not answer yet: %s", exc)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
