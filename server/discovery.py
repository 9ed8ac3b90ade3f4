"""Finding rooms on the LAN: DNS-SD (zeroconf) advertising, browsing, and a liveness probe.

Three parts, all on the running asyncio loop (zeroconf attaches to it, so no thread is started):

- :class:`Advertiser` registers this room as ``_lanchat._tcp.local.`` with TXT properties a lobby
  can show without asking the host anything (room name, version, password, id, UI path, users,
  machine), updates them when the user count changes, and sends the goodbye on close.
- :class:`PeerBrowser` keeps a live registry of the rooms it hears about. zeroconf alone keeps a
  host that crashed or lost its network listed for 18 minutes or more, so every peer's
  ``GET /api/health`` is probed; a peer is listed only while it answers.
- :class:`Discovery` owns one ``AsyncZeroconf`` and the two parts above, decides what to do from
  :class:`~server.settings.Settings`, and reports what it sees for a lobby that must explain an
  empty list.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from zeroconf import (
    BadTypeInNameException,
    IPVersion,
    RecordUpdate,
    RecordUpdateListener,
    ServiceStateChange,
    Zeroconf,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from . import __version__, netinfo
from .settings import Settings

log = logging.getLogger(__name__)

SERVICE_TYPE = "_lanchat._tcp.local."
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_PEERS = 256  # a LAN that advertises more than this is not one we can show in a list anyway
RESOLVE_TIMEOUT_MS = 3000
DNS_TYPE_PTR = 12
FRESH_PROBES = 8  # quick probes of a room just heard of, FRESH_PROBE_GAP seconds apart
FRESH_PROBE_GAP = 0.25
TXT_VALUE_MAX = 200  # bytes; one TXT entry holds at most 255 with its key
SUCCESSOR_WAIT = 0.5  # seconds a host that handed its room over may wait to hear its successor

ChangeKind = Literal["added", "updated", "removed"]
ChangeListener = Callable[[ChangeKind, "Peer"], None]


def _clip_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes without splitting a character."""
    return text.encode()[:limit].decode(errors="ignore")


def instance_name(room: str, machine: str, room_id: str, term: int = 0) -> str:
    """The DNS-SD instance label: readable in any zeroconf browser, at most 63 bytes, no dots,
    and unique by construction: it ends with a piece of the room's random id, and with the
    room's term once handed over, so a room's next host never shares its old host's name (a
    goodbye for that name would take the new host's records out of every cache too)."""
    suffix = f" ({room_id[:6]}-{term})" if term else f" ({room_id[:6]})"
    label = f"{room} on {machine}".replace(".", "-").strip() or "LAN Chat room"
    return _clip_utf8(label, 63 - len(suffix.encode())).strip() + suffix


def should_advertise(settings: Settings) -> bool:
    """Advertise only a room others can reach: hosting, listening beyond loopback (or pinned)."""
    if not (settings.discovery and settings.hosting):
        return False
    return settings.discovery_interfaces is not None or settings.host not in LOOPBACK_HOSTS


def advertised_addresses(settings: Settings) -> list[str]:
    """IPv4 addresses the room is reachable at: the pinned ones, the bound one, or all LAN ones."""
    if settings.discovery_interfaces is not None:
        candidates: Iterable[str] = settings.discovery_interfaces
    elif settings.host in ("0.0.0.0", "", "::"):
        candidates = netinfo.lan_addresses()
    else:
        candidates = [settings.host]
    found: list[str] = []
    for text in candidates:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            continue  # an interface index or name: nothing to put in an A record
        if addr.version == 4 and str(addr) not in found:
            found.append(str(addr))
    return found


@dataclass(frozen=True)
class Peer:
    """One room seen on the LAN, as a lobby shows it."""

    id: str
    name: str
    host: str
    port: int
    path: str
    users: int
    version: str
    password: bool
    machine: str
    service: str  # the DNS-SD instance name it was found under
    addresses: tuple[str, ...]
    is_self: bool = False
    # The SHA-256 of its certificate (TXT ``fp``); "" for a host without TLS (or an old one).
    fingerprint: str = ""
    # How many times the room changed hosts (TXT ``term``; 0 for an old host or a first host):
    # while a room moves, its old and its new host may both be heard, and the higher term wins.
    term: int = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.fingerprint else 'http'}://{host}:{self.port}{self.path}"

    def public(self) -> dict[str, Any]:
        """The JSON a lobby gets for this room (``GET /api/peers``)."""
        return {"id": self.id, "name": self.name, "url": self.url, "host": self.host,
                "port": self.port, "users": self.users, "version": self.version,
                "password": self.password, "machine": self.machine, "self": self.is_self,
                "fingerprint": self.fingerprint or None, "term": self.term}


