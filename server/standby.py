"""Standing by: keep a replica of a room another machine hosts, and take the room over.

``python -m server --standby URL`` (or a desktop app in a room) runs a :class:`Standby`. It
listens on its own port from the start (answering that it stands by, and sending chat clients
to the current host), connects to the host's ``/ws/standby`` with the credentials a host's
admin would need, and writes what the host sends into its own data folder (:mod:`server.replica`):
the room's identity (``room_id``, session secret, ``term``, former hosts, TLS key) and every
stored row. Each committed batch is acknowledged, so the host knows who is caught up.

It stops standing by and serves the room itself (``promote``: a normal
:class:`~server.room.Room` on the replica, ``term`` + 1) when:

- the host hands the room over (``take_over``, once every row before it is written), or
- the link drops without a ``take_over`` and the host stays unreachable for
  ``standby_grace_seconds``; a standby ranked r in the last successors list then waits
  r × ``standby_rank_delay_seconds`` more, following instead any earlier successor (or the host)
  that serves the room meanwhile.

A folder that holds another room's history is never overwritten: the standby refuses to follow
and says so (``GET /api/room``), keeping its files.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import ssl
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from . import netinfo
from .readonly import ReplicaReader, send_away
from .replica import Replica, ReplicaError, ReplicaFiles, mark_unavailable
from .security import STANDBY_HEADER
from .settings import Settings
from .tls import CERT_FILE, KEY_FILE, tls_wanted, write_private

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.5  # between tries to reach a host that went away
REFUSED_RETRY_SECONDS = 15.0  # between tries of a host that refused this standby
BUSY_RETRY_SECONDS = 2.0  # after a 4429 (a password check from this address was running)
PING_SECONDS = 1.0  # keepalive on the link: a host behind a pulled cable is found out in ~3 s

Promote = Callable[[Settings], Awaitable[None]]


@dataclass(frozen=True)
class End:
    """Why following a host stopped: ``take_over``, ``moved`` (to ``url``), ``refused``,
    ``busy`` (try again soon), ``closed`` (the room closed for good), ``dropped`` (the link
    broke) or ``unreachable`` (it never opened)."""

    kind: str
    url: str = ""
    term: int = 0
    last_id: int = 0


class Standby:
    """One room followed and stood by for. Lives on the standby's event loop."""

    def __init__(self, settings: Settings, promote: Promote,
                 identity_changed: Callable[[], None] = lambda: None) -> None:
        """``promote(settings)``: start serving the room with these settings (the replica is
        closed by then); ``identity_changed()``: the room's TLS files were just written."""
        assert settings.standby_url is not None
        self.settings = settings
        self.host_url = settings.standby_url.rstrip("/")
        self.standby_id = secrets.token_hex(16)
        self._promote_room = promote
        self._identity_changed = identity_changed
        self.replica: Replica | None = None
        self.room_id: str | None = None
        self.room = settings.room
        self.term = 0
        self.successors: list[str] = []
        self.you: str | None = None  # this standby's URL as its host sees it
        self.host_settings: dict[str, Any] = {}
        # The room's certificate: given beforehand (a desktop app's pin), else pinned once known.
        self.fingerprint: str | None = (settings.standby_fingerprint or "").lower() or None
        self.state = "connecting"  # following, refused, serving
        self.problem: str | None = None
        self.url: str | None = None  # where this process serves the room, once it does
        self._task: asyncio.Task[None] | None = None
        # A host has sent this run the room: only then may a lost link lead to a take-over
        # (a replica restarted while its host is away may be stale; the room may have moved).
        self.followed = False
        # Its replica once held everything the host had: only such a standby takes the room
        # over after a crash (one still catching up would serve a partial history).
        self.caught_up = False
        self.files: ReplicaFiles | None = None
        self.files_token: str | None = None  # lets this standby download the host's files
        self._downloads: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._fetcher: asyncio.Task[None] | None = None
        # While the host is unreachable and nobody serves the room: its history, read-only
        # (server/readonly.py); None while a host serves it.
        self.reader: ReplicaReader | None = None

    async def async_start(self) -> None:
        self.replica = await asyncio.to_thread(Replica, self.settings.db_path)
        self.room_id = self.replica.room_id
        self.term = int(self.replica.meta("term") or 0)
        self.files = await asyncio.to_thread(ReplicaFiles, self.settings.files_dir,
                                             self.settings.standby_files_max_bytes)
        self._task = asyncio.create_task(self._run(), name="lanchat-standby")
        self._fetcher = asyncio.create_task(self._fetch_files(), name="lanchat-standby-files")

    async def async_close(self) -> None:
        await self._stop_fetching()
        await self._host_back()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - logged where it arose
                pass
            self._task = None
        if self.replica is not None:
            self.replica.close()
            self.replica = None

    def status(self) -> dict[str, Any]:
        """``GET /api/room`` while standing by."""
        return {"standby": True, "room_id": self.room_id, "room": self.room,
                "host": self.host_url, "term": self.term, "successors": self.successors,
                "state": self.state, "problem": self.problem,
                "last_id": self.replica.last_id if self.replica is not None else None,
                "read_only": self.reader is not None, "machine": netinfo.machine_name()}

    def room_fields(self) -> dict[str, Any]:
        """The welcome's fields about the room, for a read-only welcome."""
        return {"room": self.room, "room_id": self.room_id, "term": self.term,
                "successors": self.successors, "machine": netinfo.machine_name(),
                "limits": {k: self.host_settings[k] for k in (
                    "max_message_bytes", "max_upload_bytes", "max_edit_bytes",
                    "max_reactions_per_message") if k in self.host_settings}}

    async def _host_away(self) -> None:
        """The host is unreachable: open the replica for reading, when this run knows the
        room's password rules (a host sent them); a password room without its password
        known is not opened at all."""
        rules, replica = self.host_settings, self.replica
        if self.reader is not None or not rules or replica is None or self.room_id is None:
            return
        password = rules.get("password") if rules.get("password_required") else None
        secret = replica.meta("secret")
        if (rules.get("password_required") and not password) or not secret:
            return
        hosts = [str(h) for h in json.loads(replica.meta("hosts") or "[]")]
        self.reader = await asyncio.to_thread(ReplicaReader, self.settings,
                                              str(password) if password else None,
                                              bytes.fromhex(secret), hosts)
        log.info("standby: the host is away; the room's copy is readable here")

    async def _host_back(self, url: str | None = None) -> None:
        """A host serves the room again (or this process stops): read-only sockets go there."""
        reader, self.reader = self.reader, None
        if reader is None:
            return
        await send_away(reader, url or self.host_url, self.room_id, self.term)
        reader.close()

    # Following ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            end = await self._follow()
            if end.kind == "take_over":
                return
            if end.kind == "moved":
                self.host_url = end.url.rstrip("/")
                continue
            if end.kind in ("dropped", "unreachable", "closed"):
                await self._host_away()
            if end.kind in ("refused", "closed", "busy"):
                await asyncio.sleep(BUSY_RETRY_SECONDS if end.kind == "busy"
                                    else REFUSED_RETRY_SECONDS)
                continue
            if not (self.followed and self.caught_up):  # nothing current to serve
                await asyncio.sleep(RETRY_SECONDS)
                continue
            found = await self._after_loss()
            if found is not None:
                self.host_url = found
                continue
            await self._promote(self.term)
            return

    async def _follow(self) -> End:
        """Follow the host at :attr:`host_url` until the link ends, and say why."""
        uri = self.host_url.replace("http", "ws", 1) + "/ws/standby"
        try:
            async with connect(uri, ssl=_client_tls() if uri.startswith("wss") else None,
                               open_timeout=5, max_size=64 * 1024 * 1024,
                               ping_interval=PING_SECONDS, ping_timeout=2 * PING_SECONDS,
                               close_timeout=1) as ws:
                if not self._pinned(ws):
                    return self._refuse("the host's certificate is not the room's")
                await ws.send(json.dumps(self._hello()))
                return await self._listen(ws)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else 1006
            if code == 4429:  # another check from this address ran, or a brake: soon again
                return End("busy")
            if code in (4400, 4403, 4409):
                reason = exc.rcvd.reason if exc.rcvd is not None else ""
                return self._refuse(f"the host refused this standby ({code}: {reason})")
            return End("dropped")
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            log.debug("standby: %s unreachable (%r)", self.host_url, exc)
            return End("unreachable")

    def _refuse(self, problem: str) -> End:
        if self.problem != problem:
            log.error("standby: %s", problem)
        self.state, self.problem = "refused", problem
        return End("refused")

    def _pinned(self, ws: ClientConnection) -> bool:
        """Once the room's certificate is known, a host must present it (a successor does)."""
        if self.fingerprint is None:
            return True
        obj = ws.transport.get_extra_info("ssl_object")
        der = obj.getpeercert(binary_form=True) if obj is not None else None
        return der is None or hashlib.sha256(der).hexdigest() == self.fingerprint

    def _hello(self) -> dict[str, Any]:
        s = self.settings
        assert self.replica is not None
        return {"type": "standby", "standby_id": self.standby_id,
                "after": self.replica.last_id if self.room_id is not None else 0,
                "room_id": self.room_id, "port": s.port, "tls": tls_wanted(s),
                "name": netinfo.machine_name(), "password": s.password,
                "admin_password": s.admin_password}

    async def _listen(self, ws: ClientConnection) -> End:
        async for raw in ws:
            data = json.loads(raw)
            kind = data.get("type")
            if kind == "rows":
                await self._rows(ws, data["rows"], int(data.get("last_id") or 0))
            elif kind == "replica":
                if not await self._adopt(data):
                    return self._refuse("this folder holds another room's history; give the "
                                        "standby another --data-dir")
                self.state, self.problem, self.followed = "following", None, True
                await self._host_back()
            elif kind == "people":
                assert self.replica is not None
                await asyncio.to_thread(self.replica.set_people, dict(data["people"]))
            elif kind == "file":
                await self._file(dict(data["record"]))
            elif kind == "successors":
                self.successors = [str(u) for u in data.get("urls", [])]
            elif kind == "moved":
                return End("moved", url=str(data["url"]))
            elif kind == "closing":  # closed for good: not ours to take over
                self.followed, self.caught_up, self.state = False, False, "connecting"
                return End("closed")
            elif kind == "take_over":
                return await self._take_over(ws, int(data["last_id"]), int(data["term"]))
        return End("dropped")

    async def _rows(self, ws: ClientConnection, rows: list[list[Any]], host_last: int) -> None:
        assert self.replica is not None
        try:
            applied = await asyncio.to_thread(self.replica.apply, rows)
        except ReplicaError as exc:  # never written: close, and start again from what we hold
            log.error("standby: %s", exc.detail)
            await ws.close(1011, exc.detail[:120])
            return
        await ws.send(json.dumps({"type": "ack", "id": applied.last_id}))
        if applied.last_id >= host_last:
            self.caught_up = True
        for stored_name in applied.erase:  # the files of deleted messages
            if self.files is not None:
                self.files.erase(stored_name)

    # Files --------------------------------------------------------------------------------

    async def _file(self, record: dict[str, Any]) -> None:
        """A shared file's record: kept at once, its bytes fetched in the background."""
        assert self.replica is not None
        await asyncio.to_thread(self.replica.add_file, record)
        self._downloads.put_nowait(record)

    async def _fetch_files(self) -> None:
        """Download shared files one at a time, within ``standby_files_max_bytes``."""
        while True:
            record = await self._downloads.get()
            files = self.files
            name, size = str(record["stored_name"]), int(record["size"])
            if files is None or name in files.held or "/" in name or name.startswith("."):
                continue
            if not files.make_room(size):
                log.info("standby: %s is larger than the files quota; not kept", record["name"])
                continue
            url = f"{self.host_url}/api/files/{record['id']}"
            try:
                await asyncio.to_thread(_download, url, self.files_token or "",
                                        files.folder / name)
            except (OSError, ValueError) as exc:
                log.warning("standby: could not fetch %s (%s)", record["name"], exc)
                continue
            files.keep(name, size)

    async def _stop_fetching(self) -> None:
        if self._fetcher is not None:
            self._fetcher.cancel()
            try:
                await self._fetcher
            except asyncio.CancelledError:
                pass
            self._fetcher = None

    async def _adopt(self, data: dict[str, Any]) -> bool:
        """Take the room's identity from a ``replica`` frame; False for another room's."""
        assert self.replica is not None
        room_id = str(data["room_id"])
        if self.room_id is not None and self.room_id != room_id:
            return False
        self.room_id, self.room = room_id, str(data.get("room") or self.room)
        self.term = int(data.get("term") or 0)
        self.you = data.get("you")
        self.host_settings = dict(data.get("settings") or {})
        self.files_token = data.get("files_token")
        self.caught_up = self.replica.last_id >= int(data.get("last_id") or 0)
        meta = {"room_id": room_id, "secret": str(data["secret"]), "term": str(self.term),
                "hosts": json.dumps(data.get("hosts") or [])}
        await asyncio.to_thread(self.replica.adopt, meta)
        identity = data.get("identity")
        s = self.settings
        # A standby given a certificate elsewhere keeps serving that one (an admin's own).
        if isinstance(identity, dict) and s.tls_cert_file in (None, s.data_dir / CERT_FILE):
            await asyncio.to_thread(self._write_identity, identity)
            self._identity_changed()
        return True

    def _write_identity(self, identity: dict[str, str]) -> None:
        data_dir = self.settings.data_dir
        write_private(data_dir / KEY_FILE, identity["key_pem"].encode("ascii"))
        write_private(data_dir / CERT_FILE, identity["cert_pem"].encode("ascii"))
        der = ssl.PEM_cert_to_DER_cert(identity["cert_pem"])
        self.fingerprint = hashlib.sha256(der).hexdigest()

    # Taking over --------------------------------------------------------------------------

    async def _take_over(self, ws: ClientConnection, last_id: int, term: int) -> End:
        assert self.replica is not None
        if self.replica.last_id < last_id:
            log.error("standby: asked to take over at %d holding only %d", last_id,
                      self.replica.last_id)
            return End("dropped")
        started = time.monotonic()
        await self._promote(term)
        log.info("took the room over in %.2f s (term %d)", time.monotonic() - started,
                 term + 1)
        await ws.send(json.dumps({"type": "serving", "url": self.url}))
        return End("take_over")

    async def _promote(self, term: int) -> None:
        """Serve the room from the replica: term + 1, the host's passwords and limits."""
        assert self.replica is not None
        self.term = term + 1
        await asyncio.to_thread(self.replica.adopt, {"term": str(self.term)})
        self.replica.close()
        self.replica = None
        await self._stop_fetching()
        s = self.settings
        await asyncio.to_thread(mark_unavailable, s.db_path, s.files_dir)
        limits = {k: v for k, v in self.host_settings.items()
                  if k not in ("password", "admin_password", "password_required")
                  and hasattr(s, k)}
        settings = s.with_(room=self.room, standby_url=None, hosting=True,
                           password=self.host_settings.get("password") or s.password,
                           admin_password=(self.host_settings.get("admin_password")
                                           or s.admin_password), **limits)
        own = netinfo.room_urls(s.host, s.port, tls=tls_wanted(s))[0].rstrip("/")
        self.url = self.you or own
        await self._promote_room(settings)
        self.state = "serving"
        await self._host_back(self.url)

    async def _after_loss(self) -> str | None:
        """The link dropped without ``take_over``: the URL of a host that serves the room
        now (the old one back, or an earlier successor), or None to take the room over."""
        s = self.settings
        deadline = time.monotonic() + s.standby_grace_seconds
        while time.monotonic() < deadline:
            if await serves(self.host_url, self.room_id):
                return self.host_url
            await asyncio.sleep(RETRY_SECONDS)
        ranks = self.successors
        rank = ranks.index(self.you) if self.you in ranks else len(ranks)
        earlier = [self.host_url, *ranks[:rank]]
        deadline = time.monotonic() + rank * s.standby_rank_delay_seconds
        while True:
            for url in earlier:
                if await serves(url, self.room_id):
                    return url
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(RETRY_SECONDS)
        log.warning("standby: the host %s is gone; taking the room over (rank %d)",
                    self.host_url, rank)
        return None


