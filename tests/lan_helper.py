"""Small clients the LAN test runs *inside* a network namespace (``python -m tests.lan_helper``).

``watch URL``: follow a host's ``/api/peers/stream`` and print each snapshot as one JSON line
``{"t": <time.monotonic()>, "peers": [...]}`` (CLOCK_MONOTONIC is shared by every process on the
machine, so the test compares these times with its own).

``chat WS_URL NAME``: join a room over a real WebSocket, optionally wait for a message, say
something, and print one JSON line with what happened. Exit status 0 means it all worked.

Every wait has a deadline; nothing here runs longer than ``--seconds``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

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
    with connect(ws_url, open_timeout=10) as ws:
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
    args = p.parse_args(argv)
    if args.cmd == "watch":
        return watch(args.url, args.seconds)
    return chat(args.ws_url, args.name, args.say, args.expect, args.seconds, args.say_first)


if __name__ == "__main__":
    sys.exit(main())
