"""Standing by for the room the window is in: a replica of it in this app's data folder.

When the window shows another host's room, this app keeps a copy of that room (its whole
history, and shared files up to a quota) and stands ready to serve it: if the room's host stops
or vanishes, the room goes on from here (server/standby.py does the replicating and the taking
over; this module only decides when one runs). One standby at a time, for the room on screen:
it starts when the window opens a remote room and stops when the window leaves it (the lobby,
another room) or the app quits. The person can switch it off (the ``standby`` preference, and
the ``standby`` setting for whoever deploys the app).

Each room's replica lives in ``<data dir>/replicas/<room id>``, so coming back to a room catches
up from where the copy stopped instead of fetching the history again.

Everything here runs off the GUI thread: starting a standby asks the host for its room id and
starts a server, which takes a moment, and a page load must never wait for that.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from server.settings import Settings

from .bridge import is_own_url

log = logging.getLogger(__name__)

REPLICAS = "replicas"
ROOM_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
ROOM_TIMEOUT = 5.0
REFUSAL_WATCH = 30.0  # seconds a new standby is watched for its host's refusal
MAX_ROOM_BYTES = 64 * 1024


class Running(Protocol):
    """What the keeper needs of a started standby (a ``ServerThread``)."""

    port: int

    @property
    def app(self) -> Any: ...

    def stop(self, timeout: float = 5.0, closing_room: bool = False) -> None: ...


@dataclass(frozen=True)
class Target:
    """The room to stand by for: where its host is, its id, and the replica's folder."""

    url: str  # the host's base URL, as the window opened it
    room_id: str
    folder: Path


Launcher = Callable[[Settings, Target, "str | None"], Running]
"""Starts a standby for a target, with the room password the person entered (None: none)."""


def room_base(url: str, own_port: int) -> str | None:
    """The base URL (``scheme://host:port/``) of a remote room the window shows at ``url``, or
    None for this app's own pages and anything that is not http(s)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if is_own_url(url, own_port):
        return None
    return f"{parts.scheme}://{parts.netloc}/"


def _unverified_tls() -> ssl.SSLContext:
    """Only the room's id is read with it, to name the replica's folder; the standby's own
    link checks who it talks to (and the window pinned the certificate already)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True)
class RoomFacts:
    """What the keeper reads of a room before standing by for it."""

    room_id: str
    password: bool  # its host asks standbys, as people, for the room's password


def fetch_room_id(base: str, timeout: float = ROOM_TIMEOUT) -> str | None:
    """The room id that ``GET /api/room`` at ``base`` gives (see :func:`fetch_room`)."""
    facts = fetch_room(base, timeout)
    return facts.room_id if facts is not None else None


def fetch_room(base: str, timeout: float = ROOM_TIMEOUT) -> RoomFacts | None:
    """The room's id and whether it has a password, from ``GET /api/room`` at ``base`` (None:
    not a LAN Chat room, or a standby that is not serving, or no answer)."""
    context = _unverified_tls() if base.startswith("https:") else None
    try:
        with urllib.request.urlopen(f"{base}api/room", timeout=timeout,
                                    context=context) as res:
            data: Any = json.loads(res.read(MAX_ROOM_BYTES))
    except (OSError, ValueError) as exc:
        log.info("no room to stand by for at %s: %s", base, exc)
        return None
    if not isinstance(data, dict) or data.get("standby") is True:
        return None
    room_id = data.get("room_id")
    if not isinstance(room_id, str) or ROOM_ID.fullmatch(room_id) is None:
        return None
    return RoomFacts(room_id, data.get("password") is True)


def standby_state(running: Running) -> tuple[str, str]:
    """``(state, problem)`` of a standby that has not taken its room over (server/standby.py:
    ``connecting``, ``following``, ``refused``); ``("", "")`` once it serves, or unknown."""
    try:
        node = getattr(running.app.state, "standby", None)
    except AttributeError:
        return "", ""
    if node is None or getattr(running.app.state, "room", None) is not None:
        return "", ""
    return str(getattr(node, "state", "")), str(getattr(node, "problem", "") or "")


def serves_room(running: Running) -> bool:
    """The standby took the room over: it is the room's host now (server/app.py hangs the
    room on the app once it serves it)."""
    try:
        return getattr(running.app.state, "room", None) is not None
    except AttributeError:
        return False


def start_standby(settings: Settings, target: Target, password: str | None) -> Running:
    """A standby server for ``target`` on a port of its own, reachable from the LAN (a host
    hands the room to a standby at the address the standby gives it). ``password``: the
    room's, which a host asks of its standbys when it has one."""
    from .servers import EVERY_INTERFACE, start_server

    # The room keeps its scheme: a plain room's pages could not follow it to https here (the
    # window would be asked about a certificate no one pinned); a TLS room's identity comes
    # from its host, so its pages find the certificate they pinned.
    standby = settings.with_(standby_url=target.url, data_dir=target.folder,
                             host=EVERY_INTERFACE, port=0, hosting=True, password=password,
                             admin_password=None, tls=target.url.startswith("https:"))
    return start_server(standby, fallback_to_free_port=False)


