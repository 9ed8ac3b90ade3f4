"""Rooms this computer hosts: each room name has its own folder, history and password record.

Hosting "Standup" after "Maya's room" must not rename Maya's room nor show its history to the
people in Standup, so every name maps to its own folder under ``<data dir>/rooms/``. A room that
was hosted with a password keeps a salted hash of it in ``room.json``: hosting that room again
needs the same password, so a room never loses its password by an omission in a form.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RECORD = "room.json"


class RoomPasswordError(ValueError):
    """The room exists with a password, and the one given does not match it."""


def room_folder(data_dir: Path, name: str) -> Path:
    """``<data dir>/rooms/<slug>-<digest>``: readable, and distinct for every distinct name."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:40] or "room"
    digest = hashlib.sha256(name.strip().encode()).hexdigest()[:10]
    return data_dir / "rooms" / f"{slug}-{digest}"


def _derive(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


@dataclass(frozen=True)
class RoomRecord:
    """What is kept about a hosted room besides its history: its name and password hash."""

    name: str
    salt: str = ""
    password_hash: str = ""

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    def password_matches(self, password: str | None) -> bool:
        if not self.has_password:
            return not password
        if not password:
            return False
        return hmac.compare_digest(_derive(password, bytes.fromhex(self.salt)).hex(),
                                   self.password_hash)


def load_record(folder: Path) -> RoomRecord | None:
    """The room's record, or None for a room never hosted (or a record unreadable)."""
    try:
        data = json.loads((folder / RECORD).read_text("utf-8"))
        return RoomRecord(str(data["name"]), str(data.get("salt", "")),
                          str(data.get("password_hash", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("room record in %s unreadable: %s", folder, exc)
        return None


def save_record(folder: Path, name: str, password: str | None) -> RoomRecord:
    """Write the record (atomically) for a room hosted now with ``password``."""
    salt = secrets.token_bytes(16) if password else b""
    record = RoomRecord(name, salt.hex(), _derive(password, salt).hex() if password else "")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (RECORD + ".tmp")
    tmp.write_text(json.dumps({"name": record.name, "salt": record.salt,
                               "password_hash": record.password_hash}), "utf-8")
    tmp.replace(folder / RECORD)
    return record


def prepare_room(data_dir: Path, name: str, password: str | None) -> Path:
    """The folder to host ``name`` from; raises RoomPasswordError when the room has a
    password and ``password`` is not it (missing or different)."""
    folder = room_folder(data_dir, name)
    record = load_record(folder)
    if record is not None and record.has_password and not record.password_matches(password):
        raise RoomPasswordError(
            f"“{name}” was hosted with a password. Type that password to host it again "
            "(its history is only for the people who know it).")
    if record is None or (password and not record.has_password):
        save_record(folder, name, password)
    return folder
