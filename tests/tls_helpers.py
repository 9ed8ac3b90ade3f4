"""TLS for tests: certificates, the fingerprint a host serves, and a man in the middle.

:class:`TlsMitm` is what an attacker on the LAN would run after diverting a host's traffic
(ARP or DNS spoofing): it answers TLS with a certificate of its own, opens TLS to the real host,
and relays the plain bytes both ways, reading all of them. Loopback only.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from pathlib import Path

from server.tls import fingerprint, make_self_signed


def make_cert(folder: Path, name: str) -> tuple[Path, Path]:
    """A fresh self-signed certificate and key, as a host makes on first start."""
    cert, key = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    make_self_signed(cert, key)
    return cert, key


def cert_fingerprint(cert: Path) -> str:
    return fingerprint(ssl.PEM_cert_to_DER_cert(cert.read_text("ascii")))


def client_context() -> ssl.SSLContext:
    """Accepts any certificate: the test compares fingerprints itself."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def served_fingerprint(host: str, port: int) -> str:
    """The SHA-256 of the certificate the server at host:port presents."""
    with socket.create_connection((host, port), timeout=10) as raw, \
            client_context().wrap_socket(raw) as tls:
        return fingerprint(tls.getpeercert(binary_form=True) or b"")


class TlsMitm:
    """A TLS proxy on a free loopback port with its own certificate, in front of
    127.0.0.1:``target_port``; ``seen`` is every plain byte it relayed."""

    def __init__(self, target_port: int, cert: Path, key: Path) -> None:
        self.target_port = target_port
        self.server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.seen = bytearray()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self._spawn(self._accept_loop)

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True,  # type: ignore[arg-type]
                             name="test-mitm")
        t.start()
        self.threads.append(t)

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self._spawn(self._serve, client)

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(10)
            client = self.server.wrap_socket(raw, server_side=True)
            upstream = client_context().wrap_socket(
                socket.create_connection(("127.0.0.1", self.target_port), timeout=10))
        except OSError:  # the victim refused our certificate: nothing to relay
            raw.close()
            return
        self._pump(client, upstream)

    def _pump(self, a: ssl.SSLSocket, b: ssl.SSLSocket) -> None:
        peers = {a: b, b: a}
        try:
            for s in (a, b):
                s.setblocking(False)
            while not self.stopping.is_set():
                ready = [s for s in (a, b) if s.pending()] or \
                    select.select([a, b], [], [], 0.05)[0]
                for s in ready:
                    try:
                        data = s.recv(65536)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        continue
                    if not data:
                        return
                    self.seen += data
                    peers[s].setblocking(True)
                    peers[s].sendall(data)
                    peers[s].setblocking(False)
        except OSError:
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(2)
        self.listener.close()
