"""Serving with no window: the fallback when there is no display, and ``--headless`` on purpose.

The room is hosted on the LAN (as ``python -m server`` does), the one line a user needs is
printed, and the process serves until Ctrl+C or SIGTERM, then stops cleanly without a traceback.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from server import netinfo
from server.settings import Settings

from .logs import say
from .servers import EVERY_INTERFACE, start_server
from .words import words

log = logging.getLogger(__name__)


def serve_headless(settings: Settings, reason: str) -> int:
    """Host ``settings.room`` on every interface until a signal; returns the exit code.

    ``reason`` is a key of ``words`` (why there is no window): the printed line says it in the
    system's language, the log in English."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            thread = start_server(settings.with_(host=EVERY_INTERFACE, hosting=True))
        except OSError as exc:
            error = exc.strerror or exc
            say(f"LAN Chat: {words('cannot_listen', port=settings.port, error=error)}")
            log.error("cannot listen on port %d: %s", settings.port, exc)
            return 2
        url = f"http://127.0.0.1:{thread.port}/"
        log.info("%s; hosting %r headless", words(reason, "en"), thread.settings.room)
        for lan_url in netinfo.room_urls(EVERY_INTERFACE, thread.port, tls=thread.tls):
            log.info("reachable on the LAN at %s", lan_url)
        say(f"LAN Chat: {words('serving', reason=words(reason), url=url)}")
        try:
            while not stop.wait(0.5):
                if not thread.thread.is_alive():
                    log.error("the server stopped by itself: %r", thread.error)
                    return 1
        finally:
            thread.stop(2.0, closing_room=True)
            log.info("headless server stopped")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
