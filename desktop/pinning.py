"""Which host certificates the window accepts: pinned fingerprints, never a silent yes.

Every LAN Chat host makes its own self-signed certificate, so no certificate authority can say
who is who; the window's web engine asks this module about each one (desktop/qtbridge.py, the
certificate-error hook). A certificate is accepted when:

- the room was picked from the lobby, and the certificate's SHA-256 is the fingerprint that
  room's zeroconf advertisement carried (TXT ``fp``); any other certificate is refused;
- else the room (by the id its ``/api/room`` gives, asked over a connection that presents this
  very certificate) was joined before with the same certificate (``pins.json``);
- else it is the room's first visit: the person is shown the safety code to compare with the
  host's screen, and only their yes accepts it (and pins it). A room remembered with another
  certificate is refused, with a plain explanation, and nothing is asked.

Why the certificate-error hook and not a pinned relay through the embedded server: the hook
sees the exact certificate the engine is about to trust, before any byte of the page is sent,
and the page keeps its own origin (``https://host:port``), so cookies, the Origin check and the
bridge's own-page rule stay as they are. A relay would serve every remote room from this
machine's loopback origin, which the bridge trusts as "own page". The hook's limit: the engine
calls it only for certificates it does not trust by itself, so a host given a certificate from
an authority the system trusts is trusted as any browser would (its name was checked).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import tempfile
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from server.tls import fingerprint, safety_code

log = logging.getLogger(__name__)

PINS_FILE = "pins.json"
MAX_PINS = 1000
FETCH_TIMEOUT = 5.0
MAX_ROOM_BYTES = 64 * 1024

Action = Literal["accept", "ask", "refuse"]


@dataclass(frozen=True)
class Verdict:
    """What to do with a certificate, and the words for the person (``ask`` and ``refuse``)."""

    action: Action
    text: str = ""
    room_id: str = ""
    room: str = ""


class PinStore:
    """``pins.json``: room id -> the fingerprint its certificate had; safe across threads."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / PINS_FILE
        self._lock = threading.Lock()

    def load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("pinned certificates unreadable (%s): %s", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)
                and isinstance(v.get("fp"), str)}

    def get(self, room_id: str) -> str | None:
        entry = self.load().get(room_id)
        return entry["fp"] if entry else None

    def remember(self, room_id: str, fp: str, room: str, address: str) -> None:
        """Pin ``room_id`` to ``fp`` (written atomically, readable by this user only)."""
        with self._lock:
            pins = self.load()
            pins.pop(room_id, None)
            pins[room_id] = {"fp": fp, "room": room[:200], "address": address[:300]}
            while len(pins) > MAX_PINS:
                pins.pop(next(iter(pins)))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".pins-", suffix=".json", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(pins, f, ensure_ascii=False, indent=2)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def host_port(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of an https URL (port 443 when not given), or None."""
    try:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            return None
        return parts.hostname, parts.port or 443
    except ValueError:
        return None


def discovered_at(peers: list[dict[str, Any]], host: str, port: int) -> dict[str, Any] | None:
    """The room discovered at host:port that advertised a fingerprint, or None."""
    for peer in peers:
        if peer.get("port") == port and peer.get("host") == host and peer.get("fingerprint"):
            return peer
    return None


def fetch_room(host: str, port: int, fp: str, timeout: float = FETCH_TIMEOUT) -> dict[str, Any]:
    """``GET /api/room`` over a TLS connection that must present the certificate ``fp``
    (whatever else it is), so the room id read is the one behind that certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # checked below, by its fingerprint
    with socket.create_connection((host, port), timeout=timeout) as raw, \
            context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True) or b""
        if fingerprint(der) != fp:
            raise ssl.SSLError("the host presented another certificate on a second connection")
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        tls.sendall(f"GET /api/room HTTP/1.0\r\nHost: {netloc}\r\nAccept: application/json"
                    "\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while len(data) <= MAX_ROOM_BYTES:
            chunk = tls.recv(16384)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or head.split(b" ", 2)[1:2] != [b"200"]:
        raise ValueError("the host did not answer /api/room")
    room = json.loads(body)
    if not isinstance(room, dict) or not isinstance(room.get("room_id"), str):
        raise ValueError("the host's /api/room has no room id")
    return room


def own_peers(origin: str) -> list[dict[str, Any]]:
    """The rooms this app's own server has discovered (its ``/api/peers``), [] if none."""
    try:
        with urllib.request.urlopen(f"{origin}/api/peers", timeout=FETCH_TIMEOUT) as res:
            data = json.loads(res.read(1024 * 1024))
    except (OSError, ValueError):
        return []
    peers = data.get("peers") if isinstance(data, dict) else None
    return [p for p in peers if isinstance(p, dict)] if isinstance(peers, list) else []


class Pinning:
    """Decides about one certificate at a time (called on a worker thread: it may ask hosts)."""

    def __init__(self, pins: PinStore, peers: Callable[[], list[dict[str, Any]]],
                 fetch: Callable[[str, int, str], dict[str, Any]] = fetch_room) -> None:
        self.pins = pins
        self.peers = peers
        self.fetch = fetch

    def judge(self, url: str, der: bytes) -> Verdict:
        """Accept, ask the person, or refuse the certificate ``der`` shown for ``url``."""
        where = host_port(url)
        if where is None or not der:
            return Verdict("refuse", "LAN Chat opens rooms only over https with a certificate.")
        host, port = where
        fp, address = fingerprint(der), f"{host}:{port}"
        peer = discovered_at(self.peers(), host, port)
        if peer is not None:
            return self._judge_announced(peer, fp, address, url)
        try:
            room = self.fetch(host, port, fp)
        except (OSError, ValueError, ssl.SSLError) as exc:
            log.info("cannot read the room behind %s's certificate: %s", address, exc)
            return Verdict("refuse", f"The computer at {address} did not answer as a LAN Chat "
                                     "room, so its certificate was not accepted.")
        room_id, name = room["room_id"], str(room.get("room") or "a room")[:100]
        known = self.pins.get(room_id)
        if known == fp:
            return Verdict("accept", room_id=room_id, room=name)
        if known is not None:
            return Verdict("refuse", refusal_text(address, known, fp, "remembered", name),
                           room_id, name)
        return Verdict("ask", first_visit_text(name, address, fp), room_id, name)


    def _judge_announced(self, peer: dict[str, Any], fp: str, address: str,
                         url: str) -> Verdict:
        """A room picked from the lobby: its certificate must be the one announced, and, for a
        room joined before, the one remembered (an announcement is easy to forge on a LAN; a
        pin made earlier is not). Accepted, it is remembered too."""
        room_id, name = str(peer.get("id") or ""), str(peer.get("name") or "")[:100]
        if peer["fingerprint"] != fp:
            return Verdict("refuse", refusal_text(address, str(peer["fingerprint"]), fp,
                                                  "announced", name), room_id, name)
        known = self.pins.get(room_id) if room_id else None
        if known is not None and known != fp:
            return Verdict("refuse", refusal_text(address, known, fp, "remembered", name),
                           room_id, name)
        if room_id and known is None:
            self.pins.remember(room_id, fp, name, url)
        return Verdict("accept", room_id=room_id, room=name)


def refusal_text(address: str, expected: str, got: str, how: str, room: str = "") -> str:
    """The plain explanation of a refusal, with both safety codes."""
    which = (f"The room “{room}” was joined before from this computer with safety code "
             f"{safety_code(expected)}" if how == "remembered" else
             f"The room “{room}” announced itself on your network with safety code "
             f"{safety_code(expected)}")
    return (f"LAN Chat did not open {address}. {which}, but the computer answering now "
            f"shows safety code {safety_code(got)}. Someone on the network may be listening "
            "in between, or the room's host made a new certificate. Ask the host to read the "
            "safety code in their room's header; until it matches, do not join.")


def first_visit_text(room: str, address: str, fp: str) -> str:
    return (f"First visit to “{room}” at {address}. Its safety code is {safety_code(fp)}. "
            "Ask the host to read the code shown in their room's header: join only if it is "
            "the same. LAN Chat remembers it and warns you if it ever changes.")