class Advertiser:
    """This room's DNS-SD registration: ``async_start`` announces, ``async_close`` says goodbye."""

    def __init__(self, azc: AsyncZeroconf, *, room: str, room_id: str, port: int,
                 addresses: list[str], machine: str, users: int = 0, password: bool = False,
                 path: str = "/", version: str = __version__,
                 fingerprint: str | None = None, term: int = 0) -> None:
        self.azc = azc
        self.term = term
        self.room = room
        self.room_id = room_id
        self.port = port
        self.addresses = list(addresses)
        self.machine = machine
        self.users = users
        self.password = password
        self.path = path
        self.version = version
        self.fingerprint = fingerprint
        self.name = f"{instance_name(room, machine, room_id, term)}.{SERVICE_TYPE}"
        self.info: AsyncServiceInfo | None = None

    def _properties(self) -> dict[str, str]:
        return {"txtvers": "1", "room": _clip_utf8(self.room, TXT_VALUE_MAX),
                "version": self.version, "password": "1" if self.password else "0",
                "id": self.room_id, "path": self.path, "users": str(self.users),
                "machine": _clip_utf8(self.machine, TXT_VALUE_MAX),
                # How many times the room was handed over: the lobby shows the highest.
                "term": str(self.term),
                # What a desktop app pins the host's certificate to (absent: no TLS).
                **({"fp": self.fingerprint} if self.fingerprint else {})}

    def _make_info(self) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            SERVICE_TYPE, self.name, port=self.port, properties=self._properties(),
            # A host name of our own, so we never fight the OS responder over "<machine>.local.";
            # with the port in it, so the room's next host (same room id) has a name of its own.
            server=f"lanchat-{self.room_id[:12]}-{self.port}.local.",
            parsed_addresses=self.addresses)

    @property
    def running(self) -> bool:
        return self.info is not None

    async def async_start(self) -> None:
        """Announce the room; returns once the announcements are out.

        No name probing: the instance name carries the room's random id, so it is unique by
        construction, and probing (RFC 6762 section 8.1) would delay the room's appearance on
        the LAN by about 1.2 s of a 3 s budget. A host restarted after a crash reuses its name,
        and its fresh records replace the stale ones in everyone's cache.
        """
        info = self._make_info()
        announcing = await self.azc.async_register_service(info, cooperating_responders=True)
        # Registered: from here on, close must say goodbye.
        self.info = info
        await announcing
        log.info("advertising %r on %s port %d", self.name, ", ".join(self.addresses) or "-",
                 self.port)

    async def async_update(self, *, users: int | None = None,
                           addresses: list[str] | None = None) -> bool:
        """Re-announce when the user count or the addresses changed; True if anything was sent."""
        changed = False
        if users is not None and users != self.users:
            self.users, changed = users, True
        if addresses is not None and addresses != self.addresses:
            self.addresses, changed = list(addresses), True
        if not changed or self.info is None:
            return False
        info = self._make_info()
        await (await self.azc.async_update_service(info))
        self.info = info
        return True

    async def async_close(self) -> None:
        """Send the goodbye and wait until it is out, so browsers drop this room at once."""
        info, self.info = self.info, None
        if info is None:
            return
        with contextlib.suppress(Exception):  # a closing zeroconf: nothing left to tell
            await (await self.azc.async_unregister_service(info))
            log.info("withdrew %r from the LAN", self.name)


@dataclass
class _Entry:
    """What the browser knows of one advertised service, reachable or not."""

    service: str
    peer: Peer
    visible: bool = False
    failures: int = 0
    last_ok: float = 0.0
    probing: bool = False
    heard_at: float = field(default_factory=time.monotonic)  # last announced with new records


@dataclass
class BrowserStatus:
    """Counters a lobby uses to explain an empty list."""

    started_at: float = field(default_factory=time.monotonic)
    advertised: int = 0  # services heard of, reachable or not
    errors: list[str] = field(default_factory=list)


