"""The chat protocol as pure functions: parse what a client sends, shape what the host sends.

Nothing here does I/O, so every rule can be tested on its own. A frame that breaks a rule raises
:class:`ProtocolError`, which the connection turns into an ``error`` event and carries on.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Event ids are JSON numbers that JavaScript reads exactly and SQLite stores as INTEGER.
MAX_ID = 2**53 - 1


class ProtocolError(Exception):
    """A client frame that cannot be accepted; ``code`` is stable, ``detail`` is for people."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Hello:
    name: str
    client_id: str
    since: int | None


@dataclass(frozen=True)
class SendMessage:
    text: str
    client_msg_id: str
    file_id: str | None


@dataclass(frozen=True)
class Typing:
    pass


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class Rename:
    """A new display name, as sent; the hub cleans it with the room's own name length limit."""

    name: object


ClientFrame = SendMessage | Typing | Ping | Rename


def now_iso() -> str:
    """The current time as ISO 8601 UTC with milliseconds, the format of every ``ts``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_id_for(client_id: str) -> str:
    """The public id of a client: a one-way digest, so seeing it does not let anyone pose as it."""
    return hashlib.sha256(client_id.encode()).hexdigest()[:16]


def encode(event: dict[str, Any]) -> str:
    """One compact JSON text per event, made once and sent to every recipient as is."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def error_event(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail, **extra}


def _load(raw: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", "a frame must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_frame", "a frame needs a string 'type'")
    return data


def _uuid_like(value: Any, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise ProtocolError("bad_field", f"'{field}' must be a string of 1 to 64 characters")
    if any(not (c.isalnum() or c in "-_") for c in value):
        raise ProtocolError("bad_field", f"'{field}' may hold only letters, digits, '-' and '_'")
    return value


def clean_name(value: Any, max_chars: int) -> str:
    """A display name: trimmed, NFC, no control or format characters, 1..max_chars long."""
    if not isinstance(value, str):
        raise ProtocolError("bad_name", "'name' must be a string")
    # Ordinary white space (tabs, new lines) folds to single spaces; other controls are refused.
    name = " ".join(unicodedata.normalize("NFC", value).split())
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for c in name):
        raise ProtocolError("bad_name", "names may not contain control or invisible characters")
    if not name:
        raise ProtocolError("bad_name", "a name cannot be empty")
    if len(name) > max_chars:
        raise ProtocolError("bad_name", f"names are at most {max_chars} characters")
    return name


def name_key(name: str) -> str:
    """What two names are compared by: case, width and accents folded, look-alikes mapped."""
    folded = unicodedata.normalize("NFKD", name).casefold()
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return folded.translate(_CONFUSABLES)


# Latin look-alikes from Cyrillic and Greek, and digits that pass for letters.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
        "ј": "j", "ѕ": "s", "ԁ": "d", "ο": "o", "α": "a", "ν": "v", "ι": "i", "κ": "k",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "0": "o", "1": "l", "|": "l",
    }
)


def parse_hello(raw: str | bytes, max_name_chars: int) -> Hello:
    """The first frame of every connection."""
    data = _load(raw)
    if data["type"] != "hello":
        raise ProtocolError("hello_required", "the first frame must be {'type': 'hello', ...}")
    since = data.get("since")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool)
                              or not 0 <= since <= MAX_ID):
        raise ProtocolError("bad_field", "'since' must be an event id (a non-negative integer) "
                                         "or null")
    client_id = data.get("client_id")
    if client_id is None:
        client_id = str(uuid.uuid4())
    return Hello(
        name=clean_name(data.get("name"), max_name_chars),
        client_id=_uuid_like(client_id, "client_id"),
        since=since,
    )


def parse_frame(raw: str | bytes, max_message_bytes: int) -> ClientFrame:
    """Any frame after hello."""
    data = _load(raw)
    kind = data["type"]
    if kind == "message":
        text = data.get("text", "")
        if not isinstance(text, str):
            raise ProtocolError("bad_field", "'text' must be a string")
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > max_message_bytes:
            raise ProtocolError(
                "too_long",
                f"message is {size} bytes; the limit is {max_message_bytes}",
            )
        file_id = data.get("file_id")
        if file_id is not None:
            file_id = _uuid_like(file_id, "file_id")
        if not text.strip() and file_id is None:
            raise ProtocolError("empty", "a message needs text or a file")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError("bad_field", "'text' holds unpaired surrogates") from None
        return SendMessage(
            text=text,
            client_msg_id=_uuid_like(data.get("client_msg_id"), "client_msg_id"),
            file_id=file_id,
        )
    if kind == "typing":
        return Typing()
    if kind == "ping":
        return Ping()
    if kind == "rename":
        return Rename(name=data.get("name"))
    if kind == "hello":
        raise ProtocolError("already_joined", "hello is sent once, at the start")
    raise ProtocolError("unknown_type", f"unknown frame type {kind[:40]!r}")
