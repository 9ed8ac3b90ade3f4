"""One client that stops reading must never hold up the rest of the room."""

from __future__ import annotations

import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import Chatter, Host


def test_a_client_that_never_reads_does_not_delay_the_others(make_host) -> None:  # type: ignore[no-untyped-def]
    # The host's buffer for one socket is kept small (256 KiB) so that 10 MB of messages surely
    # overflow it and the kernel's buffers (several MB on loopback): with the 2 MiB default the
    # stuck client sometimes took everything, fell behind by nothing, and was never cut off.
    host: Host = make_host(client_queue_frames=64, client_buffer_bytes=256 * 1024,
                           message_burst=10_000, messages_per_second=10_000.0)
    # The stuck client: tiny receive buffer and a library queue of one frame, then it never reads.
    # (The buffer is set before connecting so the TCP window stays small.)
    stuck_sock = socket.socket()
    stuck_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck_sock.connect(("127.0.0.1", host.port))
    stuck = Chatter(host, "Stuck", sock=stuck_sock, max_queue=1, ping_interval=None)
    # Ada and Bob read everything (their libraries buffer without limit).
    ada = Chatter(host, "Ada", max_queue=None)
    bob = Chatter(host, "Bob", max_queue=None)
    text = "z" * 7000
    n = 1500
    started = time.monotonic()
    for i in range(n):
        ada.say(f"{i} {text}")
    got = 0
    others: list[dict[str, object]] = []
    while got < n:
        event = bob.recv(timeout=10)
        if event["type"] != "message":
            others.append(event)
        else:
            assert event["text"].startswith(f"{got} ")
            got += 1
    elapsed = time.monotonic() - started
    print(f"\n{n} messages of 7 KB reached Bob in {elapsed:.2f} s with a stuck client in the room")

    # The stuck client was cut off with a reason it can act on, and is shown as gone.
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(n + 10):
            stuck.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
    assert "reconnect" in closed.value.rcvd.reason
    if not any(e["type"] == "leave" for e in others):
        others.append(bob.recv_type("leave", timeout=10))
    assert [e["user"]["name"] for e in others if e["type"] == "leave"] == ["Stuck"]  # type: ignore[index]

    # It comes back and resumes from history with nothing missing.
    again = Chatter(host, "Stuck", client_id=stuck.client_id, since=0, max_queue=None)
    events = again.welcome["events"]
    assert again.welcome["has_more_after"] is True  # a welcome stays small; the rest by paging
    with host.http() as http:
        while True:
            page = http.get("/api/events", params={"after": events[-1]["id"], "limit": 500}).json()
            events += page["events"]
            if not page["has_more"]:
                break
    ids = [e["id"] for e in events]
    assert ids == list(range(1, len(ids) + 1))  # no gap, no duplicate
    assert ids[-1] >= again.welcome["last_id"]
    assert len([e for e in events if e["type"] == "message"]) == n
    for c in (ada, bob, again):
        c.close()
