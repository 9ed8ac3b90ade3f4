"""Running a host: uvicorn configured for LAN Chat, in the foreground or on a background thread."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from .connections import HostConfig
from .listen import bind_socket
from .settings import Settings
from .staged import StagedApp
from .tls import load_identity

log = logging.getLogger(__name__)


class Server(uvicorn.Server):
    """uvicorn, telling the app as soon as shutdown starts: uvicorn first waits (up to
    ``timeout_graceful_shutdown``) for open connections, and only then runs the lifespan's end.
    The LAN should hear the room's goodbye at once, and live streams must end instead of
    holding the shutdown up.

    ``closing_room``: this shutdown closes the room for good (the person hosting it chose to),
    so the people in it are told so (a ``closing`` event) instead of seeing a blip to retry.
    A restart of the same room (a host replaced in place, a test's outage) leaves it False."""

    closing_room = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        room = getattr(getattr(self.config.app, "state", None), "room", None)
        if room is not None:  # None when the app never started
            try:
                await room.async_begin_shutdown(closing=self.closing_room)
            except Exception:  # shutting down goes on whatever a part says
                log.exception("the room's first shutdown steps failed")
        await super().shutdown(sockets)


def uvicorn_config(settings: Settings, staged: bool = False) -> uvicorn.Config:
    """uvicorn with the h11 parser behind LAN Chat's connection bounds (server/connections.py),
    and TLS on the same port when the host listens beyond loopback (server/tls.py; raises
    TlsError when the certificate cannot be made or used).

    Forwarded headers are believed only without TLS: TLS here means no proxy in front (the
    host terminates it itself), so an X-Forwarded-For would only be a client lying about
    its address to dodge the per-address limits.

    ``staged``: answer the UI's files at once and build the rest beside them
    (:class:`~server.staged.StagedApp`), for a window waiting for its first page."""
    identity = load_identity(settings)
    context = identity.server_context() if identity is not None else None
    build = app_builder(settings, context)
    app = StagedApp(settings.static_dir, build, settings.extra_hosts) if staged else build()
    return HostConfig(
        app,
        settings,
        tls=context,
        proxy_headers=identity is None,
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.ws_max_frame_bytes,
        ws_ping_interval=settings.ping_interval_seconds,
        ws_ping_timeout=settings.ping_timeout_seconds,
        ws_per_message_deflate=False,  # measured: halves fan-out, +180 KiB per connection
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=5,  # an idle kept-alive connection closes after this
        lifespan="on",
    )


def app_builder(settings: Settings, context: ssl.SSLContext | None) -> Callable[[], Any]:
    """What builds the host's FastAPI app (imported only then: it takes a while)."""
    def build() -> Any:
        from .app import create_app

        app = create_app(settings)
        app.state.tls_context = context  # a standby loads the room's certificate into it
        return app
    return build


class ServerThread:
    """A host on a background thread: ``start()`` returns once it answers, ``stop()`` joins it."""

    def __init__(self, settings: Settings, sock: socket.socket | None = None,
                 staged: bool = False) -> None:
        """``sock``: a socket already bound (and perhaps listening) to serve on, else one is
        bound here to ``settings.host``/``settings.port``. ``staged``: the UI's files are
        answered before the rest is up (see :func:`uvicorn_config`); ``start()`` still
        returns only once all of it answers."""
        self.sock = sock if sock is not None else bind_socket(settings.host, settings.port)
        self.port: int = self.sock.getsockname()[1]
        self.settings = settings.with_(port=self.port)
        self.server = Server(uvicorn_config(self.settings, staged=staged))
        if isinstance(self.app, StagedApp):
            self.app.on_failure = self._stop_soon
        self.thread = threading.Thread(target=self._run, name="lanchat-server", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # reported by start()
            self.error = exc
            log.exception("the server stopped with an error")

    @property
    def tls(self) -> bool:
        """This server answers TLS (it listens beyond loopback and TLS is not off)."""
        return isinstance(self.server.config, HostConfig) and self.server.config.tls is not None

    @property
    def app(self):  # type: ignore[no-untyped-def]
        return self.server.config.app

    def _stop_soon(self, _exc: BaseException) -> None:
        self.server.should_exit = True

    def _answering(self) -> bool:
        app = self.app
        return self.server.started and (not isinstance(app, StagedApp) or app.ready)

    def start(self, timeout: float = 15.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self._answering():
            if not self.thread.is_alive() or time.monotonic() > deadline:
                # The room's own error (a damaged history, say) rather than uvicorn's exit 3.
                cause = getattr(self.app.state, "startup_error", None)
                cause = cause or getattr(self.app, "error", None)
                why = str(cause) if cause is not None else repr(self.error)
                raise RuntimeError(f"the LAN Chat server did not start: {why}") from cause
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0, closing_room: bool = False) -> None:
        """Stop and join. ``closing_room``: the room closes for good (see :class:`Server`)."""
        self.server.closing_room = closing_room
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
