"""LAN Chat's desktop shell: a native window around the embedded server.

This package is the only code that knows windows exist. ``python -m desktop`` starts the server
on this machine's loopback (the lobby), opens a pywebview window on it, hosts a room on the LAN
when the user asks, and falls back to serving headless when no display is available.
"""

from __future__ import annotations
