"""One hosted room: every long-lived part of a host, owned in one place and free of any web
framework.

A :class:`Room` opens the history, the shared files, the resumable uploads, the password gate
and its attempt limiter, the chat hub and discovery in :meth:`Room.async_start`, and
:meth:`Room.async_close` stops them in the reverse order, awaiting whatever they started. The
HTTP and WebSocket routes (``server/api/``) reach it through one typed dependency; tests and
tools can build one without uvicorn.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from . import __version__, netinfo, protocol
from .discovery import Discovery
from .files import FileStore
from .hub import ChatHub
from .resumable import ResumableUploads
from .rivals import Claim, RivalWatch, asking_host, claim_url, good_nonce, proof
from .security import (
    ADMIN_COOKIE,
    CLIENT_COOKIE,
    CLIENT_HEADER,
    STANDBY_HEADER,
    AttemptLimiter,
    PasswordGate,
    cookie_value,
    same_origin,
    session_token,
)
from .settings import Settings
from .store import HistoryStore
from .succession import Link, Succession
from .tls import Identity, load_identity

log = logging.getLogger(__name__)


class StreamSlots:
    """How many of something are open (the lobby's room-list streams), against a cap, and
    the word that ends them all when the host stops (``ended``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.ended = asyncio.Event()


class RoomNotStarted(RuntimeError):
    """A part of the room was used before :meth:`Room.async_start` or after closing."""


class Room:
    """The room a host serves. Parts exist between ``async_start`` and ``async_close``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: HistoryStore | None = None
        self._files: FileStore | None = None
        self._uploads: ResumableUploads | None = None
        self._hub: ChatHub | None = None
        self._gate: PasswordGate | None = None
        self._admin: PasswordGate | None = None
        self.attempts = AttemptLimiter()
        self.discovery: Discovery | None = None
        self.peer_streams = StreamSlots(settings.max_peer_streams)
        self.qr_codes = netinfo.QrCodes()
        self.identity: Identity | None = None
        self._succession: Succession | None = None
        # Every base URL this room has been served at (``meta`` ``hosts``, replicated): pages
        # from any of them may follow the room here.
        self.hosts: list[str] = []
        # Called once this room stepped down for another host of it that outranks it
        # (server/rivals.py), with that host's URL: the app makes this process its standby.
        self.on_step_down: Callable[[str], None] | None = None
        self.stepped_down: str | None = None
        self._rivals: asyncio.Task[None] | None = None
        self._asked_by: list[str] = []  # hosts that asked about this room, naming themselves

    # Lifecycle ---------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Open the history and files, then start the hub and (when asked) discovery."""
        s = self.settings
        self.identity = load_identity(s)  # made already by the runner; read for its fingerprint
        store = self._store = HistoryStore(s.db_path)
        files = self._files = FileStore(s.files_dir, store, max_bytes=s.max_upload_bytes,
                                        max_total_bytes=s.max_total_upload_bytes,
                                        max_uploads_per_address=s.max_uploads_per_address)
        self._uploads = ResumableUploads(files, s.partial_upload_expire_seconds)
        secret = store.secret()
        self._gate = PasswordGate(s.password, secret)
        self._admin = PasswordGate(s.admin_password, secret + b"/admin")
        hub = self._hub = ChatHub(store, s, self.file_info, files.erase)
        await self._start_succession(store, hub)
        if s.discovery:
            self.discovery = Discovery(s, room_id=store.room_id, users=lambda: len(self.hub.users),
                                       fingerprint=self.fingerprint, term=store.term)
            await self.discovery.async_start()
        self._watch_rivals(store)
        # What exists now (the app, its modules, its routes) lives as long as the room: left
        # out of the cyclic collector's full passes, which otherwise walk it all (about 65,000
        # objects, as many as 200 connections make) each time, holding the loop meanwhile.
        gc.freeze()
        log.info("room %r: %d events in history at %s", s.room, store.last_id, s.data_dir)

    async def _start_succession(self, store: HistoryStore, hub: ChatHub) -> None:
        """The standbys' side of this room, the hosts it has had, and the welcome's fields."""
        s = self.settings
        own = [u.rstrip("/") for u in netinfo.room_urls(s.host, s.port,
                                                        tls=self.identity is not None)]
        try:
            known = [str(u) for u in json.loads(store.meta("hosts") or "[]")]
        except (ValueError, TypeError):
            known = []
        self.hosts = list(dict.fromkeys(known + own))[-MAX_HOSTS:]  # the latest hosts
        if self.hosts != known:
            await store.async_set_meta("hosts", json.dumps(self.hosts))
        gate = self.gate
        hub.session_token = lambda: gate.new_token() if gate.required else None
        self._succession = Succession(store, lambda: hub.people, self._replica_frame,
                                      hub.set_successors)

    def _watch_rivals(self, store: HistoryStore) -> None:
        """Look for another host of this room (a split healed, two successors raced)."""
        watch = RivalWatch(store.room_id, store.secret(), self.fingerprint, self.claim,
                           self._rival_urls, self._step_down)
        self._rivals = asyncio.create_task(watch.run(), name="lanchat-rivals")

    def claim(self) -> Claim:
        """What this host stands on when it meets another host of the room."""
        s, store = self.settings, self.store
        return Claim(store.term, store.last_id,
                     claim_url(netinfo.room_urls(s.host, s.port, tls=self.identity is not None)))

    def _rival_urls(self) -> list[str]:
        """Where else the room may be served: its former hosts, the standbys it has had (one
        cut off may have taken it over), and hosts of its room id on the LAN."""
        urls = [*self.hosts, *self.succession.known, *self._asked_by]
        if self.discovery is not None:
            urls.extend(self.discovery.hosts_of(self.store.room_id))
        return urls

    def asked_by(self, named: str | None, address: str | None) -> None:
        """A request for ``GET /api/room`` named the host that sent it (another host of this
        room looking for rivals): look there too; only its own claim, checked, counts."""
        url = asking_host(named, address)
        if url is not None and url not in self._asked_by:
            self._asked_by = [*self._asked_by, url][-MAX_ASKED:]

    async def _step_down(self, url: str, winner: Claim) -> None:
        """Another host of the room outranks this one: stop storing, send everyone (clients,
        standbys) there, and let the app turn this process into its standby."""
        hub, store, succession = self.hub, self.store, self.succession
        if hub.moving:  # handing the room over already
            return
        hub.moving = True
        await store.async_flush()
        log.warning("room %r: stepping down for %s; this history (term %d, last id %d) "
                    "diverged and is set aside", self.settings.room, url, store.term,
                    store.last_id)
        await hub.async_moved(url, store.room_id, winner.term, diverged=True)
        await succession.async_moved(url)
        if self.discovery is not None:  # the LAN hears the room only from the winner now
            await self.discovery.async_begin_shutdown()
        self.stepped_down = url
        if self.on_step_down is not None:
            self.on_step_down(url)

    async def async_begin_shutdown(self, closing: bool) -> None:
        """The host is stopping: with a standby present the room is handed over first (its
        people are told where it went); the LAN hears goodbye and the peer streams end now,
        and when the room closes for good (``closing``) its people are told so before their
        connections drop."""
        self.peer_streams.ended.set()  # with discovery off nothing else would end them
        moved = await self._hand_over()
        if self.discovery is not None:
            await self.discovery.async_begin_shutdown(handed_over=moved is not None)
        if moved is not None and self._hub is not None:
            await self._hub.async_moved(moved, self.store.room_id, self.store.term + 1)
        elif self._succession is not None and self._succession.uncertain:
            pass  # no closing: clients keep looking (host, successors) for where it went
        elif closing and self._hub is not None:
            if self._succession is not None:
                await self._succession.async_closing()
            await self._hub.async_close_room()

    async def _hand_over(self) -> str | None:
        """Pass the room to the best standby (None: there is none, or none took it)."""
        succession, hub, store = self._succession, self._hub, self._store
        if succession is None or hub is None or store is None or not succession.links:
            return None
        hub.moving = True  # nothing more is stored here
        await store.async_flush()
        url = await succession.async_hand_over(store.term)
        if url is None:
            hub.moving = False
            return None
        await succession.async_moved(url)
        return url

    async def async_close(self) -> None:
        """Stop everything ``async_start`` started, awaiting each part."""
        rivals, self._rivals = self._rivals, None
        if rivals is not None and rivals is not asyncio.current_task():
            rivals.cancel()
            await asyncio.gather(rivals, return_exceptions=True)
        if self.discovery is not None:
            await self.discovery.async_close()  # the LAN hears goodbye first
            self.discovery = None
        if self._hub is not None:
            await self._hub.async_shutdown()
            self._hub = None
        if self._store is not None:
            self._store.close()  # writes what is queued, then closes
            self._store = None
        gc.unfreeze()  # what the room held can be collected again

    # Parts -------------------------------------------------------------------------------

    @property
    def store(self) -> HistoryStore:
        return _started(self._store)

    @property
    def files(self) -> FileStore:
        return _started(self._files)

    @property
    def uploads(self) -> ResumableUploads:
        return _started(self._uploads)

    @property
    def hub(self) -> ChatHub:
        return _started(self._hub)

    @property
    def gate(self) -> PasswordGate:
        return _started(self._gate)

    @property
    def succession(self) -> Succession:
        return _started(self._succession)

    @property
    def admin_gate(self) -> PasswordGate:
        """The admin password (``required`` False: this host has none)."""
        return _started(self._admin)

    # What the routes ask -----------------------------------------------------------------

    def _replica_frame(self, link: Link) -> dict[str, Any]:
        """What a standby must hold to serve this room as this host does: its identity, its
        TLS key, and the settings a successor keeps (the passwords, which the standby has
        proved it knows or may hold, and the limits)."""
        s, store = self.settings, self.store
        identity = None
        if self.identity is not None:
            identity = {"cert_pem": self.identity.cert_file.read_text("ascii"),
                        "key_pem": self.identity.key_file.read_text("ascii")}
        return {"type": "replica", "room_id": store.room_id, "room": s.room,
                "term": store.term, "secret": store.secret().hex(), "hosts": self.hosts,
                "identity": identity, "you": link.url, "files_token": link.token,
                "last_id": store.last_id,
                "settings": {"password_required": bool(s.password), "password": s.password,
                             "admin_password": s.admin_password if s.standby_needs_admin
                             else None,
                             **{k: getattr(s, k) for k in REPLICATED_SETTINGS}}}

    def file_info(self, file_id: str) -> dict[str, Any] | None:
        """A shared file's public record, for a message that attaches it."""
        record = self.files.lookup(file_id)
        return record.public() if record else None

    @property
    def fingerprint(self) -> str | None:
        """The served certificate's fingerprint, or None when the host serves no TLS."""
        return self.identity.fingerprint if self.identity is not None else None

    def same_origin(self, headers: Any) -> bool:
        """A request from a page this host served, or one a former host of this room served
        (a page that followed the room here without reloading)."""
        origin = headers.get("origin")
        return same_origin(headers) or (origin is not None and origin.rstrip("/") in self.hosts)

    def is_member(self, headers: Any) -> bool:
        """The request carries this room's session, as a cookie or (from a page that followed the
        room from another host) a header; or the room needs none."""
        return self.gate.token_ok(session_token(headers))

    def is_standby(self, headers: Any) -> bool:
        """The request comes from one of this room's standbys (fetching a file's bytes)."""
        succession = self._succession
        return succession is not None and succession.holds_token(headers.get(STANDBY_HEADER))

    def is_admin(self, headers: Any) -> bool:
        """The request carries this host's admin session cookie."""
        gate = self.admin_gate
        return gate.required and gate.token_ok(cookie_value(headers, ADMIN_COOKIE))

    def viewer(self, headers: Any) -> str | None:
        """The user id of whoever asks, from the page's client id cookie or header; None when
        neither is usable (then private events and files are simply absent)."""
        return viewer_of(headers)

    def info(self, port: int, member: bool, nonce: str | None = None) -> dict[str, Any]:
        """The body of ``GET /api/room``: what a join page needs; with a ``nonce`` from another
        host of the room, the ``proof`` that this one holds the room's secret."""
        body = self._info(port, member)
        if good_nonce(nonce):
            assert nonce is not None
            body["proof"] = proof(self.store.secret(), nonce, body["room_id"], body["term"],
                                  body["last_id"])
        return body

    def _info(self, port: int, member: bool) -> dict[str, Any]:
        s = self.settings
        return {
            "room": s.room,
            "room_id": self.store.room_id,
            "version": __version__,
            "hosting": s.hosting,
            # The computer's name is for people who know the room's password.
            **({"machine": netinfo.machine_name()} if member else {}),
            "users": len(self.hub.users),
            "password": self.gate.required,
            "member": member,
            "urls": netinfo.room_urls(s.host, port, tls=self.identity is not None),
            # The certificate's SHA-256 (DER, hex) and the digits people compare; null: no TLS.
            "fingerprint": self.fingerprint,
            "safety_code": self.identity.safety_code if self.identity else None,
            "limits": {"max_message_bytes": s.max_message_bytes,
                       "max_upload_bytes": s.max_upload_bytes},
            "term": self.hub.term,
            # With the term, what another host of this room compares itself against.
            "last_id": self.store.last_id,
            "successors": self.hub.successors,
        }


MAX_HOSTS = 64  # base URLs of former hosts kept as accepted origins
MAX_ASKED = 16  # hosts that asked about the room, looked at for a rival

# Limits a successor keeps as the host had them, so the room behaves the same after a move.
REPLICATED_SETTINGS = (
    "max_message_bytes", "max_name_chars", "max_edit_bytes", "max_reactions_per_message",
    "messages_per_second", "message_burst", "max_upload_bytes", "max_total_upload_bytes",
    "history_page", "resume_cap", "leave_grace_seconds")

T = TypeVar("T")


def viewer_of(headers: Any) -> str | None:
    """See :meth:`Room.viewer` (a standby reading its replica asks the same)."""
    client_id = headers.get(CLIENT_HEADER) or cookie_value(headers, CLIENT_COOKIE)
    if not client_id:
        return None
    try:
        return protocol.user_id_for(protocol.clean_id(client_id, "client_id"))
    except protocol.ProtocolError:
        return None


def _started(part: T | None) -> T:
    if part is None:
        raise RoomNotStarted("the room has not started, or has closed")
    return part
