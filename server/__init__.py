"""LAN Chat's host: the chat hub, history, files and discovery behind one FastAPI app.

``python -m server`` hosts a room with no window; the desktop shell embeds the same app.
"""

from __future__ import annotations

__version__ = "0.1.0"
APP_NAME = "LAN Chat"
