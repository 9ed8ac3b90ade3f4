"""Every TCP connection a host accepts, bounded before any route sees it.

An unauthenticated stranger on the LAN can hold a host's connections without ever finishing a
request: an endless header, a thousand idle sockets, half-sent bodies. Routes cannot stop that,
since uvicorn calls them only once a request's head has fully arrived. So the bounds live in the
HTTP protocol object uvicorn makes for each connection (the WebSocket handshake passes through it
too, before the connection turns into a WebSocket):

- a request head larger than ``max_header_bytes`` gets ``431`` (h11's own limit; the httptools
  parser has none and spent CPU quadratic in a header's length);
- a request head not complete ``header_timeout_seconds`` after its first byte (or after the
  connection opened) gets ``408``, or a silent close when nothing at all arrived;
- a request body that sends nothing for ``body_idle_timeout_seconds`` gets ``408`` and the route
  sees a disconnect (an upload then removes its ``.part`` file);
- one address may hold ``max_open_connections_per_address`` connections (HTTP, event streams and
  WebSockets alike, for their whole life); more get ``429``;
- all addresses together stay below the process's open-file limit, so accepting never fails
  with "too many open files" (which locks every visitor out): past it, ``503``.
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import json
import logging
import math
import re
import ssl
from asyncio import sslproto
from typing import Any, cast

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .settings import Settings

try:
    import resource
except ImportError:  # Windows: the C runtime's limit is not raised this way
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# Descriptors kept free for everything but client sockets: the history, uploads, downloads,
# zeroconf, the desktop window's own pipes.
RESERVED_DESCRIPTORS = 128
# A refused connection stays half-open this long so the client can read why before it closes;
# past this many refused connections at once, the rest are closed at once.
REFUSAL_LINGER_SECONDS = 1.0
MAX_LINGERING = 64
# Requests (a WebSocket's handshake is one) begun in one turn of the event loop; the rest wait
# for the next turn. A crowd connecting at once otherwise puts all its handshakes, and then all
# its hellos, in the same turn, and every ping and message waits behind them all.
REQUESTS_PER_TURN = 8


def raise_open_file_limit() -> int | None:
    """Lift the soft open-file limit to the hard one (desktops often start at 1,024, too few for
    a busy room). Returns the limit now in force, or None where it cannot be read."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # macOS reports no hard limit but refuses more than its per-process maximum (10,240 or more).
    for target in (hard, 10_240):
        if target != resource.RLIM_INFINITY and target <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            break
        except (ValueError, OSError) as exc:
            log.info("open-file limit not raised to %s: %s", target, exc)
    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def address_key(host: str) -> str:
    """Who a connection counts against: its IPv4 address, or the /64 of an IPv6 one (a single
    machine can pick any address in its /64)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class ConnectionGuard:
    """Open connections of one server, per address and in all. Refused connections are tracked
    apart: they close within a second and must not crowd out anyone else."""

    def __init__(self, per_address: int, total: int) -> None:
        self.per_address = per_address
        self.total = total
        self.admitted = 0
        self.refused = 0  # refused connections not yet closed
        self._owner: dict[int, str | None] = {}  # id(transport) -> its address; None: refused
        self._counts: dict[str, int] = {}

    @classmethod
    def for_settings(cls, settings: Settings) -> ConnectionGuard:
        total = settings.max_open_connections
        limit = raise_open_file_limit()
        if limit is not None:
            total = min(total, max(16, limit - max(RESERVED_DESCRIPTORS, limit // 8)))
        return cls(settings.max_open_connections_per_address, total)

    def admit(self, transport: object, host: str) -> int:
        """Count a new connection; returns 0 when it may stay, else the HTTP status to refuse
        it with. Every connection, refused or not, is released by :meth:`release`."""
        key = address_key(host)
        if self.admitted >= self.total or self._counts.get(key, 0) >= self.per_address:
            self._owner[id(transport)] = None
            self.refused += 1
            return 503 if self.admitted >= self.total else 429
        self._owner[id(transport)] = key
        self._counts[key] = self._counts.get(key, 0) + 1
        self.admitted += 1
        return 0

    def release(self, transport: object) -> None:
        """Forget a closed connection (safe to call more than once)."""
        if id(transport) not in self._owner:
            return
        key = self._owner.pop(id(transport))
        if key is None:
            self.refused -= 1
            return
        self.admitted -= 1
        left = self._counts[key] - 1
        if left:
            self._counts[key] = left
        else:
            del self._counts[key]


class TurnBudget:
    """How many requests may begin in the current turn of the loop. The count goes back to
    zero at the start of the next turn (a callback queued when the first was counted)."""

    def __init__(self, per_turn: int) -> None:
        self.per_turn = per_turn
        self.used = 0

    def take(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Count one request; False when this turn has had its share (wait for the next)."""
        if self.used == 0:
            loop.call_soon(self._next_turn)
        if self.used >= self.per_turn:
            return False
        self.used += 1
        return True

    def _next_turn(self) -> None:
        self.used = 0


