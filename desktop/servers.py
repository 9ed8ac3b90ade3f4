"""The embedded server: loopback-only in the lobby, on every interface once the user hosts.

Hosting replaces the loopback server with one on 0.0.0.0 at the same port, so the window's
origin (``http://127.0.0.1:<port>``) stays the same and the page only has to reload.
"""

from __future__ import annotations

import errno
import logging
import secrets
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.listen import bind_socket
from server.settings import Settings
from server.tls import TlsError

from .rooms import RoomPasswordError, prepare_room

if TYPE_CHECKING:  # server.runner imports uvicorn and FastAPI: only when a server starts
    from server.runner import ServerThread

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
EVERY_INTERFACE = "0.0.0.0"
LISTEN_BACKLOG = 128


class HostingError(RuntimeError):
    """Hosting failed; ``detail`` says why in words a user can act on."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def bind_with_fallback(settings: Settings, fallback_to_free_port: bool = True) -> socket.socket:
    """Bind ``settings.host``/``settings.port``; if the port is taken (and a fallback is
    allowed), a free one."""
    try:
        return bind_socket(settings.host, settings.port)
    except OSError as exc:
        if not fallback_to_free_port or exc.errno != errno.EADDRINUSE or settings.port == 0:
            raise
        log.info("port %d is busy on %s; using a free port", settings.port, settings.host)
        return bind_socket(settings.host, 0)


def start_server(settings: Settings, fallback_to_free_port: bool = True,
                 sock: socket.socket | None = None, staged: bool = False) -> ServerThread:
    """Start a ServerThread on ``sock`` (else a socket bound here, see bind_with_fallback);
    ``staged``: it answers the UI's files before the rest is up."""
    from server.runner import ServerThread

    if sock is None:
        sock = bind_with_fallback(settings, fallback_to_free_port)
    try:
        thread = ServerThread(settings.with_(port=sock.getsockname()[1]), sock, staged)
    except BaseException:
        sock.close()
        raise
    try:
        return thread.start()
    except RuntimeError:
        thread.stop(1.0)  # frees the socket it bound
        raise


