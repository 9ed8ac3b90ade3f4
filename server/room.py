"""One hosted room: every long-lived part of a host, owned in one place and free of any web
framework.

A :class:`Room` opens the history, the shared files, the resumable uploads, the password gate
and its attempt limiter, the chat hub and discovery in :meth:`Room.async_start`, and
:meth:`Room.async_close` stops them in the reverse order, awaiting whatever they started. The
HTTP and WebSocket routes (``server/api/``) reach it through one typed dependency; tests and
tools can build one without uvicorn.
"""

from __future__ import annotations

import gc
import json
import logging
from typing import Any, TypeVar

from . import __version__, netinfo, protocol
from .discovery import Discovery
from .files import FileStore
from .hub import ChatHub
from .resumable import ResumableUploads
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
    """How many of something are open (the lobby's room-list streams), against a cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0


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

    async def async_begin_shutdown(self, closing: bool) -> None:
        """The host is stopping: with a standby present the room is handed over first (its
        people are told where it went); the LAN hears goodbye and the peer streams end now,
        and when the room closes for good (``closing``) its people are told so before their
        connections drop."""
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

    def info(self, port: int, member: bool) -> dict[str, Any]:
        """The body of ``GET /api/room``: what a join page needs."""
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
            "successors": self.hub.successors,
        }


MAX_HOSTS = 64  # base URLs of former hosts kept as accepted origins

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