class PeerBrowser:
    """A live registry of LAN Chat rooms: zeroconf finds them, a health probe keeps them honest.

    ``async_start`` begins browsing and probing; ``async_close`` stops both and forgets every peer.
    Listeners get ``("added" | "updated" | "removed", peer)`` for the visible list only, and
    ``async_wait_changed`` lets a stream wait for the next change without polling.
    """

    def __init__(self, azc: AsyncZeroconf, *, self_id: str | None = None,
                 probe_interval: float = 2.0, probe_timeout: float = 1.5,
                 probe_failures: int = 2, max_peers: int = MAX_PEERS) -> None:
        self.azc = azc
        self.self_id = self_id
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.probe_failures = max(1, probe_failures)
        self.max_peers = max_peers
        self.status = BrowserStatus()
        self.version = 0  # bumped on every visible change
        self._entries: dict[str, _Entry] = {}
        self._listeners: list[ChangeListener] = []
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._browser: AsyncServiceBrowser | None = None
        self._announcements = _AnnouncementListener(self._heard)
        self._prober: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._browser is not None

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def async_start(self) -> None:
        """Start browsing ``_lanchat._tcp.local.`` and probing what it finds."""
        if self._browser is not None:
            return
        self._browser = AsyncServiceBrowser(self.azc.zeroconf, SERVICE_TYPE,
                                            handlers=[self._on_service_state_change])
        self.azc.zeroconf.async_add_listener(self._announcements, None)
        self._prober = asyncio.create_task(self._probe_loop(), name="lanchat-peer-probe")
        self.status.started_at = time.monotonic()

    async def async_close(self) -> None:
        """Stop browsing and probing, forget all peers, and wake anyone waiting for a change."""
        self._closed.set()
        self.wake()
        browser, self._browser = self._browser, None
        if browser is not None:
            self.azc.zeroconf.async_remove_listener(self._announcements)
            await browser.async_cancel()
        tasks = [t for t in (self._prober, *self._tasks) if t is not None]
        self._prober = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._entries.clear()

    # -- reading ------------------------------------------------------------------------------

    def peers(self) -> list[Peer]:
        """The rooms that answer right now, one entry per room id, this computer's first, then
        by name.

        A room handed over to another host is heard twice for a moment (the new host announces
        as it starts serving, the old one says goodbye as it closes; a host that crashed stays
        in zeroconf's cache until its probe fails). A lobby must show the room once, at the
        address that serves it: the entry with the highest ``term`` (the new host's), then the
        one announced last."""
        best: dict[str, _Entry] = {}
        for entry in self._entries.values():
            if not entry.visible:
                continue
            held = best.get(entry.peer.id)
            if held is None or (entry.peer.term, entry.heard_at) > (held.peer.term,
                                                                     held.heard_at):
                best[entry.peer.id] = entry
        found = [e.peer for e in best.values()]
        return sorted(found, key=lambda p: (not p.is_self, p.name.casefold(), p.url))

    def urls_of(self, room_id: str) -> list[str]:
        """Every address heard serving ``room_id`` (a split that healed shows two hosts)."""
        return [e.peer.url for e in self._entries.values()
                if e.visible and e.peer.id == room_id]

    def unreachable(self) -> list[dict[str, Any]]:
        """Rooms that are advertised but do not answer: the firewall case a lobby explains."""
        return [{"name": e.peer.name, "addresses": list(e.peer.addresses), "port": e.peer.port}
                for e in self._entries.values() if not e.visible and e.failures > 0]

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def async_wait_changed(self, seen_version: int, timeout: float) -> int:
        """Wait until ``version`` differs from ``seen_version``, the browser closes, or timeout."""
        if self.version != seen_version or self.closed:
            return self.version
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version

    # -- zeroconf events ----------------------------------------------------------------------

    def _on_service_state_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                                 state_change: ServiceStateChange) -> None:
        """zeroconf's callback (on our loop): resolve on add/update, drop on goodbye."""
        if self.closed:
            return
        if state_change is ServiceStateChange.Removed:
            entry = self._entries.pop(name.lower(), None)
            if entry is not None:
                log.info("room %r said goodbye", entry.peer.name)
                self.status.advertised = len(self._entries)
                if entry.visible:
                    self._emit("removed", entry.peer)
            return
        self._spawn(self._resolve(zeroconf, service_type, name), f"lanchat-resolve {name}")

    def _heard(self, name: str) -> None:
        """Any announcement of a room we hid: a host restarted after a crash announces records
        identical to the ones zeroconf still caches, so the browser reports no change; look
        again now rather than at the next probe round."""
        entry = self._entries.get(name.lower())
        if entry is not None and not entry.visible and not entry.probing and not self.closed:
            self._spawn(self._resolve(self.azc.zeroconf, SERVICE_TYPE, entry.service),
                        f"lanchat-recheck {name}")

    async def _resolve(self, zeroconf: Zeroconf, service_type: str, name: str) -> None:
        try:
            info = AsyncServiceInfo(service_type, name)
        except BadTypeInNameException:
            return
        if not await info.async_request(zeroconf, RESOLVE_TIMEOUT_MS):
            log.debug("could not resolve %r", name)
            return
        peer = self._peer_from(info)
        if peer is None or self.closed:
            return
        key = name.lower()
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self.max_peers:
                log.warning("more than %d rooms advertised; ignoring %r", self.max_peers, name)
                return
            entry = _Entry(service=name, peer=peer)
            self._entries[key] = entry
            self.status.advertised = len(self._entries)
        else:
            # Keep the address that answered, if it is still advertised.
            if entry.peer.host in peer.addresses:
                peer = _with_host(peer, entry.peer.host)
            old, entry.peer = entry.peer, peer
            if old != peer:
                entry.heard_at = time.monotonic()
            if entry.visible:
                if old != peer:
                    self._emit("updated", peer)
                return
        # Not listed yet, or hidden after it stopped answering and now announced again (a
        # restart after a crash): list it as soon as it answers, not a probe period later.
        # A host that has just announced itself may still be opening its port: ask quickly.
        for _ in range(FRESH_PROBES):
            if entry.probing:
                await asyncio.sleep(FRESH_PROBE_GAP)
                continue
            await self._probe(entry, fresh=True)
            if entry.visible or self._entries.get(key) is not entry:
                return
            await asyncio.sleep(FRESH_PROBE_GAP)

    def _peer_from(self, info: AsyncServiceInfo) -> Peer | None:
        props = info.decoded_properties
        addresses = tuple(info.parsed_addresses(IPVersion.V4Only))
        if not addresses or not info.port:
            return None
        users, term = _count(props.get("users")), _count(props.get("term"))
        path = props.get("path") or "/"
        if not path.startswith("/"):
            path = "/"
        room_id = props.get("id") or info.name
        machine = props.get("machine") or (info.server or "").removesuffix(".local.")
        # Loopback addresses are a last resort: on another machine they would point at us.
        ordered = sorted(addresses, key=lambda a: ipaddress.ip_address(a).is_loopback)
        fp = (props.get("fp") or "").lower()
        if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
            fp = ""  # not a SHA-256: treat the room as one without TLS rather than trust junk
        return Peer(id=room_id, name=props.get("room") or info.name.split(".")[0],
                    host=ordered[0], port=info.port, path=path, users=users,
                    version=props.get("version") or "?",
                    password=(props.get("password") or "0") == "1", machine=machine,
                    service=info.name, addresses=tuple(ordered),
                    is_self=room_id == self.self_id, fingerprint=fp, term=term)

    # -- liveness -----------------------------------------------------------------------------

    async def _probe_loop(self) -> None:
        # A fixed cadence (start to start), so a probe that times out does not stretch the
        # period: a host that lost its network is hidden after about interval + 2 timeouts.
        loop = asyncio.get_running_loop()
        next_round = loop.time() + self.probe_interval
        while not self.closed:
            await asyncio.sleep(max(0.0, next_round - loop.time()))
            next_round = max(next_round + self.probe_interval, loop.time())
            entries = [e for e in self._entries.values() if not e.probing]
            if entries:
                await asyncio.gather(*(self._probe(e) for e in entries), return_exceptions=True)

    async def _probe(self, entry: _Entry, fresh: bool = False) -> None:
        """GET /api/health on each advertised address until one answers; list or hide the peer."""
        entry.probing = True
        try:
            answered: str | None = None
            candidates = [entry.peer.host, *[a for a in entry.peer.addresses
                                              if a != entry.peer.host]]
            for host in candidates:
                if await self._healthy(host, entry.peer.port, bool(entry.peer.fingerprint)):
                    answered = host
                    break
        finally:
            entry.probing = False
        if self.closed or self._entries.get(entry.service.lower()) is not entry:
            return  # said goodbye while we were asking
        if answered is not None:
            entry.failures = 0
            entry.last_ok = time.monotonic()
            moved = answered != entry.peer.host
            if moved:
                entry.peer = _with_host(entry.peer, answered)
            if not entry.visible:
                entry.visible = True
                log.info("found room %r at %s", entry.peer.name, entry.peer.url)
                self._emit("added", entry.peer)
            elif moved:
                self._emit("updated", entry.peer)
            return
        if not fresh:
            entry.failures += 1
        if entry.visible and entry.failures >= self.probe_failures:
            entry.visible = False
            log.info("room %r stopped answering at %s", entry.peer.name, entry.peer.url)
            self._emit("removed", entry.peer)

    async def _healthy(self, host: str, port: int, tls: bool) -> bool:
        try:
            return await asyncio.wait_for(probe_health(host, port, tls), self.probe_timeout)
        except (OSError, TimeoutError, ValueError, ssl.SSLError):
            return False

    # -- plumbing -----------------------------------------------------------------------------

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("peer lookup failed: %r", task.exception())

    def _emit(self, kind: ChangeKind, peer: Peer) -> None:
        self.version += 1
        for listener in list(self._listeners):
            try:
                listener(kind, peer)
            except Exception:  # one bad listener must not stop discovery
                log.exception("peer listener failed")
        self.wake()

    def wake(self) -> None:
        """Wake everyone in ``async_wait_changed`` (they re-check what they wait for)."""
        self._changed.set()
        self._changed = asyncio.Event()


