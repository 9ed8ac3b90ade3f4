"""Let pywebview's bridge run inside LAN Chat's Content-Security-Policy, in the app's window only.

pywebview builds ``window.pywebview.api`` with ``new Function(...)`` and runs ``evaluate_js``
through ``eval``; the server's policy (``script-src 'self'``) forbids both, which leaves the
page without a bridge. The window announces itself with :data:`DESKTOP_UA_TOKEN` in its
User-Agent, and for those requests only ``'unsafe-eval'`` is added to ``script-src``; browsers
on the LAN keep the strict policy. Inline scripts stay forbidden everywhere.

This wraps every server the desktop app runs (lobby and hosted rooms), so the window keeps its
bridge on rooms hosted by other LAN Chat desktop apps too.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from server import __version__

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DESKTOP_UA_TOKEN = "LANChatDesktop"


def desktop_user_agent() -> str:
    """The window's User-Agent: a browser-like string that carries the desktop token."""
    if sys.platform.startswith("win"):
        system = "Windows NT 10.0; Win64; x64"
    elif sys.platform == "darwin":
        system = "Macintosh; Intel Mac OS X 10_15_7"
    else:
        system = "X11; Linux x86_64"
    engine = " QtWebEngine" if sys.platform.startswith("linux") else ""  # what pages sniff for
    return (f"Mozilla/5.0 ({system}) AppleWebKit/537.36 (KHTML, like Gecko){engine} "
            f"{DESKTOP_UA_TOKEN}/{__version__}")


def allow_eval(policy: bytes) -> bytes:
    """``policy`` with ``'unsafe-eval'`` added to its ``script-src`` directive (if it has one)."""
    parts = [p.strip() for p in policy.decode("latin-1").split(";")]
    out = []
    for part in parts:
        words = part.split()
        if words and words[0].lower() == "script-src" and "'unsafe-eval'" not in words:
            part = " ".join([*words, "'unsafe-eval'"])
        out.append(part)
    return "; ".join(p for p in out if p).encode("latin-1")


class DesktopEval:
    """ASGI wrapper: relaxes the CSP as above for requests that carry the desktop token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        """Reach the wrapped app's attributes (``state`` for one) through the wrapper."""
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _from_desktop(scope):
            await self.app(scope, receive, send)
            return

        async def send_relaxed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (k, allow_eval(v) if k.lower() == b"content-security-policy" else v)
                    for k, v in message.get("headers", [])]
            await send(message)

        await self.app(scope, receive, send_relaxed)


def _from_desktop(scope: Scope) -> bool:
    for key, value in scope.get("headers", []):
        if key == b"user-agent":
            return DESKTOP_UA_TOKEN.encode() in value
    return False
