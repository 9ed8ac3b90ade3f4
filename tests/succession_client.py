"""Clients that follow a room from host to host, run inside a test's network namespace.

``python -m tests.succession_client stream BASE_URL NAME``: a person who joins the room at
``BASE_URL`` and sends ``--count`` messages, one every ``1/--rate`` s, as the protocol's design
for hand-over says a client behaves:

- **Outbox.** Every message keeps its ``client_msg_id`` and stays in the outbox after its
  acknowledgement (state ``sent``, with the id and the host that gave it), until the host it is
  connected to now has acknowledged it. After connecting to a host that has not, it sends the
  message again with the same ``client_msg_id`` (the host stores a repeated one only once).
- **Following the room.** On ``moved`` (or close 4301) it connects to the URL given. When the
  link drops otherwise, it tries the same host, then each successor of the host's last
  ``successors`` list in order, then every other host or standby of the room it heard of
  (newest first; it does no discovery), then starts over, until its deadline; a URL it could
  not reach goes to the end of the list for 5 s. It accepts a host only if the welcome's
  ``room_id`` is the room's. It reconnects with ``since`` = the last id it saw.
- **A new term.** When a welcome's ``term`` is higher than the one it knew (or the host it left
  stepped down for this one: ``moved`` with ``diverged``) and it saw ids above the welcome's
  ``last_id``, those events never reached the new host: it forgets them.

It prints one JSON line per thing that happened, each with ``t`` (``time.monotonic()``, shared
by every process on the machine): ``connected``, ``moved``, ``lost``, ``sent`` and at the end
``done`` with what it saw (``ids``: every stored event id in the order received, ``dups``,
``forgotten``) and its outbox. Exit status 0 when every message was acknowledged by the host it
ended on, 1 otherwise.

``python -m tests.succession_client room URL``: poll ``URL/api/room`` every 20 ms and print a
line each time what it says (standby, term, room_id, successors) changes; for the test to time
when a standby starts serving.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

MOVED_CODE = 4301
FAILED_MEMORY = 5.0  # seconds an unreachable URL goes to the end of the list


def emit(**record: Any) -> None:
    record["t"] = time.monotonic()
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def any_certificate() -> ssl.SSLContext:
    """Every host of a room serves the room's one self-signed certificate; the test compares
    fingerprints itself, so the client accepts any."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def ws_url(base: str) -> str:
    base = base if base.endswith("/") else base + "/"
    return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "ws"


@dataclass
class Outgoing:
    """One message of the outbox: sent until the current host has acknowledged it."""

    cmid: str
    text: str
    sent_at: float
    acked_id: int | None = None
    acked_by: str | None = None  # base URL of the host whose echo acknowledged it
    sends: int = 0
    acks: list[tuple[str, int]] = field(default_factory=list)  # (host, id), each host once


@dataclass
class Person:
    """What one client knows: the room, the host it follows, what it saw and what it sent."""

    name: str
    base: str
    room_id: str | None = None
    term: int = -1
    diverged: bool = False  # our host stepped down for another (its ids may differ from ours)
    successors: list[str] = field(default_factory=list)
    last_id: int = 0
    ids: list[int] = field(default_factory=list)  # stored event ids, in the order received
    seen: set[int] = field(default_factory=set)
    dups: list[int] = field(default_factory=list)
    forgotten: list[int] = field(default_factory=list)
    outbox: dict[str, Outgoing] = field(default_factory=dict)
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    moved_to: str | None = None
    hosts: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)  # every URL of the room heard of, newest first

    def heard_of(self, urls: list[str]) -> None:
        """Remember the room's hosts and standbys: the last resort when the host's current
        list is empty (a host clears it as it hands the room over) and its successor is gone."""
        for url in reversed(urls):
            url = url if url.endswith("/") else url + "/"
            if url in self.known:
                self.known.remove(url)
            self.known.insert(0, url)

    def saw(self, event: dict[str, Any]) -> None:
        """Record a stored event (one with an id); a repeat is a duplicate unless it is the
        acknowledgement of our own resent message."""
        event_id = event.get("id")
        if not isinstance(event_id, int):
            return
        cmid = event.get("client_msg_id")
        mine = self.outbox.get(cmid) if isinstance(cmid, str) else None
        if mine is not None:
            first = mine.acked_id is None
            if mine.acked_by != self.base:
                mine.acks.append((self.base, event_id))
            mine.acked_id, mine.acked_by = event_id, self.base
            acked = sum(m.acked_id is not None for m in self.outbox.values())
            if first and acked % 10 == 0:
                emit(acked=acked, last_id=event_id)
        if event_id in self.seen:
            if mine is None:
                self.dups.append(event_id)
            return
        self.seen.add(event_id)
        self.ids.append(event_id)
        self.last_id = max(self.last_id, event_id)

    def welcomed(self, welcome: dict[str, Any]) -> None:
        term = int(welcome.get("term") or 0)
        last = int(welcome.get("last_id") or 0)
        if self.term >= 0 and (term > self.term or self.diverged):
            lost = [i for i in self.ids if i > last]
            if lost:
                self.forgotten.extend(lost)
                self.ids = [i for i in self.ids if i <= last]
                self.seen.difference_update(lost)
                self.last_id = max(self.ids, default=0)
        self.term = max(self.term, term)
        self.diverged = False
        self.room_id = self.room_id or welcome.get("room_id")
        self.successors = list(welcome.get("successors") or [])
        self.heard_of(self.successors)
        again = bool(welcome.get("reset"))  # since was ahead: the latest page, seen or not
        for event in welcome.get("events") or []:
            if again and event.get("id") in self.seen:
                continue
            self.saw(event)

    def unconfirmed(self) -> list[Outgoing]:
        return [m for m in self.outbox.values() if m.acked_by != self.base]


