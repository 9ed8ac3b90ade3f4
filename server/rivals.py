"""Two hosts of one room converge on one: a network split that heals, or two successors that
both took the room over.

While a host serves a room it keeps looking at the other places the room may be served from
(its former hosts, the standbys it has had, and the hosts of its room id that discovery hears),
asking each ``GET /api/room``. When one of them serves the same room (not standing by), the two
compare their claims (:class:`Claim`): the higher ``(term, last_id)`` stays, ties going to the
lexicographically smaller base URL. Both sides apply the same rule to the same facts, so exactly
one of them steps down: it tells its clients ``moved`` and becomes the winner's standby
(:mod:`server.app`), its diverged history set aside under another name, never deleted.

A rival must prove it holds the room's secret (``proof``: an HMAC of a fresh nonce and its
claim) and, over TLS, present the room's own certificate: only the room's hosts and standbys
hold either, so anyone else claiming the room id with a higher term is not believed. A probe
names the host that sends it, so a host that did not know of the other looks back.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from .security import NONCE_HEADER, RIVAL_HEADER

log = logging.getLogger(__name__)

PROBE_SECONDS = 2.0  # between rounds of looking for another host of the room
PROBE_TIMEOUT = 1.5  # for one answer (a host behind a pulled cable gives none)
MAX_BODY = 256 * 1024
MAX_PROBES = 32  # addresses asked in one round, the latest heard of first
PROBE_THREADS = 4  # of their own: probes of unreachable hosts never hold up the loop's pool


@dataclass(frozen=True)
class Claim:
    """What a host of the room stands on: its ``term``, its ``last_id``, its base URL."""

    term: int
    last_id: int
    url: str

    def beats(self, other: Claim) -> bool:
        """This host stays and ``other`` steps down (never both, never neither for two
        different URLs)."""
        mine, theirs = (self.term, self.last_id), (other.term, other.last_id)
        return mine > theirs or (mine == theirs and self.url < other.url)


def proof(secret: bytes, nonce: str, room_id: str, term: int, last_id: int) -> str:
    """What a host of the room answers to a nonce: only a holder of the room's secret (its
    hosts and standbys) can say it. Keyed apart from the session tokens the secret signs."""
    key = hashlib.sha256(secret + b"/rival").digest()
    message = f"{nonce}|{room_id}|{term}|{last_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def good_nonce(nonce: str | None) -> bool:
    return nonce is not None and 16 <= len(nonce) <= 64 and nonce.isalnum()


def claim_url(urls: list[str]) -> str:
    """The base URL a host is compared by: the smallest of those it answers on."""
    return min(u.rstrip("/") for u in urls)


def probe(url: str, room_id: str, fingerprint: str | None, own_url: str,
          secret: bytes) -> Claim | None:
    """Blocking: the claim of the host at ``url`` when it serves ``room_id`` now, else None
    (unreachable, standing by, another room, no proof of the room's secret, or the wrong
    certificate). The request names
    ``own_url``: a host of the room that did not know of this one looks back (the rule is
    only applied when both sides see each other)."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        return None
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False  # self-signed: checked by fingerprint just below
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=PROBE_TIMEOUT,
                                           context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=PROBE_TIMEOUT)
    try:
        nonce = secrets.token_hex(16)
        conn.request("GET", "/api/room", headers={"Host": parts.netloc, RIVAL_HEADER: own_url,
                                                  NONCE_HEADER: nonce})
        answer = conn.getresponse()
        body = json.loads(answer.read(MAX_BODY)) if answer.status == 200 else None
        sock = conn.sock
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    if fingerprint is not None and (der is None
                                    or hashlib.sha256(der).hexdigest() != fingerprint):
        return None
    claim = _claim_of(body, room_id, url)
    if claim is None or not isinstance(body, dict):
        return None
    expected = proof(secret, nonce, room_id, claim.term, claim.last_id)
    if not hmac.compare_digest(str(body.get("proof")), expected):
        log.warning("%s claims this room but cannot prove it holds the room's secret", url)
        return None
    return claim


def _claim_of(body: object, room_id: str, url: str) -> Claim | None:
    if not isinstance(body, dict) or body.get("room_id") != room_id or body.get("standby"):
        return None
    term, last_id, urls = body.get("term"), body.get("last_id"), body.get("urls")
    if not isinstance(term, int) or not isinstance(last_id, int):
        return None  # an older host that does not say: it cannot be compared
    named = [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else []
    return Claim(term, last_id, claim_url(named or [url]))


def asking_host(named: str | None, address: str | None) -> str | None:
    """The base URL of a host that asked about the room naming itself (``RIVAL_HEADER``): its
    scheme and port, at the address the request came from (a host can only point at itself)."""
    if not named or not address or len(named) > 300:
        return None
    try:
        parts = urlsplit(named)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or port is None:
        return None
    host = f"[{address}]" if ":" in address else address
    return f"{parts.scheme}://{host}:{port}"


class RivalWatch:
    """Looks for another host of the room every :data:`PROBE_SECONDS`, on the host's loop,
    until one outranks this host: then ``outranked(url, claim)`` runs once and it stops."""

    def __init__(self, room_id: str, secret: bytes, fingerprint: str | None,
                 own: Callable[[], Claim],
                 candidates: Callable[[], list[str]],
                 outranked: Callable[[str, Claim], Awaitable[None]]) -> None:
        self.room_id = room_id
        self.secret = secret
        self.fingerprint = fingerprint
        self._own = own
        self._candidates = candidates
        self._outranked = outranked
        self._pool: ThreadPoolExecutor | None = None

    async def run(self) -> None:
        pool = self._pool = ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="rivals-probe")
        try:
            while True:
                await asyncio.sleep(PROBE_SECONDS)
                found = await self.check()
                if found is not None:
                    url, claim = found
                    await self._outranked(url, claim)
                    return
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    async def check(self) -> tuple[str, Claim] | None:
        """One round: the host that outranks this one, if any serves the room now."""
        own = self._own()
        urls = [u.rstrip("/") for u in reversed(self._candidates())]
        urls = [u for u in dict.fromkeys(urls) if u != own.url][:MAX_PROBES]
        loop = asyncio.get_running_loop()
        claims = await asyncio.gather(*(loop.run_in_executor(
            self._pool, probe, u, self.room_id, self.fingerprint, own.url, self.secret)
            for u in urls))
        best: tuple[str, Claim] | None = None
        for url, claim in zip(urls, claims, strict=True):
            if claim is None or claim.url == own.url:
                continue  # ourselves, under another of our addresses
            if claim.beats(own) and (best is None or claim.beats(best[1])):
                best = (url, claim)
        if best is not None:
            log.warning("another host serves this room at %s (term %d, last id %d) and "
                        "outranks this one (term %d, last id %d): stepping down", best[0],
                        best[1].term, best[1].last_id, own.term, own.last_id)
        return best
