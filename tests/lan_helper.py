"""Small clients the LAN test runs *inside* a network namespace (``python -m tests.lan_helper``).

``watch URL``: follow a host's ``/api/peers/stream`` and print each snapshot as one JSON line
``{"t": <time.monotonic()>, "peers": [...]}`` (CLOCK_MONOTONIC is shared by every process on the
machine, so the test compares these times with its own).

``chat WS_URL NAME``: join a room over a real WebSocket, optionally wait for a message, say
something, and print one JSON line with what happened. Exit status 0 means it all worked.

``session BASE_URL``: two people sign in with ``--password``, chat (``--say``) and share a
file (``--file``; the other downloads it and checks its SHA-256), over HTTPS/WSS when the URL
says so; prints one JSON line with the fingerprint of the certificate served.

``txt``: browse for LAN Chat rooms and print each one's TXT properties as a JSON line.

Every wait has a deadline; nothing here runs longer than ``--seconds``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import ssl
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.sync.client import connect


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def watch(url: str, seconds: float) -> int:
    """Print every peers snapshot from ``url`` until ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with httpx.Client(timeout=httpx.Timeout(5.0, read=20.0), trust_env=False) as http, \
                    http.stream("GET", url) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        body = json.loads(line[len("data: "):])
                        emit({"t": time.monotonic(), "peers": body["peers"]})
                    if time.monotonic() > deadline:
                        return 0
        except httpx.HTTPError as exc:
            emit({"t": time.monotonic(), "error": repr(exc)})
            time.sleep(0.1)  # the host is not up yet: try again
    return 0


def chat(ws_url: str, name: str, say: str | None, expect: str | None, seconds: float,
         say_first: bool = False) -> int:
    """Join, announce readiness, then say and/or wait for a message, in the order asked.

    Done when the expected message arrived and our own message came back from the host
    (it echoes a message once stored), whatever order the two arrive in.
    """
    deadline = time.monotonic() + seconds
    tls = any_certificate() if ws_url.startswith("wss://") else None
    with connect(ws_url, open_timeout=10, ssl=tls) as ws:
        def send_text(text: str) -> None:
            ws.send(json.dumps({"type": "message", "text": text,
                                "client_msg_id": str(uuid.uuid4())}))

        ws.send(json.dumps({"type": "hello", "name": name, "client_id": str(uuid.uuid4()),
                            "since": None}))
        welcome = receive(ws, deadline, lambda e: e.get("type") == "welcome")
        emit({"ready": True, "room": welcome.get("room"), "t": time.monotonic()})
        said = False
        if say is not None and (expect is None or say_first):
            send_text(say)
            said = True
        got: dict[str, Any] | None = None
        echoed = say is None
        while (expect is not None and got is None) or not echoed:
            event = receive(ws, deadline, lambda e: e.get("type") == "message")
            if expect is not None and got is None and event.get("text") == expect:
                got = event
                if say is not None and not said:
                    send_text(say)
                    said = True
            elif said and event.get("text") == say:
                echoed = True
        emit({"done": True, "got": got["text"] if got else None,
              "from": got["user"]["name"] if got else None})
    return 0


def receive(ws: Any, deadline: float, want: Any) -> dict[str, Any]:
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the expected chat event did not arrive in time")
        event = json.loads(ws.recv(timeout=left))
        if want(event):
            return dict(event)


def any_certificate() -> ssl.SSLContext:
    """The session compares the certificate's fingerprint itself (printed for the test)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def served_fingerprint(base: str) -> str | None:
    parts = urlsplit(base)
    if parts.scheme != "https":
        return None
    import socket
    with socket.create_connection((parts.hostname, parts.port or 443), timeout=10) as raw, \
            any_certificate().wrap_socket(raw) as tls:
        return hashlib.sha256(tls.getpeercert(binary_form=True) or b"").hexdigest()


def person(base: str, password: str, name: str) -> tuple[httpx.Client, Any]:
    """Sign in (the cookie) and join the chat over the WebSocket with it."""
    http = httpx.Client(base_url=base, verify=any_certificate(), timeout=20, trust_env=False)
    answer = http.post("/api/login", json={"password": password})
    answer.raise_for_status()
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    ws_url = base.replace("https://", "wss://").replace("http://", "ws://") + "ws"
    ws = connect(ws_url, open_timeout=10, additional_headers={"Cookie": cookie},
                 ssl=any_certificate() if ws_url.startswith("wss") else None)
    ws.send(json.dumps({"type": "hello", "name": name, "client_id": str(uuid.uuid4()),
                        "since": None}))
    return http, ws


def session(base: str, password: str, say: str, file: Path, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    fp = served_fingerprint(base)
    room = httpx.get(base + "api/room", verify=any_certificate(), trust_env=False).json()
    ada_http, ada = person(base, password, "Ada")
    bob_http, bob = person(base, password, "Bob")
    for ws in (ada, bob):
        receive(ws, deadline, lambda e: e.get("type") == "welcome")
    blob = file.read_bytes()
    shared = ada_http.post("/api/files", params={"name": file.name}, content=blob,
                           headers={"content-type": "application/octet-stream"})
    shared.raise_for_status()
    file_id = shared.json()["id"]
    ada.send(json.dumps({"type": "message", "text": say, "file_id": file_id,
                         "client_msg_id": str(uuid.uuid4())}))
    got = receive(bob, deadline, lambda e: e.get("type") == "message" and e.get("text") == say)
    fetched = bob_http.get(f"/api/files/{got['file']['id']}").content
    for ws in (ada, bob):
        ws.close()
    emit({"done": True, "fingerprint": fp, "room_fingerprint": room.get("fingerprint"),
          "same_file": hashlib.sha256(fetched).digest() == hashlib.sha256(blob).digest()})
    return 0


def txt(seconds: float) -> int:
    """Print the TXT properties of every LAN Chat room heard within ``seconds``."""
    from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

    zc = Zeroconf()
    found: list[str] = []

    def changed(zeroconf: Zeroconf, service_type: str, name: str,
                state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            found.append(name)

    browser = ServiceBrowser(zc, "_lanchat._tcp.local.", handlers=[changed])
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            while found:
                info = zc.get_service_info("_lanchat._tcp.local.", found.pop(), timeout=3000)
                if info is not None:
                    emit({"name": info.name, "port": info.port,
                          "properties": info.decoded_properties})
            time.sleep(0.05)
    finally:
        browser.cancel()
        zc.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.lan_helper")
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("url")
    w.add_argument("--seconds", type=float, default=120)
    c = sub.add_parser("chat")
    c.add_argument("ws_url")
    c.add_argument("name")
    c.add_argument("--say")
    c.add_argument("--expect")
    c.add_argument("--say-first", action="store_true",
                   help="say before waiting for --expect (default: answer it)")
    c.add_argument("--seconds", type=float, default=30)
    s = sub.add_parser("session")
    s.add_argument("base_url")
    s.add_argument("--password", required=True)
    s.add_argument("--say", required=True)
    s.add_argument("--file", type=Path, required=True)
    s.add_argument("--seconds", type=float, default=60)
    t = sub.add_parser("txt")
    t.add_argument("--seconds", type=float, default=30)
    args = p.parse_args(argv)
    if args.cmd == "watch":
        return watch(args.url, args.seconds)
    if args.cmd == "session":
        return session(args.base_url, args.password, args.say, args.file, args.seconds)
    if args.cmd == "txt":
        return txt(args.seconds)
    return chat(args.ws_url, args.name, args.say, args.expect, args.seconds, args.say_first)


if __name__ == "__main__":
    sys.exit(main())