class StandbyKeeper:
    """Runs at most one standby: for the remote room the window shows, while allowed.

    ``page_loaded(url)`` is called on every page load (from any thread), ``refresh()`` after the
    preference changed, ``stop()`` when the app quits; the work happens on a short-lived thread,
    one at a time, and always moves towards the newest wish.
    """

    def __init__(self, settings: Settings, own_port: Callable[[], int],
                 allowed: Callable[[], bool], launcher: Launcher = start_standby,
                 room: Callable[[str], RoomFacts | None] = fetch_room) -> None:
        self._settings = settings
        self._own_port = own_port
        self._allowed = allowed
        self._launch = launcher
        self._room = room
        self._lock = threading.Lock()  # guards _wanted and _closed
        self._work = threading.Lock()  # one start or stop at a time
        self._wanted: str | None = None
        self._password: tuple[str, str] | None = None  # (room base URL, its password)
        self._closed = False
        self._running: tuple[Target, Running, str | None] | None = None
        # Standbys that took their room over: this computer hosts those rooms now, so they
        # stay when the window leaves, until the app quits (which hands them on, or closes).
        self._hosting: list[tuple[Target, Running]] = []
        # (room id, password or "") that the room's host refused: not tried again until the
        # person gives another password (each try counts as a wrong password at the host).
        self._refused: set[tuple[str, str]] = set()
        self._threads: list[threading.Thread] = []

    @property
    def target(self) -> Target | None:
        """The room stood by for now (None: none)."""
        running = self._running
        return running[0] if running is not None else None

    @property
    def port(self) -> int | None:
        running = self._running
        return running[1].port if running is not None else None

    def page_loaded(self, url: str) -> None:
        """The window shows ``url`` now: stand by for its room, or stop when it is none."""
        base = room_base(url, self._own_port())
        with self._lock:
            if self._closed or base == self._wanted:
                return
            self._wanted = base
        self._soon()

    def use_password(self, url: str, password: str) -> None:
        """The person entered ``password`` in the room shown at ``url``: its host asks it of
        standbys too. Kept in memory only, for that room only, and used for that room only."""
        base = room_base(url, self._own_port())
        if base is None:
            return
        with self._lock:
            if self._closed or self._password == (base, password):
                return
            self._password = (base, password)
        self._soon()

    def refresh(self) -> None:
        """The preference may have changed: start or stop to match it."""
        self._soon()

    def _soon(self, job: Callable[[], None] | None = None) -> None:
        thread = threading.Thread(target=job or self._reconcile, name="lanchat-standby",
                                  daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _reconcile(self) -> None:
        with self._work:
            with self._lock:
                wanted = None if self._closed else self._wanted
                known = self._password
            if wanted is not None and not self._allowed():
                log.info("standing by is off: no replica of the room at %s", wanted)
                wanted = None
            password = known[1] if known is not None and known[0] == wanted else None
            facts = self._room(wanted) if wanted is not None else None
            room_id = facts.room_id if facts is not None else None
            with self._lock:
                if self._closed or (self._wanted != wanted and wanted is not None):
                    room_id = None  # the window moved on meanwhile: its own turn comes
            running = self._running
            # The same room at another address (it moved, and the window followed it there):
            # the standby follows the room by itself; a new password restarts it.
            if running is not None and (running[0].room_id != room_id or (
                    password is not None and password != running[2])):
                self._stop_running()
            if wanted is None or facts is None or room_id is None or self._running is not None:
                return
            if facts.password and password is None:
                log.info("standing by for room %s waits for its password (typed to join)",
                         room_id)
            elif (room_id, password or "") in self._refused:
                log.info("room %s's host refused this app's standby: not asking again",
                         room_id)
            else:
                self._start(Target(wanted, room_id, self._settings.data_dir / REPLICAS /
                                   room_id), password)

    def _start(self, target: Target, password: str | None) -> None:
        if any(hosted.room_id == target.room_id for hosted, _ in self._hosting):
            # Its replica is the room's history now, served from here: nothing to follow.
            log.info("this computer hosts room %s: no standby for it", target.room_id)
            return
        try:
            running = self._launch(self._settings, target, password)
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("could not stand by for the room at %s: %s", target.url, exc)
            return
        self._running = (target, running, password)
        log.info("standing by for room %s at %s: replica in %s, port %d", target.room_id,
                 target.url, target.folder, running.port)
        self._soon(lambda: self._watch_refusal(running, password))

    def _watch_refusal(self, running: Running, password: str | None) -> None:
        """Stop a standby its room's host refuses (it would try again every few seconds, each
        try a wrong password there), and remember not to start it again with that password."""
        deadline = time.monotonic() + REFUSAL_WATCH
        while time.monotonic() < deadline and not self._closed:
            state, problem = standby_state(running)
            if state in ("following", ""):
                return
            if state == "refused":
                with self._work:
                    current = self._running
                    if current is None or current[1] is not running:
                        return
                    self._refused.add((current[0].room_id, password or ""))
                    log.warning("room %s's host refuses this app's standby (%s): it stops",
                                current[0].room_id, problem or "refused")
                    self._stop_running(quitting=True)
                return
            time.sleep(0.2)

    def _stop_running(self, quitting: bool = False) -> None:
        running, self._running = self._running, None
        if running is None:
            return
        target, server, _ = running
        if serves_room(server) and not quitting:
            self._hosting.append((target, server))
            log.info("this computer hosts room %s now (it took it over): it stays open until "
                     "the app quits", target.room_id)
            return
        # A standby that took the room over is its host: it hands the room on, or closes it.
        server.stop(3.0, closing_room=True)
        log.info("stopped standing by for room %s", target.room_id)

    def stop(self, timeout: float = 5.0) -> None:
        """The app quits: no new standby, and the running one stops (waits for it)."""
        with self._lock:
            self._closed = True
            self._wanted = None
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        with self._work:
            self._stop_running(quitting=True)
            hosting, self._hosting = self._hosting, []
        for target, server in hosting:
            server.stop(3.0, closing_room=True)
            log.info("stopped hosting room %s, which this computer had taken over",
                     target.room_id)