class HostConfig(uvicorn.Config):
    """uvicorn's config, carrying one server's guard and limits to its protocol objects.

    With ``tls`` (a server context), every connection first goes through
    :class:`TlsOrPlainProtocol`, which serves TLS and plain HTTP on the one port."""

    def __init__(self, app: Any, settings: Settings, tls: ssl.SSLContext | None = None,
                 **kwargs: Any) -> None:
        # The websockets-sansio protocol: what server/directsend.py writes through.
        super().__init__(app, http=TlsOrPlainProtocol if tls else GuardedH11Protocol,
                         ws=GuardedWebSocketProtocol,
                         h11_max_incomplete_event_size=settings.max_header_bytes, **kwargs)
        self.settings = settings
        self.guard = ConnectionGuard.for_settings(settings)
        self.turns = TurnBudget(REQUESTS_PER_TURN)
        self.tls = tls


def _reply(transport: asyncio.Transport, status: int, detail: str) -> None:
    """Write a whole JSON error response that closes the connection."""
    body = json.dumps({"detail": detail}).encode()
    head = (f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            "content-type: application/json\r\nx-content-type-options: nosniff\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
    transport.write(head + body)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the bounds above: one timer per connection watches the head
    (an absolute deadline) or the body (an idle deadline, reset by every byte)."""

    def __init__(self, config: uvicorn.Config, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        host_config = cast(HostConfig, config)
        self.guard = host_config.guard
        self.turns = host_config.turns
        self.settings = host_config.settings
        self._waiting: bytearray | None = None  # bytes read while this request waits its turn
        self._timer: asyncio.TimerHandle | None = None
        self._timing: str = ""  # "head", "body" or "" (no timer)
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        status = self.guard.admit(transport, self.client[0] if self.client else "?")
        if status:
            self._refuse(status)
        else:
            self._arm("head", self.settings.header_timeout_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.release(self.transport)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped, so the client's request never resets the refusal
        if self._waiting is not None:  # earlier bytes still wait for their turn: keep order
            self._waiting += data
            return
        if self.conn.their_state is h11.IDLE and not self.turns.take(self.loop):
            self._waiting = bytearray(data)
            self.loop.call_soon(self._take_turn)
            return
        super().data_received(data)
        self._watch()

    def _take_turn(self) -> None:
        """A request that waited for a turn of the loop tries again (and may wait again)."""
        data, self._waiting = self._waiting, None
        if data is not None and self._live():
            self.data_received(bytes(data))

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._watch()  # a pipelined request may have begun from what was already read

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm()  # the WebSocket has its own keepalive from here on
        super().handle_websocket_upgrade(event)

    def send_400_response(self, msg: str) -> None:
        """h11 refuses a head over its size limit as a protocol error: say so with 431."""
        if len(self.conn.trailing_data[0]) > self.settings.max_header_bytes:
            kib = self.settings.max_header_bytes // 1024
            self._close_with(431, f"the request's header is larger than this host accepts "
                                  f"({kib} KiB)", head=True)
            return
        super().send_400_response(msg)

    def _live(self) -> bool:
        return not self.transport.is_closing() and self.transport.get_protocol() is self

    def _watch(self) -> None:
        """After each read: time the head, time the body, or stop timing."""
        if not self._live():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._timing != "head":  # the next request on a kept-alive connection began
                self._arm("head", self.settings.header_timeout_seconds)
        elif state is h11.SEND_BODY:
            self._arm("body", self.settings.body_idle_timeout_seconds)
        else:
            self._disarm()

    def _arm(self, timing: str, seconds: float) -> None:
        self._disarm()
        self._timing = timing
        self._timer = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timing = None, ""

    def _expired(self) -> None:
        timing, self._timer, self._timing = self._timing, None, ""
        if not self._live():
            return
        state = self.conn.their_state
        if timing == "head" and state is h11.IDLE:
            if not self.conn.trailing_data[0]:
                self.transport.close()  # nothing was asked: nobody to tell
                return
            self._close_with(408, "the request's header did not arrive within "
                                  f"{self.settings.header_timeout_seconds:g} s", head=True)
        elif timing == "body" and state is h11.SEND_BODY:
            if self.flow.read_paused:  # the route is behind, not the client
                self._arm("body", self.settings.body_idle_timeout_seconds)
                return
            self._close_with(408, "the request's body stopped arriving for "
                                  f"{self.settings.body_idle_timeout_seconds:g} s")

    def _close_with(self, status: int, detail: str, head: bool = False) -> None:
        """Answer ``status`` (unless a response already began) and close; the route, if one
        runs, sees a disconnect. While a head is read, ``self.cycle`` is the previous request's."""
        cycle = None if head else self.cycle
        if cycle is None or not cycle.response_started:
            _reply(self.transport, status, detail)
        if cycle is not None:
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _refuse(self, status: int) -> None:
        self._refused = True
        if status == 503:
            _reply(self.transport, 503, "this host has as many connections open as it can "
                                        "take; try again soon")
        else:
            _reply(self.transport, 429, "too many connections from your address "
                                        f"(limit {self.guard.per_address}); close some and retry")
        if self.guard.refused > MAX_LINGERING:
            self.transport.close()
            return
        self.transport.write_eof()
        self.loop.call_later(REFUSAL_LINGER_SECONDS, self.transport.close)


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol; a connection upgraded from HTTP keeps counting against its
    address until it closes."""

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            cast(HostConfig, self.config).guard.release(self.transport)


TLS_RECORD_HANDSHAKE = 0x16  # the first byte of every TLS ClientHello


def ssl_protocol_class(loop: asyncio.AbstractEventLoop) -> Any:
    """The TLS layer that fits the running loop: uvloop's own (in C) under uvloop, asyncio's
    otherwise. Both take the same arguments and the same already-read bytes."""
    try:
        import uvloop
        import uvloop.loop
    except ImportError:
        return sslproto.SSLProtocol
    if isinstance(loop, uvloop.Loop):
        return uvloop.loop.SSLProtocol  # type: ignore[attr-defined]  # not in its stubs
    return sslproto.SSLProtocol


_SAFE_TARGET = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,1000}")
_SAFE_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


def is_window_address(sockname: Any) -> bool:
    """The connection was made to 127.0.0.1 or ::1, the address the desktop window loads its
    own server from. No packet from another machine can arrive at it (the kernel drops
    loopback destinations from a wire), so what is said on it stays on this machine."""
    try:
        ip = ipaddress.ip_address(str(sockname[0]))
    except (ValueError, TypeError, IndexError):
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip) in ("127.0.0.1", "::1")


class TlsOrPlainProtocol(asyncio.Protocol):
    """Serves TLS and plain HTTP on one port, by the connection's first byte.

    A TLS ClientHello starts with 0x16, an HTTP request with a letter. TLS: the loop's TLS
    protocol (:func:`ssl_protocol_class`) is put between the socket and
    :class:`GuardedH11Protocol`, and fed the bytes already read (``loop.start_tls`` cannot
    take them). Plain HTTP to 127.0.0.1 or ::1 (the
    desktop window, which loads its own server from there) is served as it is: nothing of
    it is on a wire. Plain HTTP to any other address gets only a redirect to the same
    address over https (307 for GET and HEAD, 403 for anything else), never a page of the
    room, so a link typed without "https://" still ends up encrypted.

    Chosen over a second listener on another port: one address to tell people, nothing more
    to firewall, and the redirect knows the exact address the person typed. Until its first
    byte, a connection counts against its address's connection limit and waits at most
    ``header_timeout_seconds``; a TLS handshake must end within the same time.
    """

    def __init__(self, config: uvicorn.Config, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.config = cast(HostConfig, config)
        self.loop = _loop or asyncio.get_event_loop()
        self.inner = GuardedH11Protocol(config, server_state, app_state, _loop)
        self.transport: asyncio.Transport | None = None
        self._head = b""
        self._timer: asyncio.TimerHandle | None = None
        self._decided = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else "?"
        if self.config.guard.admit(transport, self._peer):
            transport.close()  # refused: too many from this address (or in all)
            return
        self._timer = self.loop.call_later(self.config.settings.header_timeout_seconds,
                                           transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        if self.transport is not None:
            self.config.guard.release(self.transport)

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._decided:  # reading a plain request's head, to answer with a redirect
            self._read_head(data)
            return
        self._decided = True
        if data[:1] == bytes([TLS_RECORD_HANDSHAKE]):
            self._begin_tls(transport, data)
        elif is_window_address(transport.get_extra_info("sockname")):
            self._hand_over(transport)
            transport.set_protocol(self.inner)
            self.inner.connection_made(transport)
            self.inner.data_received(data)
        else:
            self._read_head(data)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _hand_over(self, transport: asyncio.Transport) -> None:
        """From here on the connection belongs to the next protocol, which counts it itself."""
        self._stop_timer()
        self.config.guard.release(transport)
        self.transport = None

    def _begin_tls(self, transport: asyncio.Transport, hello: bytes) -> None:
        assert self.config.tls is not None
        handshake = self.loop.create_future()
        # A failed handshake (a scanner, a client that refused the certificate) is no news.
        handshake.add_done_callback(lambda f: f.cancelled() or f.exception())
        tls = ssl_protocol_class(self.loop)(
            self.loop, self.inner, self.config.tls, handshake, server_side=True,
            ssl_handshake_timeout=max(1, math.ceil(self.config.settings.header_timeout_seconds)))
        self._hand_over(transport)
        transport.set_protocol(tls)
        tls.connection_made(transport)
        view = memoryview(hello)
        while view:
            buffer = tls.get_buffer(len(view))
            n = min(len(buffer), len(view))
            buffer[:n] = view[:n]
            tls.buffer_updated(n)
            view = view[n:]

    def _read_head(self, data: bytes) -> None:
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0 and len(self._head) <= self.config.settings.max_header_bytes:
            return
        assert self.transport is not None
        self._stop_timer()
        self.transport.write(plain_refusal(self._head, self.transport))
        self.transport.close()


def plain_refusal(head: bytes, transport: asyncio.BaseTransport) -> bytes:
    """The answer to plain HTTP from the LAN on a TLS port: a redirect to the https address of
    the same page (the Host the person typed, else the address they reached)."""
    lines = head.split(b"\r\n")
    method, _, rest = lines[0].decode("latin-1").partition(" ")
    target = rest.partition(" ")[0]
    host = next((line[5:].decode("latin-1").strip() for line in lines[1:]
                 if line[:5].lower() == b"host:"), "")
    if not _SAFE_HOST.fullmatch(host):
        local = transport.get_extra_info("sockname") or ("127.0.0.1", 0)
        ip = str(local[0])
        host = f"[{ip}]:{local[1]}" if ":" in ip else f"{ip}:{local[1]}"
    if not _SAFE_TARGET.fullmatch(target):
        target = "/"
    location = f"https://{host}{target}"
    if method in ("GET", "HEAD"):
        status, body = 307, (f"This LAN Chat room is encrypted: open {location}\n").encode()
        extra = f"location: {location}\r\n"
    else:
        status, extra = 403, ""
        body = json.dumps({"detail": f"this LAN Chat room takes requests over HTTPS only: "
                                     f"{location}"}).encode()
    kind = "text/plain; charset=utf-8" if status == 307 else "application/json"
    return (f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n{extra}"
            f"content-type: {kind}\r\nx-content-type-options: nosniff\r\n"
            f"cache-control: no-store\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode("latin-1") + (b"" if method == "HEAD" else body)
