"""Two hosts of one room converge on one (README, Succession: "Two hosts of one room").

A host and its standby on loopback, the standby's link to the host running through a proxy the
test cuts: the standby takes the room over (term 1) while the host, still up, keeps
acknowledging messages (term 0). Once the host sees the other host of its room (a standby it
had), the one with the lower (term, last id) steps down: its clients are moved to the winner,
its diverged history is set aside, and it stands by for the winner. The message it alone
acknowledged is resent by its sender and stored once at the winner."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import Chatter, Host, wait_until
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
