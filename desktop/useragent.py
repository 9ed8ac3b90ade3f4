"""The window's User-Agent, which carries the desktop token.

pywebview builds ``window.pywebview.api`` with ``new Function(...)`` and runs ``evaluate_js``
through ``eval``; every LAN Chat host (``server.security.csp``) adds ``'unsafe-eval'`` to its policy
only for requests whose User-Agent carries :data:`DESKTOP_UA_TOKEN`, so the window keeps its
bridge on any LAN Chat room while browsers on the LAN keep the strict policy.
"""

from __future__ import annotations

import sys

from server import __version__
from server.security import DESKTOP_UA_TOKEN as _SERVER_TOKEN

DESKTOP_UA_TOKEN = _SERVER_TOKEN.decode()


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
