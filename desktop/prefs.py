"""The user's small preferences (nickname, last room, standing by), kept in the user's config
directory.

pywebview runs the page in private mode, so the page's own storage is gone after every launch;
this file is what makes the app remember the nickname and the last room between launches.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREFS_FILE = "prefs.json"
MAX_NAME_CHARS = 32
MAX_ROOM_CHARS = 64  # a room's name
MAX_LAST_ROOM_CHARS = 512  # the page stores the last room's address here, or its name


class PrefsError(ValueError):
    """A preference the page sent is not acceptable; ``field`` names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class Prefs:
    """What the app remembers. Empty strings mean "not set yet"."""

    name: str = ""
    last_room: str = ""  # what the page chose to remember: the UI keeps the room's URL
    # Keep a replica of the room the window is in, ready to host it (desktop/standby.py). On
    # unless the person says otherwise: a room outlives its host only if someone stands by.
    standby: bool = True

    def public(self) -> dict[str, Any]:
        return asdict(self)


def clean_text(value: object, field: str, limit: int) -> str:
    """A single-line, trimmed string of at most ``limit`` characters, or PrefsError."""
    if not isinstance(value, str):
        raise PrefsError(field, "must be text")
    text = " ".join(value.split())  # no newlines or control whitespace in a name
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise PrefsError(field, "must not contain control characters")
    if len(text) > limit:
        raise PrefsError(field, f"must be at most {limit} characters")
    return text


class PrefsStore:
    """Reads and writes ``prefs.json`` in one directory; safe to call from several threads."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / PREFS_FILE
        self._lock = threading.Lock()

    def load(self) -> Prefs:
        """The stored prefs; a missing or damaged file gives the defaults (and a log line)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Prefs()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable preferences at %s: %s", self.path, exc)
            return Prefs()
        if not isinstance(raw, dict):
            return Prefs()
        try:
            return validate(raw, Prefs())
        except PrefsError as exc:
            log.warning("ignoring invalid preferences at %s: %s", self.path, exc)
            return Prefs()

    def update(self, changes: Mapping[str, Any]) -> Prefs:
        """Validate ``changes`` (only known keys), merge them into the stored prefs and save."""
        with self._lock:
            merged = validate(changes, self.load())
            self._write(merged)
            return merged

    def _write(self, prefs: Prefs) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash never leaves half a file behind.
        fd, tmp = tempfile.mkstemp(prefix=".prefs-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(prefs.public(), f, ensure_ascii=False, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def validate(changes: Mapping[str, Any], base: Prefs) -> Prefs:
    """``base`` with the known keys of ``changes`` applied; unknown keys are an error."""
    unknown = set(changes) - {"name", "last_room", "standby"}
    if unknown:
        raise PrefsError(sorted(unknown)[0], "is not a preference")
    name = base.name
    last_room = base.last_room
    standby = base.standby
    if "standby" in changes:
        if not isinstance(changes["standby"], bool):
            raise PrefsError("standby", "must be true or false")
        standby = changes["standby"]
    if "name" in changes:
        name = clean_text(changes["name"], "name", MAX_NAME_CHARS)
    if "last_room" in changes:
        last_room = clean_text(changes["last_room"], "last_room",
                               MAX_LAST_ROOM_CHARS)
    return Prefs(name=name, last_room=last_room, standby=standby)