async def serves(url: str, room_id: str | None, timeout: float = 1.0) -> bool:
    """Does the host at ``url`` serve the room ``room_id`` now (not merely stand by for it)?"""
    try:
        body = await asyncio.to_thread(_get_json, url.rstrip("/") + "/api/room", timeout)
    except (OSError, ValueError):
        return False
    return isinstance(body, dict) and body.get("room_id") == room_id and not body.get("standby")


def _get_json(url: str, timeout: float) -> Any:
    context = _client_tls() if url.startswith("https") else None
    with urllib.request.urlopen(url, timeout=timeout, context=context) as answer:
        return json.loads(answer.read(1024 * 1024))


def _download(url: str, token: str, path: Path) -> None:
    """Fetch a shared file's bytes into ``path`` (whole, or not at all)."""
    request = urllib.request.Request(url, headers={STANDBY_HEADER: token})
    context = _client_tls() if url.startswith("https") else None
    tmp = path.with_name("." + path.name + ".part")
    with urllib.request.urlopen(request, timeout=30, context=context) as answer, \
            open(tmp, "wb") as out:
        while chunk := answer.read(1024 * 1024):
            out.write(chunk)
    tmp.replace(path)


def _client_tls() -> ssl.SSLContext:
    """A LAN host's certificate is self-signed: no authority vouches for it. The standby checks
    it against the room's fingerprint once it knows it (:meth:`Standby._pinned`)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
