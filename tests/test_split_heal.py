"""Two hosts of one room converge on one (README, Succession: "Two hosts of one room").

A host and its standby on loopback, the standby's link to the host running through a proxy the
test cuts: the standby takes the room over (term 1) while the host, still up, keeps
acknowledging messages (term 0). Once the host sees the other host of its room (a standby it
had), the one with the lower (term, last id) steps down: its clients are moved to the winner,
its diverged history is set aside, and it stands by for the winner. The message it alone
acknowledged is resent by its sender and stored once at the winner."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from server.rivals import Claim
from tests.conftest import Chatter, Host, wait_until
from tests.procs import free_port
from tests.tcp_proxy import Proxy


def status(node: Host) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{node.url}/api/room", timeout=10).json()
    return answer


def stored(db: Path, cmid: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events WHERE client_msg_id=?",
                                (cmid,)).fetchone()[0])


def echo(chatter: Chatter, cmid: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        event = chatter.recv(max(0.1, deadline - time.monotonic()))
        if event.get("client_msg_id") == cmid:
            assert event["type"] != "error", event
            return event


def test_a_host_outranked_by_its_cut_off_standby_steps_down(make_host) -> None:  # type: ignore[no-untyped-def]
    first: Host = make_host()
    link = Proxy(first.port)  # the standby's link to the host: the test cuts it
    try:
        second: Host = make_host(standby_url=f"http://127.0.0.1:{link.port}",
                                 standby_grace_seconds=1.0)
        wait_until(lambda: status(first)["successors"], timeout=20,
                   what="the standby to be a successor")
        ada = Chatter(first, "Ada")
        before = ada.say("before the split")
        echo(ada, before)
        wait_until(lambda: status(second).get("last_id") == status(first)["last_id"],
                   timeout=20, what="the standby to catch up")
        link.blackhole()
        link.cut()
        cut = time.monotonic()
        alone = ada.say("acknowledged by the loser only")
        echo(ada, alone)  # the host (term 0) stored it; the standby never hears of it
        wait_until(lambda: status(second).get("standby") is not True, timeout=20,
                   what="the cut-off standby to take the room over")
        served = time.monotonic()
        assert status(second)["term"] == 1
        bob = Chatter(second, "Bob")
        winner_says = bob.say("written at the winner")
        echo(bob, winner_says)
        moved = ada.recv_type("moved", timeout=15)
        moved_at = time.monotonic()
        assert moved["url"] == second.url and moved["term"] == 1
        print(f"\ntake-over {served - cut:.1f} s after the cut; the loser moved its clients "
              f"{moved_at - served:.1f} s after the winner served")
        assert moved_at - served < 10
        ada.close()
        # Ada's outbox: both her messages go again to the winner, which stores each once.
        again = Chatter(second, "Ada", client_id=ada.client_id)
        for cmid in (before, alone):
            again.say("resent", client_msg_id=cmid)
            echo(again, cmid)
        db = second.data_dir / "history.sqlite3"
        assert [stored(db, c) for c in (before, alone, winner_says)] == [1, 1, 1]
        # The loser stands by for the winner, from a fresh replica that catches up.
        wait_until(lambda: status(first).get("standby") is True
                   and status(first).get("host") == second.url, timeout=15,
                   what="the loser to stand by for the winner")
        wait_until(lambda: status(first).get("last_id") == status(second)["last_id"],
                   timeout=20, what="the loser's replica to hold the winner's history")
        kept = list(first.data_dir.glob("history.diverged-t0-*.sqlite3"))
        assert len(kept) == 1, "the diverged history is set aside, not deleted"
        assert stored(kept[0], alone) == 1
        assert status(second).get("standby") is not True, "the winner still serves"
        wait_until(lambda: status(second)["successors"] == [first.url], timeout=10,
                   what="the loser to be the winner's successor")
        # A client that still knows only the loser is sent to the winner.
        with pytest.raises(ConnectionClosed) as refused:
            Chatter(first, "Cy", client_id=str(uuid.uuid4()))
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4301
        assert second.url in refused.value.rcvd.reason
        again.close()
        bob.close()
    finally:
        link.close()


def test_the_rule_picks_one_host_whichever_side_applies_it() -> None:
    """Higher term first, then higher last id, then the smaller base URL: for two different
    claims exactly one beats the other."""
    claims = [Claim(t, n, u) for t in (0, 1) for n in (5, 9)
              for u in ("http://10.0.0.2:8765", "http://10.0.0.10:8765")]
    for one in claims:
        for other in claims:
            if one != other:
                assert one.beats(other) != other.beats(one), (one, other)
    assert Claim(1, 5, "http://b").beats(Claim(0, 900, "http://a"))
    assert Claim(1, 9, "http://b").beats(Claim(1, 5, "http://a"))
    assert Claim(1, 9, "http://10.0.0.10:8765").beats(Claim(1, 9, "http://10.0.0.2:8765"))


def test_two_hosts_with_equal_claims_keep_the_smaller_url(make_host, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two hosts of one room from one data folder (the same term and last id, as two standbys
    that both took over at once): the one at the smaller URL stays. Only the copy knows the
    other (it lists the first as a former host) and it is the one at the smaller URL: asking
    the first about the room is what makes the first look back, and step down."""
    first: Host = make_host()
    ada = Chatter(first, "Ada")
    echo(ada, ada.say("before the copy"))
    ada.close()
    wait_until(lambda: not status(first)["users"], what="Ada's leave to be stored")
    first.stop()
    shutil.copytree(first.data_dir, tmp_path / "copy")
    first.start()
    second = Host(tmp_path / "copy")
    second.port = next((p for p in (free_port() for _ in range(200))
                        if f"http://127.0.0.1:{p}" < first.url), 0)
    if not second.port:
        pytest.skip("no free port below the first host's")
    try:
        second.start()
        started = time.monotonic()
        winner, loser = second, first
        wait_until(lambda: status(loser).get("standby") is True
                   and status(loser).get("host") == winner.url, timeout=15,
                   what="the host at the larger URL to stand by for the other")
        print(f"\nequal claims: one host serves {time.monotonic() - started:.1f} s after "
              "the second started")
        assert status(winner).get("standby") is not True
        assert list(loser.data_dir.glob("history.diverged-t0-*.sqlite3"))
        with pytest.raises(ConnectionClosed) as refused:
            Chatter(loser, "Bob")
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4301
        bob = Chatter(winner, "Bob")
        echo(bob, bob.say("after the meeting"))
        bob.close()
    finally:
        second.stop()


