"""The chat protocol as pure functions: parse what a client sends, shape what the host sends.

Nothing here does I/O, so every rule can be tested on its own. A frame that breaks a rule raises
:class:`ProtocolError`, which the connection turns into an ``error`` event and carries on.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

# Event ids are JSON numbers that JavaScript reads exactly and SQLite stores as INTEGER.
MAX_ID = 2**53 - 1


class ProtocolError(Exception):
    """A client frame that cannot be accepted; ``code`` is stable, ``detail`` is for people."""

    def __init__(self, code: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after  # seconds to wait, for refusals that pass with time


@dataclass(frozen=True)
class Hello:
    name: str
    client_id: str
    since: int | None
    # The room's session token a page got in an earlier host's welcome (a password room
    # followed to its new host, where the page has no cookie yet).
    session: str | None = None


@dataclass(frozen=True)
class SendMessage:
    text: str
    client_msg_id: str
    file_id: str | None
    reply_to: int | None = None
    to: str | None = None  # the recipient's user id: a private message


@dataclass(frozen=True)
class Edit:
    target: int
    text: str
    client_msg_id: str


@dataclass(frozen=True)
class Delete:
    target: int
    client_msg_id: str


@dataclass(frozen=True)
class React:
    target: int
    emoji: str
    on: bool
    client_msg_id: str


@dataclass(frozen=True)
class Search:
    q: str
    limit: int | None
    before: int | None


@dataclass(frozen=True)
class Remove:
    """A moderator removes ``user`` from the room for ``minutes``."""

    user: str
    minutes: float
    client_msg_id: str | None


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


ClientFrame = SendMessage | Typing | Ping | Rename | Edit | Delete | React | Search | Remove


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


def parse_object(raw: str | bytes) -> dict[str, Any]:
    """A frame as a JSON object with a string ``type`` (other links' frames: the standby's)."""
    return _load(raw)


def _load(raw: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc}") from None
    except RecursionError:  # thousands of nested brackets: the parser gives up, so do we
        raise ProtocolError("bad_json", "frame is nested too deeply") from None
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


def clean_id(value: Any, field: str) -> str:
    """A client-made id (client_id, client_msg_id, file id): 1-64 letters, digits, - and _."""
    return _uuid_like(value, field)


def clean_name(value: Any, max_chars: int) -> str:
    """A display name: trimmed, NFC, no control, format or invisible characters, 1..max_chars."""
    if not isinstance(value, str):
        raise ProtocolError("bad_name", "'name' must be a string")
    # Ordinary white space (tabs, new lines) folds to single spaces; other controls are refused.
    name = " ".join(unicodedata.normalize("NFC", value).split())
    for c in name:
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise ProtocolError("bad_name", "names may not contain control or invisible "
                                            f"characters (U+{ord(c):04X})")
        if _invisible(ord(c)):
            raise ProtocolError("bad_name", "names may not contain invisible or blank "
                                            f"characters (U+{ord(c):04X})")
    if not name:
        raise ProtocolError("bad_name", "a name cannot be empty")
    if len(name) > max_chars:
        raise ProtocolError("bad_name", f"names are at most {max_chars} characters")
    return name


# Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): code points that
# render as nothing, so "Alice" plus one of them looks exactly like "Alice".
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
# Blanks that are letters or symbols by category but draw as empty space: the braille blank and
# the Hangul fillers (the last three are default-ignorable too; listed for the reader).
_FILLERS = frozenset({0x2800, 0x115F, 0x1160, 0x3164, 0xFFA0})


def _invisible(cp: int) -> bool:
    return cp in _FILLERS or any(lo <= cp <= hi for lo, hi in _DEFAULT_IGNORABLE)


def name_key(name: str) -> tuple[str, str]:
    """What two names are compared by. Two names clash when either part of their keys is equal:
    the first folds case before the look-alike mapping ("ADA" = "Аda" with a Cyrillic А), the
    second after it, where capital I is still a capital and passes for a small l ("AIice" =
    "Alice"). Both fold width and accents and map look-alikes by the UTS #39 skeleton."""
    base = _strip_marks(unicodedata.normalize("NFKD", name))
    return (skeleton(base.casefold()).casefold(), skeleton(base).casefold())


