"""Who may talk to a host: room passwords, brute-force brakes, and Host/Origin checks.

Threats on a shared LAN (a café as much as an office): anyone on the Wi-Fi can reach the host, and
any web page open in a browser on the LAN can try to reach it through that browser. So:

- A room may have a password. It is kept only as a salted scrypt hash, checked in constant time,
  and sent only in a POST body; a correct one earns an HttpOnly, SameSite=Strict session cookie
  that every protected route and the WebSocket require. Wrong attempts are slowed per address.
- A Host header that is not an IP address, ``localhost`` or this machine's own name is refused
  (DNS rebinding: a foreign name resolved to a LAN address).
- A request carrying an Origin other than the host itself is refused on the WebSocket and on
  uploads (cross-site WebSocket hijacking, cross-site posts).
- A room outlives its host (a standby takes it over): a page keeps talking to the room's next
  host without reloading. Its policy (connect-src) names the room's successors and former hosts,
  and nothing else, and a host answers CORS for ``/api/`` only to its room's former hosts' pages,
  without credentials: such a page names itself with headers (its client id and the room's
  session token, which a foreign site's page cannot know).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "lanchat_session"
ADMIN_COOKIE = "lanchat_admin"  # an admin session: may moderate
# A random id the host gives each browser on its first page load: a removed person is
# recognised by it whatever name or client id they come back with.
BROWSER_COOKIE = "lanchat_browser"
CLIENT_COOKIE = "lanchat_client"  # set by the page: its client_id, so HTTP routes know who asks
CLIENT_HEADER = "x-lanchat-client"
SESSION_HEADER = "x-lanchat-session"  # the session, from a page another host of the room served
STANDBY_HEADER = "x-lanchat-standby"  # a standby's files token (server/succession.py)
# A host of a room asking another host of it about the room: its own URL (server/rivals.py).
RIVAL_HEADER = "x-lanchat-host"
# ... and a fresh nonce, which the host asked answers with a proof that it holds the room's
# secret (server/rivals.py).
NONCE_HEADER = "x-lanchat-nonce"


class PasswordGate:
    """A room's password, as a hash, and the session tokens it hands out.

    Tokens are ``nonce.mac`` with a MAC keyed by the password's hash and a per-room secret, so
    they outlive a host restart but not a change of password.
    """

    def __init__(self, password: str | None, room_secret: bytes) -> None:
        self.required = bool(password)
        self._salt = secrets.token_bytes(16)
        self._hash = self._derive(password or "")
        self._key = hashlib.sha256(room_secret + hashlib.sha256(
            (password or "").encode()).digest()).digest()

    def _derive(self, password: str) -> bytes:
        return hashlib.scrypt(password.encode(), salt=self._salt, n=2**14, r=8, p=1, dklen=32)

    def check(self, password: str) -> bool:
        return hmac.compare_digest(self._derive(password), self._hash)

    def new_token(self) -> str:
        nonce = secrets.token_hex(16)
        return f"{nonce}.{self._mac(nonce)}"

    def token_ok(self, token: str | None) -> bool:
        if not self.required:
            return True
        if not token or "." not in token or not token.isascii():
            return False  # compare_digest raises on non-ASCII text: a forged cookie, not a 500
        nonce, _, mac = token.partition(".")
        return hmac.compare_digest(mac, self._mac(nonce))

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()


class AttemptLimiter:
    """Wrong passwords per address: a few are free, then each waits twice as long as the last.

    A check takes a hash that runs off the event loop, so answers arrive late: use :meth:`begin`
    and :meth:`end` around it. ``begin`` counts the attempt as wrong before the hash starts and
    lets one check per address run at a time, so a burst of guesses sent at once is braked
    like the same guesses sent one by one."""

    def __init__(self, free_attempts: int = 5, base_delay: float = 1.0,
                 max_delay: float = 300.0) -> None:
        self.free = free_attempts
        self.base = base_delay
        self.max = max_delay
        self._failures: dict[str, tuple[int, float]] = {}  # address -> (count, blocked until)
        self._checking: set[str] = set()

    def begin(self, address: str) -> int:
        """Start one check: 0 when it may run (it is counted as wrong until :meth:`end` says
        otherwise), else the seconds to wait (another check of this address is running, or
        it is braked)."""
        if address in self._checking:
            return 1
        wait = self.retry_after(address)
        if wait:
            return wait
        self._checking.add(address)
        self.failed(address)
        return 0

    def end(self, address: str, right: bool) -> None:
        """Finish a check begun with :meth:`begin`."""
        self._checking.discard(address)
        if right:
            self.succeeded(address)
        elif address in self._failures:  # the wait runs from the answer, not from the question
            self._block(address, self._failures[address][0])

    def retry_after(self, address: str) -> int:
        """Seconds this address must wait before its next try (0: it may try now)."""
        _, until = self._failures.get(address, (0, 0.0))
        return max(0, math.ceil(until - time.monotonic()))

    def failed(self, address: str) -> None:
        count, _ = self._failures.get(address, (0, 0.0))
        self._block(address, count + 1)

    def _block(self, address: str, count: int) -> None:
        delay = 0.0 if count < self.free else min(self.max, self.base * 2 ** (count - self.free))
        self._failures[address] = (count, time.monotonic() + delay)
        if len(self._failures) > 10_000:  # a flood of addresses: forget the oldest
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


def own_host_names() -> set[str]:
    """Names that mean this machine: localhost and its host name, bare and ``.local``."""
    names = {"localhost"}
    for name in (socket.gethostname(), socket.getfqdn()):
        name = name.lower().rstrip(".")
        if name:
            names.add(name)
            short = name.split(".")[0]
            names.update({short, f"{short}.local"})
    return names


def host_allowed(host_header: str, own_names: Iterable[str]) -> bool:
    """True when a Host header names this machine: an IP literal or one of its own names."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [v6]:port
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host in own_names


