"""Succession across machines when the host just leaves the network: a pulled cable.

No signal, no closed socket: the standby finds the host gone by the replication link's
keepalive (a ping each second, two seconds for its answer), waits ``standby_grace_seconds``
(3 s), then serves. Measured about 8 s from the pulled cable to B serving.
"""

from __future__ import annotations

import time

from tests import test_lan_succession as succession
from tests.test_lan_succession import (
    TAKE_OVER_LIMIT,
    A,
    B,
    Machines,
    check_ended_on,
    finished,
    report,
    served_at,
    serving,
    start_room,
    streaming,
)

lan = succession.lan  # the LAN fixture, found by pytest under this name


def test_take_over_when_the_hosts_cable_is_pulled(lan: Machines) -> None:
    """No signal, no closed socket: A just leaves the network. B (and the people) notice it by
    their keepalives, and B serves the room within 10 s."""
    _host, _watch_a, room = start_room(lan, [B])
    watch_b = lan.room_watch(B, "room-b")
    people = streaming(lan, ["Ada", "Bo"], count=80, rate=10)
    cut = time.monotonic()
    lan.net.set_link(A, up=False)
    b_serves = watch_b.wait_record(serving(room["room_id"], cut), 30, "B to take over")
    dones = [finished(p, 60) for p in people]
    took = served_at(lan, B, b_serves, people, cut) - cut
    times = {"cable pulled to B serving (take-over)": took}
    check_ended_on(lan, B, people, dones, cut, times, "cable pulled")
    assert b_serves["room"]["term"] == (room.get("term") or 0) + 1
    report("Take-over when A's cable is pulled", times)
    assert took < TAKE_OVER_LIMIT, f"take-over took {took:.1f} s"