def names_clash(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two :func:`name_key` keys belong to names that pass for each other."""
    return a[0] == b[0] or a[1] == b[1]


def skeleton(text: str) -> str:
    """UTS #39 skeleton, accents dropped: each character replaced by the prototype it is
    confusable with (Cyrillic а -> a, 0 -> O, I -> l, m -> rn), so look-alikes compare equal."""
    mapped = unicodedata.normalize("NFD", text).translate(_skeleton_table())
    return _strip_marks(unicodedata.normalize("NFKD", mapped))


def _strip_marks(text: str) -> str:
    return "".join(c for c in text if not unicodedata.combining(c))


@functools.cache
def _skeleton_table() -> dict[int, str]:
    """The confusables mapping of Unicode's confusables.txt, read once from the data that the
    ``confusable_homoglyphs`` package ships. That data lists each pair in both directions; a
    source has exactly one entry (its prototype), and prototypes never map further, so an entry
    that is alone on both sides is a pair of two characters: the smaller stands for both."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    # Each entry is {"c": look-alike, "n": its name}: keep only the look-alike (less memory).
    data: dict[str, list[str]] = json.loads(
        raw, object_hook=lambda obj: obj["c"] if obj.keys() == {"c", "n"} else obj)
    del raw
    table: dict[int, str] = {}
    for char, entries in data.items():
        if len(char) != 1 or len(entries) != 1:
            continue
        target = entries[0].strip("\u200e\u200f")  # direction marks around RTL targets
        if not target or target == char:
            continue
        if len(target) == 1 and len(data.get(target, ())) == 1 and char < target:
            continue  # a pair: the other side maps to this one
        table[ord(char)] = target
    return table


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
        session=_session(data.get("session")),
    )


def _session(value: Any) -> str | None:
    """A session token from a hello: text of a sane length, else ignored (not refused: an
    old or odd client still joins a room that needs no password)."""
    if isinstance(value, str) and 0 < len(value) <= 256 and value.isascii():
        return value
    return None


def parse_frame(raw: str | bytes, max_message_bytes: int,
                max_edit_bytes: int | None = None) -> ClientFrame:
    """Any frame after hello."""
    data = _load(raw)
    kind = data["type"]
    if kind == "message":
        return _parse_message(data, max_message_bytes)
    if kind in _SIMPLE:
        return _SIMPLE[kind]()
    if kind == "rename":
        return Rename(name=data.get("name"))
    if kind == "edit":
        limit = max_message_bytes if max_edit_bytes is None else max_edit_bytes
        return Edit(_event_id(data.get("target"), "target"), _text(data, limit),
                    _uuid_like(data.get("client_msg_id"), "client_msg_id"))
    if kind == "delete":
        return Delete(_event_id(data.get("target"), "target"),
                      _uuid_like(data.get("client_msg_id"), "client_msg_id"))
    if kind == "react":
        on = data.get("on", True)
        if not isinstance(on, bool):
            raise ProtocolError("bad_field", "'on' must be true or false")
        return React(_event_id(data.get("target"), "target"), clean_emoji(data.get("emoji")),
                     on, _uuid_like(data.get("client_msg_id"), "client_msg_id"))
    if kind == "search":
        return _parse_search(data)
    if kind == "remove":
        return _parse_remove(data)
    if kind == "hello":
        raise ProtocolError("already_joined", "hello is sent once, at the start")
    raise ProtocolError("unknown_type", f"unknown frame type {kind[:40]!r}")


_SIMPLE: dict[str, type[Typing] | type[Ping]] = {"typing": Typing, "ping": Ping}


def _text(data: dict[str, Any], max_bytes: int) -> str:
    text = data.get("text", "")
    if not isinstance(text, str):
        raise ProtocolError("bad_field", "'text' must be a string")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ProtocolError("too_long", f"message is {size} bytes; the limit is {max_bytes}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("bad_field", "'text' holds unpaired surrogates") from None
    return text


def _parse_message(data: dict[str, Any], max_message_bytes: int) -> SendMessage:
    text = data.get("text", "")
    if not isinstance(text, str):
        raise ProtocolError("bad_field", "'text' must be a string")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_message_bytes:
        raise ProtocolError("too_long", f"message is {size} bytes; the limit is "
                                        f"{max_message_bytes}")
    file_id = data.get("file_id")
    if file_id is not None:
        file_id = _uuid_like(file_id, "file_id")
    if not text.strip() and file_id is None:
        raise ProtocolError("empty", "a message needs text or a file")
    text = _text(data, max_message_bytes)
    reply_to = data.get("reply_to")
    to = data.get("to")
    return SendMessage(
        text=text,
        client_msg_id=_uuid_like(data.get("client_msg_id"), "client_msg_id"),
        file_id=file_id,
        reply_to=None if reply_to is None else _event_id(reply_to, "reply_to"),
        to=None if to is None else _uuid_like(to, "to"),
    )


def _parse_search(data: dict[str, Any]) -> Search:
    q = data.get("q")
    if not isinstance(q, str) or len(q) > 256:
        raise ProtocolError("bad_field", "'q' must be a string of at most 256 characters")
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                              or limit < 1):
        raise ProtocolError("bad_field", "'limit' must be a positive integer")
    before = data.get("before")
    return Search(q, limit, None if before is None else _event_id(before, "before"))