class EmbeddedServer:
    """Owns the one server this app runs; every method is safe to call from any thread."""

    def __init__(self, settings: Settings) -> None:
        self._base = settings
        self._lock = threading.Lock()
        self._thread: ServerThread | None = None
        self._stopped = False
        self._lobby_room = settings.room
        # The hosted room's admin password, made afresh for each room hosted: only this app's
        # window is given it (through :attr:`admin_url`), so the person hosting moderates.
        self._admin_key: str | None = None

    @property
    def settings(self) -> Settings:
        """The settings the app was started with (the lobby's; a hosted room's differ)."""
        return self._base

    @property
    def port(self) -> int:
        thread = self._thread
        return thread.port if thread is not None else self._base.port

    @property
    def hosting(self) -> bool:
        thread = self._thread
        return thread is not None and thread.settings.hosting

    @property
    def room(self) -> str:
        thread = self._thread
        return thread.settings.room if thread is not None else self._base.room

    @property
    def origin(self) -> str:
        """The window's address for this server (always loopback: that is what the window uses)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def admin_url(self) -> str:
        """Where this app's window signs in as the hosted room's admin, then lands in the
        room; the room itself (``origin/``) when nothing is hosted."""
        key = self._admin_key
        if key is None or not self.hosting:
            return f"{self.origin}/"
        return f"{self.origin}/api/admin/enter?key={key}"

    def start_lobby(self) -> EmbeddedServer:
        """Serve the lobby on loopback only; nothing is reachable from the LAN yet."""
        settings = self._base.with_(host=LOOPBACK, hosting=False)
        with self._lock:
            self._thread = start_server(settings)
            self._base = self._base.with_(port=self._thread.port)
        log.info("lobby server on %s (loopback only)", self.origin)
        return self

    def start_lobby_soon(self, on_failure: Callable[[BaseException], None]) -> EmbeddedServer:
        """Listen on loopback now and start the lobby's server on a thread; returns at once.

        The window can open on :attr:`origin` meanwhile: its first requests wait in the
        socket's backlog until the server accepts them, and the page's own files are answered
        while the web framework is imported and the room's history opened (a staged server,
        :mod:`server.staged`), so the lobby shows before the rest of the host is up.
        ``on_failure`` is called (on that thread) if the server cannot start.
        """
        settings = self._base.with_(host=LOOPBACK, hosting=False)
        sock = bind_with_fallback(settings)
        sock.listen(LISTEN_BACKLOG)
        self._base = self._base.with_(port=sock.getsockname()[1])
        self._lock.acquire()  # released by the thread once its server runs (or failed)
        threading.Thread(target=self._start_lobby_on, args=(settings, sock, on_failure),
                         name="lanchat-lobby-start", daemon=True).start()
        return self

    def _start_lobby_on(self, settings: Settings, sock: socket.socket,
                        on_failure: Callable[[BaseException], None]) -> None:
        try:
            self._thread = start_server(settings.with_(port=self._base.port), sock=sock,
                                        staged=True)
        except BaseException as exc:  # reported to the person, not lost
            log.exception("the lobby's server did not start")
            self._lock.release()
            on_failure(exc)
            return
        self._lock.release()
        log.info("lobby server on %s (loopback only), started on a thread", self.origin)

    def host(self, room: str, password: str | None = None, host_name: str | None = None) -> None:
        """Replace the running server by one hosting ``room`` on the LAN.

        Each room name has its own folder (history, files, password record), so hosting a new
        name starts a new room and leaves the last one's history where it was. A room hosted
        with a password needs that password to be hosted again. On failure the lobby server is
        brought back, so the window keeps working, and HostingError says what went wrong.
        """
        try:
            folder = prepare_room(self._base.data_dir, room, password)
        except RoomPasswordError as exc:
            raise HostingError(str(exc)) from None
        except OSError as exc:
            raise HostingError(f"could not create the room's folder: {exc.strerror}") from exc
        key = secrets.token_urlsafe(32)
        settings = self._base.with_(host=EVERY_INTERFACE, hosting=True, room=room,
                                    password=password, data_dir=folder, host_name=host_name,
                                    admin_password=key, standby_needs_admin=False)
        with self._lock:
            if self._stopped:
                raise HostingError("the app is closing")
            try:
                self._replace(settings)
                self._admin_key = key
            except TlsError as exc:  # the room's certificate cannot be made or read
                log.exception("could not host %r", room)
                self._replace(self._lobby_settings())
                raise HostingError(exc.detail) from exc
            except (OSError, RuntimeError) as exc:
                log.exception("could not host %r", room)
                self._replace(self._lobby_settings())
                raise HostingError(f"could not start hosting on port {settings.port}: {exc}. "
                                   "Another program may use that port; restart with --port.") \
                    from exc
        log.info("hosting %r on every interface at port %d", room, self.port)

    def stop_hosting(self) -> None:
        """Close the hosted room (its people are told) and serve the lobby on loopback again."""
        with self._lock:
            if self._stopped or not self.hosting:
                return
            self._replace(self._lobby_settings())
        log.info("stopped hosting; lobby on %s (loopback only)", self.origin)

    def _lobby_settings(self) -> Settings:
        return self._base.with_(host=LOOPBACK, hosting=False, room=self._lobby_room,
                                password=None)

    def _replace(self, settings: Settings) -> None:
        """Stop the running server and start one with ``settings`` at the same port."""
        old, self._thread = self._thread, None
        if old is not None:
            # Another room, or none: this one closes. The same room again is a restart.
            same_room = settings.hosting and old.settings.data_dir == settings.data_dir
            old.stop(closing_room=old.settings.hosting and not same_room)
        self._thread = start_server(settings.with_(port=self._base.port))
        self._base = self._base.with_(port=self._thread.port)

    def stop(self, timeout: float = 1.5) -> None:
        """Stop the server: clients get a clean close; the port is free when this returns."""
        with self._lock:
            self._stopped = True
            thread, self._thread = self._thread, None
            if thread is not None:
                thread.stop(timeout, closing_room=True)
                if thread.thread.is_alive():
                    log.warning("the server thread did not stop within %.1f s", timeout)
                else:
                    log.info("server on port %d stopped", thread.port)