class Stream:
    """Send a steady stream while following the room; see the module's docstring."""

    def __init__(self, person: Person, count: int, rate: float, seconds: float,
                 linger: float) -> None:
        self.p = person
        self.count = count
        self.gap = 1.0 / rate
        self.deadline = time.monotonic() + seconds
        self.linger = linger
        self.ws: ClientConnection | None = None
        self.failed: dict[str, float] = {}  # URL -> when it last could not be reached

    async def run(self) -> int:
        sender = asyncio.create_task(self.send_stream())
        try:
            while time.monotonic() < self.deadline:
                if self.finished():
                    break
                await self.follow()
        finally:
            sender.cancel()
        ok = self.finished()
        stored = await asyncio.to_thread(stored_history, self.p)
        emit(done=True, ok=ok, host=self.p.base, term=self.p.term, ids=self.p.ids,
             stored=stored,
             dups=self.p.dups, forgotten=self.p.forgotten, hosts=self.p.hosts,
             outbox=[{"cmid": m.cmid, "text": m.text, "id": m.acked_id, "by": m.acked_by,
                      "sends": m.sends, "acks": m.acks} for m in self.p.outbox.values()])
        return 0 if ok else 1

    def finished(self) -> bool:
        done_sending = len(self.p.outbox) >= self.count
        return done_sending and not self.p.unconfirmed() and self.settled()

    def settled(self) -> bool:
        last_ack = max((m.sent_at for m in self.p.outbox.values()), default=0.0)
        return time.monotonic() - last_ack >= self.linger

    async def send_stream(self) -> None:
        """One new message every ``gap`` seconds, whatever the link is doing: while it is
        down, messages wait in the outbox and go out on the next welcome."""
        for k in range(self.count):
            message = Outgoing(str(uuid.uuid4()), f"{self.p.name} #{k}", time.monotonic())
            self.p.outbox[message.cmid] = message
            await self.send(message)
            await asyncio.sleep(self.gap)

    async def send(self, message: Outgoing) -> None:
        ws = self.ws
        if ws is None:
            return
        try:
            await ws.send(json.dumps({"type": "message", "text": message.text,
                                      "client_msg_id": message.cmid}))
            message.sends += 1
        except ConnectionClosed:
            return

    async def follow(self) -> None:
        """Connect to the next candidate host and serve the link until it ends."""
        for base in self.candidates():
            if time.monotonic() >= self.deadline:
                return
            if await self.session(base):
                return
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.3)

    def candidates(self) -> list[str]:
        """Where to try next: where the room moved, else the host, its successors, then every
        other URL of the room heard of. One that could not be reached in the last few seconds
        goes last (a standby that does not serve yet still points at the host it lost)."""
        def failed_lately(url: str) -> bool:
            return time.monotonic() - self.failed.get(url, -1e9) < FAILED_MEMORY
        if self.p.moved_to:
            moved, self.p.moved_to = self.p.moved_to, None
            if not failed_lately(moved if moved.endswith("/") else moved + "/"):
                return [moved]
        order = [self.p.base, *self.p.successors, *self.p.known]
        urls = list(dict.fromkeys(u if u.endswith("/") else u + "/" for u in order))
        return sorted(urls, key=failed_lately)

    async def session(self, base: str) -> bool:
        """One connection to ``base``: True if it was a host of our room (whatever ended it)."""
        try:
            async with connect(ws_url(base), ssl=any_certificate() if base.startswith(
                    "https") else None, open_timeout=3, close_timeout=1, ping_interval=2,
                               ping_timeout=3, max_size=None) as ws:
                await ws.send(json.dumps({"type": "hello", "name": self.p.name,
                                          "client_id": self.p.client_id,
                                          "since": self.p.last_id or None}))
                welcome = await self.first_answer(ws, base)
                if welcome is None:
                    return self.p.moved_to is not None
                self.ws = ws
                emit(connected=base, term=welcome.get("term"), room_id=welcome.get("room_id"),
                     last_id=welcome.get("last_id"), successors=self.p.successors)
                for message in self.p.unconfirmed():
                    await self.send(message)
                await self.listen(ws)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.failed[base if base.endswith("/") else base + "/"] = time.monotonic()
            emit(unreachable=base, why=repr(exc)[:200])
            return False
        except ConnectionClosed as exc:
            self.closed(base, exc)
        finally:
            self.ws = None
        return True

    async def first_answer(self, ws: ClientConnection, base: str) -> dict[str, Any] | None:
        """The welcome of a host of our room, or None (a standby's ``moved``, another room)."""
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if event.get("type") == "moved":
                self.p.moved_to = str(event["url"])
                self.p.heard_of([self.p.moved_to])
                emit(moved=self.p.moved_to, at=base, term=event.get("term"))
                return None
            if event.get("type") == "welcome":
                if self.p.room_id and event.get("room_id") != self.p.room_id:
                    emit(foreign=base, room_id=event.get("room_id"))
                    return None
                self.p.base = base
                self.p.hosts.append(base)
                self.p.welcomed(event)
                return dict(event)
            if event.get("type") == "error":
                emit(error=event, at=base)

    async def listen(self, ws: ClientConnection) -> None:
        while not self.finished() and time.monotonic() < self.deadline:
            try:
                event = json.loads(await asyncio.wait_for(ws.recv(), 0.25))
            except TimeoutError:
                continue
            kind = event.get("type")
            if kind == "moved":
                self.p.diverged = self.p.diverged or event.get("diverged") is True
                self.p.moved_to = str(event["url"])
                self.p.heard_of([self.p.moved_to])
                emit(moved=self.p.moved_to, at=self.p.base, term=event.get("term"))
            elif kind == "successors":
                self.p.successors = list(event.get("urls") or [])
                self.p.heard_of(self.p.successors)
                emit(successors=self.p.successors)
            elif kind == "error":
                emit(error=event)
                self.retry_later(event)
            else:
                self.p.saw(event)

    def retry_later(self, error: dict[str, Any]) -> None:
        """A message the host refused for now (``rate_limited``, ``store_failed``) goes out
        again after the wait it named."""
        message = self.p.outbox.get(str(error.get("client_msg_id")))
        if message is None:
            return
        wait = float(error.get("retry_after") or 0.5)
        asyncio.get_running_loop().call_later(
            wait, lambda: asyncio.ensure_future(self.send(message)))

    def closed(self, base: str, exc: ConnectionClosed) -> None:
        rcvd = exc.rcvd
        code = rcvd.code if rcvd is not None else None
        reason = rcvd.reason if rcvd is not None else ""
        if code == MOVED_CODE and self.p.moved_to is None and "moved to " in reason:
            self.p.moved_to = reason.split("moved to ", 1)[1].strip()
        emit(lost=base, code=code, reason=reason)