def _parse_remove(data: dict[str, Any]) -> Remove:
    minutes = data.get("minutes")
    if (not isinstance(minutes, int | float) or isinstance(minutes, bool)
            or not 0 < minutes <= 525_600):
        raise ProtocolError("bad_field", "'minutes' must be a number from 1 to 525600")
    cmid = data.get("client_msg_id")
    return Remove(_uuid_like(data.get("user"), "user"), float(minutes),
                  None if cmid is None else _uuid_like(cmid, "client_msg_id"))


def _event_id(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise ProtocolError("bad_field", f"'{name}' must be an event id (a positive integer)")
    return value


# Characters an emoji is made of: pictographs and symbols, skin tones, joiners, variation
# selectors, keycaps and tags (subdivision flags).
_EMOJI_JOINERS = frozenset({0x200D, 0xFE0E, 0xFE0F, 0x20E3})


def clean_emoji(value: Any) -> str:
    """One emoji (a pictograph with its modifiers, a flag, a keycap), at most 16 code points;
    anything else (letters, words, markup, blanks) is refused with ``bad_emoji``."""
    if not isinstance(value, str) or not 1 <= len(value) <= 16:
        raise ProtocolError("bad_emoji", "'emoji' must be one emoji")
    value = str(unicodedata.normalize("NFC", value))
    pictures = 0
    for i, c in enumerate(value):
        cp = ord(c)
        category = unicodedata.category(c)
        if category in ("So", "Sk") or 0x1F1E6 <= cp <= 0x1F1FF:
            pictures += 1
        elif cp in _EMOJI_JOINERS or 0xE0020 <= cp <= 0xE007F or category in ("Mn", "Me"):
            continue
        elif c in "0123456789#*" and value[i + 1:i + 3].replace("\ufe0f", "")[:1] == "\u20e3":
            pictures += 1
        else:
            raise ProtocolError("bad_emoji", "'emoji' must be one emoji, not text")
    if not pictures:
        raise ProtocolError("bad_emoji", "'emoji' must be one emoji")
    return str(value)


def mentions(text: str, people: dict[str, str]) -> list[str]:
    """The user ids named with ``@name`` in ``text``. A name may hold spaces ("@Ada Lovelace"):
    at each ``@`` the longest known name that follows, compared case-insensitively and ending
    where a word ends, wins; names that pass for each other by :func:`name_key` are not
    matched by look-alikes, only by their own spelling (case aside)."""
    if "@" not in text:
        return []
    folded = text.casefold()
    by_length = sorted(((n.casefold(), i) for i, n in people.items()), key=lambda p: -len(p[0]))
    found: list[str] = []
    start = folded.find("@")
    while start != -1:
        if start == 0 or not folded[start - 1].isalnum():
            for name, user_id in by_length:
                end = start + 1 + len(name)
                if name and folded.startswith(name, start + 1) and (
                        end >= len(folded) or not (folded[end].isalnum() or folded[end] == "_")):
                    if user_id not in found:
                        found.append(user_id)
                    break
        start = folded.find("@", start + 1)
    return found


def fts_query(q: str) -> str | None:
    """A search box's words as an FTS5 query: every word must occur, in any order. A word
    typed with a ``*`` after it (two characters or more) also matches words it starts: that
    costs more on a big history (about 10 ms for a common start over a million messages, against
    0.1 ms for a whole word), so it is the person's choice. Quotes and operators typed by a
    person are words like any other. None when there is no word."""
    text = unicodedata.normalize("NFKC", q)
    quoted = []
    for match in re.finditer(r"[^\W_]+(\*?)", text):
        word = match.group(0).rstrip("*")
        prefix = match.group(1) == "*" and len(word) >= 2
        quoted.append(f'"{word}"' + ("*" if prefix else ""))
    if not quoted:
        return None
    return " ".join(quoted[:16])
