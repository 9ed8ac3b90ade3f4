"""A network split that heals: two hosts of one room converge on one (README, Succession).

A hosts, B stands by. B's cable is pulled: B finds its host gone and takes the room over
(term 1) while A goes on serving the people on C (term 0); a person on B itself writes to B.
The cable goes back in: A sees B serving its room with a higher term, moves its people there
and stands by for B. Within 10 s of the heal one host serves, and every message of the people
(all still present) is stored exactly once in B's history.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests import test_lan_succession as succession
from tests.test_lan_succession import (
    TAKE_OVER_LIMIT,
    A,
    B,
    C,
    Machines,
    check_stored_once,
    connected_at,
    fate_of,
    finished,
    report,
    serving,
    start_room,
)

pytestmark = pytest.mark.lan

lan = succession.lan  # the LAN fixture, found by pytest under this name

CONVERGE_LIMIT = 10.0


def standing_by_for(addr: str, after: float) -> Any:
    """A host's ``/api/room`` says it now stands by for the host at ``addr``."""
    def want(r: dict[str, Any]) -> bool:
        room = r.get("room") or {}
        return bool(r["t"] >= after and room.get("standby") and addr in str(room.get("host")))
    return want


def test_split_and_heal_with_both_halves_writing(lan: Machines) -> None:
    _host, watch_a, room = start_room(lan, [B])
    watch_b = lan.room_watch(B, "room-b")
    people = lan.people(C, A, ["Ada", "Bo"], count=240, rate=8, seconds=90)
    for person in people:
        person.wait_record(lambda r: r.get("acked", 0) >= 10, 30,
                           f"{person.name} to have 10 messages acknowledged by A")
    split = time.monotonic()
    lan.net.set_link(B, up=False)
    b_serves = watch_b.wait_record(serving(room["room_id"], split), 30,
                                   "B, cut off, to take the room over")
    assert b_serves["room"]["term"] == (room.get("term") or 0) + 1
    dee = lan.people(B, B, ["Dee"], count=30, rate=8, seconds=90)[0]  # on B's side of the cut
    dee.wait_record(lambda r: r.get("acked", 0) >= 10, 30, "Dee to write at B")
    for person in people:  # A's side goes on writing too
        acked_before = max((r.get("acked", 0) for r in person.records()), default=0)
        person.wait_record(lambda r, n=acked_before: r.get("acked", 0) >= n + 10, 30,
                           f"{person.name} to write at A during the split")
    healed = time.monotonic()
    lan.net.set_link(B, up=True)
    a_steps_down = watch_a.wait_record(standing_by_for(lan.net.addrs[B], healed), 30,
                                       "A to step down and stand by for B")
    addr_b = lan.net.addrs[B]
    times = {"cable pulled to B serving (take-over)": b_serves["t"] - split,
             "cable back to A standing by for B (converged)": a_steps_down["t"] - healed}
    dones = [finished(p, 90) for p in [*people, dee]]
    fates: dict[str, int] = {}
    for done in dones[:2]:
        for message in done["outbox"]:
            fate = fate_of(message, addr_b)
            fates[fate] = fates.get(fate, 0) + 1
    for person, done in zip([*people, dee], dones, strict=True):
        assert done["ok"], f"{person.name} did not finish: {person.log_path}"
        assert addr_b in done["host"], f"{person.name} ended on {done['host']}, not B"
        check_stored_once(person.name, done)
        if person is not dee:
            back = connected_at(person, addr_b, healed)
            assert back is not None, f"{person.name} never reached B"
            times[f"cable back to {person.name} on B"] = back - healed
    assert not any((r.get("room") or {}).get("standby") is not True for r in watch_a.records()
                   if r["t"] > a_steps_down["t"]), "A served the room again"
    report("Split (B's cable pulled, both halves writing) and heal", times)
    for fate, n in sorted(fates.items()):
        print(f"  messages of the people on C {fate}: {n}")
    assert fates.get("acknowledged by the old host, stored anew (resent)", 0) > 0, \
        "no message acknowledged by A alone during the split was resent to B"
    assert times["cable pulled to B serving (take-over)"] < TAKE_OVER_LIMIT + 5
    assert times["cable back to A standing by for B (converged)"] < CONVERGE_LIMIT