def test_a_host_that_cannot_prove_the_rooms_secret_is_not_followed(make_host) -> None:  # type: ignore[no-untyped-def]
    """Anyone on the LAN can claim a room's id (it is in every announcement) with a higher
    term: a host looks at it when asked to, but steps down only for a host that proves it
    holds the room's secret (without TLS there is no certificate to check)."""
    host: Host = make_host()
    room_id = status(host)["room_id"]
    asked: list[dict[str, str]] = []

    class Impostor(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append({k.lower(): v for k, v in self.headers.items()})
            body = json.dumps({"room_id": room_id, "room": "Test room", "term": 99,
                               "last_id": 10**6, "urls": [f"http://127.0.0.1:{port}/"],
                               "proof": "0" * 64}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    fake = ThreadingHTTPServer(("127.0.0.1", 0), Impostor)
    port = fake.server_address[1]
    serving = threading.Thread(target=fake.serve_forever, daemon=True)
    serving.start()
    try:
        ada = Chatter(host, "Ada")
        httpx.get(f"{host.url}/api/room", timeout=10,
                  headers={"X-LanChat-Host": f"http://127.0.0.1:{port}"})
        wait_until(lambda: sum("x-lanchat-nonce" in h for h in asked) >= 2, timeout=15,
                   what="the host to look twice at the one that named itself")
        cmid = ada.say("still here")
        echo(ada, cmid)  # stored: the host did not step down
        assert status(host).get("standby") is not True
        assert not list(host.data_dir.glob("history.diverged-*"))
        ada.close()
    finally:
        fake.shutdown()
        fake.server_close()
        serving.join(5)