def stored_history(person: Person) -> dict[str, Any]:
    """The history of the host the person ended on: every id, and how often each of the
    person's own messages is stored (``X-LanChat-Client``: private events would count too)."""
    ids: list[int] = []
    mine: dict[str, int] = {cmid: 0 for cmid in person.outbox}
    after = 0
    try:
        with httpx.Client(base_url=person.base, verify=any_certificate(), timeout=10,
                          trust_env=False,
                          headers={"X-LanChat-Client": person.client_id}) as http:
            for _page in range(1000):
                body = http.get("/api/events", params={"after": after, "limit": 500}).json()
                for event in body["events"]:
                    ids.append(int(event["id"]))
                    cmid = event.get("client_msg_id")
                    if cmid in mine:
                        mine[cmid] += 1
                if not body["events"] or not body.get("has_more"):
                    break
                after = ids[-1]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return {"error": repr(exc)[:200]}
    return {"ids": ids, "mine": mine}


async def watch_room(url: str, seconds: float) -> int:
    """Print ``/api/room``'s succession fields each time they change."""
    deadline = time.monotonic() + seconds
    last: Any = None
    async with httpx.AsyncClient(verify=any_certificate(), timeout=2, trust_env=False) as http:
        while time.monotonic() < deadline:
            try:
                body = (await http.get(url.rstrip("/") + "/api/room")).json()
                now = {k: body.get(k) for k in ("standby", "term", "room_id", "successors",
                                                "host", "fingerprint")}
            except (httpx.HTTPError, ValueError) as exc:
                now = {"error": type(exc).__name__}
            if now != last:
                emit(room=now)
                last = now
            await asyncio.sleep(0.02)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.succession_client")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stream")
    s.add_argument("base_url")
    s.add_argument("name")
    s.add_argument("--count", type=int, default=50)
    s.add_argument("--rate", type=float, default=5.0, help="messages a second")
    s.add_argument("--seconds", type=float, default=60.0)
    s.add_argument("--linger", type=float, default=1.0,
                   help="seconds to keep listening after the last message was sent")
    r = sub.add_parser("room")
    r.add_argument("url")
    r.add_argument("--seconds", type=float, default=60.0)
    args = p.parse_args(argv)
    if args.cmd == "room":
        return asyncio.run(watch_room(args.url, args.seconds))
    person = Person(args.name, args.base_url)
    return asyncio.run(Stream(person, args.count, args.rate, args.seconds, args.linger).run())


if __name__ == "__main__":
    sys.exit(main())