def same_origin(headers: Any) -> bool:
    """A request with an Origin must come from a page this host served (browsers always send it
    on WebSocket upgrades and cross-site posts); tools without an Origin are let through."""
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def session_token(headers: Any) -> str | None:
    """The room session a request carries: its cookie, or the header a page that followed the
    room from another host sends (its cookies stayed with that host)."""
    token = cookie_value(headers)
    return token if token is not None else headers.get(SESSION_HEADER)


def cookie_value(headers: Any, name: str = SESSION_COOKIE) -> str | None:
    """One cookie's value from a Cookie header, without trusting its format."""
    raw = headers.get("cookie") or ""
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


# The desktop window announces itself with this token in its User-Agent.
DESKTOP_UA_TOKEN = b"LANChatDesktop"


def csp(allow_eval: bool = False, connect: Iterable[str] = ()) -> bytes:
    """The UI's Content-Security-Policy. No inline script anywhere. The desktop window alone
    gets 'unsafe-eval': pywebview builds its JS bridge with ``new Function`` and runs
    ``evaluate_js`` through ``eval``. A client that fakes the token only weakens its own page.
    ``connect``: other origins the page may fetch from (the room's successors and former
    hosts, where the page goes on when the room moves; see :func:`room_origins`)."""
    script = "script-src 'self' 'unsafe-eval'" if allow_eval else "script-src 'self'"
    others = "".join(f" {o}" for o in connect)
    return ("default-src 'self'; " + script + "; style-src 'self'; img-src 'self' data: blob:; "
            f"connect-src 'self' ws: wss:{others}; media-src 'self' blob:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'").encode()


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of an http(s) URL, lower case; None for anything else (so no
    text from elsewhere can add a directive to a policy)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or not _safe_host(host):
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")


def _safe_host(host: str) -> bool:
    return all(c.isalnum() or c in ".-:" for c in host)


def room_origins(app: Any) -> tuple[list[str], set[str]]:
    """What the room served by ``app`` lets pages reach: (origins a page may fetch from, for
    its policy: the successors, then the former hosts; origins whose pages get CORS answers:
    the former hosts). Empty while no room with a succession runs. A standby reading its
    replica out while no host is reachable answers the room's hosts' pages too."""
    state = getattr(app, "state", None)
    room = getattr(state, "room", None)
    if room is None:
        room = getattr(getattr(state, "standby", None), "reader", None)
    hosts = [o for o in map(origin_of, getattr(room, "hosts", None) or []) if o]
    hub = getattr(room, "_hub", None)
    successors = [o for o in map(origin_of, getattr(hub, "successors", None) or []) if o]
    return list(dict.fromkeys(successors + hosts)), set(hosts)


CSP_STRICT = csp()
CSP_DESKTOP = csp(allow_eval=True)
CORS_METHODS = b"GET, POST, PATCH, DELETE"
CORS_HEADERS = f"content-type, upload-offset, {CLIENT_HEADER}, {SESSION_HEADER}".encode()
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-cache"),
]


class HostGuard:
    """Pure ASGI, around the whole app: refuses foreign Host headers (HTTP 421, or a WebSocket
    close before the handshake) and adds the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, extra_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.own_names = own_host_names() | {h.lower() for h in extra_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        if not host_allowed(host, self.own_names):
            await _refuse_host(scope, send, host)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        connect, cors = _room_reach(scope, host)
        desktop = DESKTOP_UA_TOKEN in headers.get(b"user-agent", b"")
        policy = (CSP_DESKTOP if desktop else CSP_STRICT) if not connect else csp(desktop, connect)
        extra = [(b"content-security-policy", policy)]
        origin = headers.get(b"origin", b"").decode("latin-1")
        if path.startswith("/api/") and origin in cors:
            extra += [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
            if scope.get("method") == "OPTIONS" and b"access-control-request-method" in headers:
                await _preflight(send, extra)
                return
        if not path.startswith("/api/") and cookie_value(
                {"cookie": headers.get(b"cookie", b"").decode("latin-1")},
                BROWSER_COOKIE) is None:
            extra.append((b"set-cookie", (f"{BROWSER_COOKIE}={secrets.token_urlsafe(16)}; "
                                          "Path=/; Max-Age=31536000; HttpOnly; "
                                          "SameSite=Strict").encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in present
                ] + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _room_reach(scope: Scope, host: str) -> tuple[list[str], set[str]]:
    """:func:`room_origins` of the app serving ``scope``, without this host's own origins."""
    connect, cors = room_origins(scope.get("app"))
    own = host.lower()

    def other(origin: str) -> bool:
        return origin.partition("://")[2] != own

    return [o for o in connect if other(o)], {o for o in cors if other(o)}


async def _preflight(send: Send, extra: list[tuple[bytes, bytes]]) -> None:
    """The CORS preflight of a page a former host of the room served: what it may send."""
    headers = [(k, v) for k, v in SECURITY_HEADERS] + extra + [
        (b"access-control-allow-methods", CORS_METHODS),
        (b"access-control-allow-headers", CORS_HEADERS),
        (b"access-control-max-age", b"600"), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _refuse_host(scope: Scope, send: Send, host: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4403, "reason": "unknown Host"})
        return
    body = ('{"detail":"this LAN Chat host answers only to its own names and addresses, not '
            + _json_safe(host[:100]) + '"}').encode()
    await send({"type": "http.response.start", "status": 421,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _json_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in ".-:[]" else "?" for c in text)
