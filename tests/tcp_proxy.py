"""A loopback TCP proxy the test controls: cut every connection, or silently stop forwarding."""

from __future__ import annotations

import select
import socket
import struct
import threading


class Proxy:
    """Listens on a free loopback port and forwards each connection to ``target_port``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self._spawn(self._accept_loop)

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name="test-proxy")  # type: ignore[arg-type]
        t.start()
        self.threads.append(t)

    def _accept_loop(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.pairs.append((client, upstream))
            self._spawn(self._pump, client, upstream)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self.stopping.is_set():
                if not self.forwarding.is_set():  # black hole: hold the sockets, move nothing
                    self.stopping.wait(0.05)
                    continue
                ready, _, _ = select.select([a, b], [], [], 0.05)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """Reset every proxied connection at once, as a dropped Wi-Fi link or a crash would."""
        for pair in self.pairs:
            for s in pair:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.pairs.clear()

    def blackhole(self) -> None:
        """Stop forwarding without closing anything: both ends now hold a half-open link."""
        self.forwarding.clear()

    def close(self) -> None:
        self.stopping.set()
        self.cut()
        self.listener.close()
        for t in self.threads:
            t.join(5)