class _AnnouncementListener(RecordUpdateListener):
    """Calls ``heard(instance name)`` for every unexpired PTR of our service type received."""

    def __init__(self, heard: Callable[[str], None]) -> None:
        super().__init__()
        self.heard = heard

    def async_update_records(self, zc: Zeroconf, now: float, records: list[RecordUpdate]) -> None:
        for update in records:
            record = update.new
            if (record.type == DNS_TYPE_PTR and record.name.lower() == SERVICE_TYPE.lower()
                    and not record.is_expired(now)):
                self.heard(getattr(record, "alias", ""))

    def async_update_records_complete(self) -> None:
        """Nothing to flush: ``heard`` acts per record."""


def _count(text: str | None) -> int:
    """A non-negative whole number from a TXT value; 0 for anything else."""
    try:
        return max(0, int(text or 0))
    except ValueError:
        return 0


def _probe_context() -> ssl.SSLContext:
    """TLS for the liveness probe: it asks only whether the host answers, so the certificate
    is not checked here (the window pins it when someone joins: desktop/pinning.py)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def probe_health(host: str, port: int, tls: bool = False) -> bool:
    """True if ``GET /api/health`` at host:port answers 200 (over TLS with ``tls``).

    A bare HTTP/1.0 request on a fresh connection: nothing to configure (no proxy from the
    environment can get in the way), no log line per probe, and a dead host fails fast."""
    reader, writer = await asyncio.open_connection(
        host, port, ssl=_probe_context() if tls else None)
    try:
        netloc = f"[{host}]" if ":" in host else host
        writer.write(f"GET /api/health HTTP/1.0\r\nHost: {netloc}:{port}\r\n"
                     "Accept: application/json\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = status_line.split(b" ", 2)
    return len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1] == b"200"


def _with_host(peer: Peer, host: str) -> Peer:
    return Peer(**{**peer.__dict__, "host": host})


class Discovery:
    """Everything discovery does for one host: one zeroconf, a browser, and maybe an advertiser.

    Built from settings; ``async_start`` never raises for network trouble (the chat works
    without discovery), it records the error in ``status()`` for the lobby to explain.
    """

    def __init__(self, settings: Settings, *, room_id: str,
                 users: Callable[[], int] = lambda: 0, fingerprint: str | None = None,
                 term: int = 0) -> None:
        self.settings = settings
        self.fingerprint = fingerprint
        self.term = term
        self.room_id = room_id
        self.users = users
        self.azc: AsyncZeroconf | None = None
        self.browser: PeerBrowser | None = None
        self.advertiser: Advertiser | None = None
        self.errors: list[str] = []
        self._watcher: asyncio.Task[None] | None = None
        self._advertising: asyncio.Task[None] | None = None
        self._lan: list[str] = []
        self._stopping = asyncio.Event()

    @property
    def stopping(self) -> bool:
        """True once shutdown began: streams of the peer list end when they see it."""
        return self._stopping.is_set()

    def _interfaces(self) -> list[str] | None:
        pinned = self.settings.discovery_interfaces
        return list(pinned) if pinned is not None else None

    async def async_start(self) -> None:
        """Open zeroconf, browse, and advertise when this host is hosting a reachable room."""
        self._lan = netinfo.lan_addresses()
        interfaces = self._interfaces()
        try:
            if interfaces is None:
                # IPv4 only: the chat's own socket is IPv4, so IPv6 mDNS would only add noise.
                self.azc = AsyncZeroconf(ip_version=IPVersion.V4Only)
            else:
                self.azc = AsyncZeroconf(interfaces=interfaces)
        except Exception as exc:  # noqa: BLE001 - OSError mostly; any failure is explained
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else repr(exc)
            self._error(f"cannot open the mDNS (UDP port 5353) sockets: {detail}")
            return
        self.browser = PeerBrowser(
            self.azc, self_id=self.room_id,
            probe_interval=self.settings.discovery_probe_interval_seconds,
            probe_timeout=self.settings.discovery_probe_timeout_seconds,
            probe_failures=self.settings.discovery_probe_failures)
        await self.browser.async_start()
        if should_advertise(self.settings):
            # In the background: zeroconf's name probing takes about a second, and the server
            # should be listening by the time the announcement makes browsers come asking.
            self._advertising = asyncio.create_task(self._async_advertise(),
                                                    name="lanchat-advertise")
        self._watcher = asyncio.create_task(self._watch(), name="lanchat-discovery-watch")

    async def _async_advertise(self) -> None:
        assert self.azc is not None
        addresses = advertised_addresses(self.settings)
        if not addresses:
            self._error("no LAN address to advertise: this computer is not on a network")
            return
        advertiser = Advertiser(
            self.azc, room=self.settings.room, room_id=self.room_id, port=self.settings.port,
            addresses=addresses, machine=netinfo.machine_name(), users=self._users(),
            password=bool(self.settings.password), fingerprint=self.fingerprint,
            term=self.term)
        self.advertiser = advertiser
        try:
            await advertiser.async_start()
        except Exception as exc:  # noqa: BLE001 - zeroconf raises several kinds; all are reported
            self.advertiser = None
            self._error(f"could not advertise the room: {exc!r}")

    def _users(self) -> int:
        try:
            return int(self.users())
        except Exception:  # noqa: BLE001 - the hub may be gone during shutdown
            return 0

    async def _watch(self) -> None:
        """Keep the advertisement current: user count, and addresses when the network changes."""
        while not self.stopping:
            await asyncio.sleep(self.settings.discovery_check_seconds)
            try:
                await self._check()
            except Exception:  # a hiccup must not end the watch
                log.exception("discovery check failed")

    async def _check(self) -> None:
        lan = netinfo.lan_addresses()
        if lan != self._lan:
            log.info("network changed: %s -> %s", self._lan or "-", lan or "-")
            self._lan = lan
            if self.azc is not None and self._interfaces() is None:
                await self.azc.async_update_interfaces()
        if self.advertiser is not None and self.advertiser.running:
            addresses = advertised_addresses(self.settings)
            await self.advertiser.async_update(users=self._users(),
                                               addresses=addresses or self.advertiser.addresses)

    async def async_begin_shutdown(self, handed_over: bool = False) -> None:
        """Say goodbye now and end peer streams, before the server waits for open connections.

        ``handed_over``: the room goes on at a successor, which announces it as it starts
        serving. Said at once, the goodbye could reach lobbies before that announcement and
        the room would blink out of their lists; so wait until this host hears its successor
        (a higher term for this room id), at most ``SUCCESSOR_WAIT`` seconds."""
        if handed_over:
            heard = await self._async_wait_successor(SUCCESSOR_WAIT)
            log.info("successor %s before the goodbye", "heard" if heard else "not heard")
        self._stopping.set()
        if self.browser is not None:
            self.browser.wake()
        if self._advertising is not None:
            self._advertising.cancel()
            await asyncio.gather(self._advertising, return_exceptions=True)
            self._advertising = None
        if self.advertiser is not None:
            await self.advertiser.async_close()

    async def _async_wait_successor(self, timeout: float) -> bool:
        """True once the browser lists this room served with a higher term than ours."""
        browser = self.browser
        if browser is None or self.advertiser is None or not self.advertiser.running:
            return False
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(p.id == self.room_id and p.term > self.term for p in browser.peers()):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or browser.closed:
                return False
            await browser.async_wait_changed(browser.version, left)
        return True

    async def async_close(self) -> None:
        """Goodbye first (browsers drop us at once), then the browser, then zeroconf itself."""
        await self.async_begin_shutdown()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        self.advertiser = None
        if self.browser is not None:
            await self.browser.async_close()
        if self.azc is not None:
            await self.azc.async_close()
            self.azc = None

    def hosts_of(self, room_id: str) -> list[str]:
        """The base URLs the LAN hears serving ``room_id``."""
        return self.browser.urls_of(room_id) if self.browser is not None else []

    def peers(self) -> list[Peer]:
        return self.browser.peers() if self.browser is not None else []

    def status(self) -> dict[str, Any]:
        """Why the list looks the way it does, for the lobby and for bug reports."""
        browser = self.browser
        pinned = self._interfaces()
        advertised_rooms = browser.status.advertised if browser else 0
        unreachable = browser.unreachable() if browser else []
        browsing_for = time.monotonic() - browser.status.started_at if browser else 0.0
        return {
            "enabled": True,
            "interfaces": pinned if pinned is not None else self._lan,
            "pinned": pinned is not None,
            "lan": bool(self._lan),
            "browsing": bool(browser and browser.running),
            "advertising": self.advertiser is not None and self.advertiser.running,
            "advertised_as": self.advertiser.name if self.advertiser else None,
            "advertised_addresses": self.advertiser.addresses if self.advertiser else [],
            "rooms_heard": advertised_rooms,
            "unreachable": unreachable,
            "errors": list(self.errors),
            **hints_fields(self._hints(unreachable, browsing_for)),
        }

    def _hints(self, unreachable: list[dict[str, Any]],
               browsing_for: float) -> list[tuple[str, str]]:
        """(code, sentence) pairs: the lobby words each code in its own language."""
        hints: list[tuple[str, str]] = []
        if self.errors:
            hints.append(("broken", "Room discovery is not working on this computer (see errors). "
                          "You can still join a room by typing its address."))
        if not self._lan and self._interfaces() is None:
            hints.append(("no_lan", "This computer has no LAN connection. Connect to the same "
                          "Wi-Fi or wired network as the others, then wait a few seconds."))
        if unreachable:
            hints.append(("unreachable", f"{len(unreachable)} room(s) were found but do not "
                          "answer: a firewall on their computer may block LAN Chat's port."))
        if self.browser is not None and not self.peers() and browsing_for > 5 and not unreachable:
            hints.append(("none_found", "No rooms found yet. If someone is hosting, the network "
                          "may block multicast (mDNS, UDP port 5353), for example guest Wi-Fi "
                          "with client isolation, or a firewall. Ask the host for the room's "
                          "address (or QR code) and type it in."))
        return hints

    def _error(self, message: str) -> None:
        log.warning("discovery: %s", message)
        self.errors.append(message)


def disabled_status() -> dict[str, Any]:
    """``status`` when discovery is turned off (``--no-discovery``)."""
    return {"enabled": False, "interfaces": [], "pinned": False,
            "lan": bool(netinfo.lan_addresses()),
            "browsing": False, "advertising": False,
            "advertised_as": None, "advertised_addresses": [], "rooms_heard": 0,
            "unreachable": [], "errors": [],
            **hints_fields([("off", "Room discovery is turned off on this host. "
                                     "Type a room's address to join.")])}


def hints_fields(hints: list[tuple[str, str]]) -> dict[str, list[str]]:
    """``hints`` (English sentences, as before) and ``hint_codes`` (the same, one code each, for
    a UI that says them in the person's language)."""
    return {"hints": [text for _, text in hints], "hint_codes": [code for code, _ in hints]}
