"""The room outlives its host: hand-over and take-over between "machines" on one LAN.

Network namespaces on one bridge (tests/netns.py ``NetnsLan``): the host on machine A, standbys
(``python -m server --standby URL``) on B and D, the people on C. Every process is real; the
people are small WebSocket clients (tests/succession_client.py) that keep an outbox and follow
the room as the protocol says. Each test prints the times it measured, from the signal that
ended the host to the successor serving and to every client back.

- clean hand-over (SIGTERM) under a steady stream: every client gets ``moved``, reconnects to
  B, sees no gap and no duplicate, and every message it sent is stored once;
- crash take-over (SIGKILL) with messages in flight: B serves within 10 s and every message of
  the people still there is stored exactly once;
- a second failure during a hand-over (the standby A ranks first dies as A stops): the other
  serves the room; and the new host dying just after it took the room over: the other standby
  takes it over within 10 s (the host's order of its standbys may change, so each test follows
  whichever is first);
- a lobby on C (the host of another room) lists the room once throughout, at B's address within
  3 s of A's SIGTERM.

Needs root and iproute2; skips without them, except under CI=true, where it fails.
Multicast stays inside the namespaces, so zeroconf runs unpinned, as it does for users.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, artifact_path, wait_until
from tests.netns import NetnsError, NetnsLan, can_make_namespaces
from tests.test_lan import PORT, Proc

pytestmark = pytest.mark.lan

A, B, C, D = 0, 1, 2, 3  # machine indexes: host, first standby, the people, second standby
ROOM = "Relay room"
TAKE_OVER_LIMIT = 10.0
LOBBY_LIMIT = 3.0
# Every person joins from machine C's one address, and rejoins at each new host: the per-address
# join limits are raised so that they measure succession, not the join rate.
LIMITS = ("--set", "join_burst_per_address=1000", "--set", "joins_per_second_per_address=100",
          "--set", "join_burst_per_person=1000", "--set", "joins_per_second_per_person=100",
          "--rate", "50")


@dataclass
class Machines:
    """The LAN, and every process the test started on it (stopped by PID at the end)."""

    net: NetnsLan
    tmp: Path
    logs: Path
    procs: list[Proc] = field(default_factory=list)

    def url(self, machine: int) -> str:
        return f"https://{self.net.addrs[machine]}:{PORT}/"

    def run(self, machine: int, name: str, *argv: str) -> Proc:
        argv_in = self.net.machine_args(machine, f"machine-{'abcd'[machine]}", sys.executable,
                                        *argv)
        proc = Proc(name, argv_in, self.logs / f"{len(self.procs)}-{name}.log")
        self.procs.append(proc)
        return proc

    def host(self, machine: int, name: str, room: str = ROOM) -> Proc:
        proc = self.run(machine, name, "-m", "server", "--host", "0.0.0.0", "--port", str(PORT),
                        "--data-dir", str(self.tmp / name), "--room", room,
                        "--log-level", "info", *LIMITS)
        proc.wait_line("LAN Chat is serving", 30)
        return proc

    def standby(self, machine: int, name: str, of: int) -> Proc:
        return self.run(machine, name, "-m", "server", "--standby", self.url(of),
                        "--host", "0.0.0.0", "--port", str(PORT),
                        "--data-dir", str(self.tmp / name), "--log-level", "info", *LIMITS)

    def room_watch(self, machine: int, name: str, seconds: float = 90) -> Proc:
        """Follow ``/api/room`` on the machine's own loopback (plain HTTP is served there)."""
        return self.run(machine, name, "-m", "tests.succession_client", "room",
                        f"http://127.0.0.1:{PORT}/", "--seconds", str(seconds))

    def people(self, machine: int, host: int, names: list[str], count: int,
               rate: float, seconds: float = 60) -> list[Proc]:
        return [self.run(machine, f"person-{n}", "-m", "tests.succession_client", "stream",
                         self.url(host), n, "--count", str(count), "--rate", str(rate),
                         "--seconds", str(seconds)) for n in names]


@pytest.fixture
def lan(tmp_path: Path) -> Iterator[Machines]:
    def cannot(reason: str) -> None:
        if IN_CI:
            pytest.fail(f"the LAN test must run in CI but cannot: {reason}")
        pytest.skip(reason)

    reason = can_make_namespaces()
    if reason:
        cannot(reason)
    net = NetnsLan(4)
    try:
        net.create()
    except (NetnsError, subprocess.TimeoutExpired) as exc:
        cannot(f"could not create network namespaces: {exc}")
    logs = artifact_path("lan-succession-logs")
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    machines = Machines(net, tmp_path, logs)
    try:
        yield machines
    finally:
        for proc in reversed(machines.procs):
            proc.stop()
            # What it printed too (the log holds its stderr), to read after a failure.
            proc.log_path.with_suffix(".out").write_text("\n".join(proc.lines) + "\n")
        net.close()


# What the watchers print --------------------------------------------------------------------

def lists_successor(addr: str) -> Callable[[dict[str, Any]], bool]:
    """A host's ``/api/room`` names a standby at ``addr`` among its successors."""
    return lambda r: any(addr in str(u) for u in (r.get("room") or {}).get("successors") or [])


def serving(room_id: str, after: float) -> Callable[[dict[str, Any]], bool]:
    """A former standby's ``/api/room`` answers as the room's host (no ``standby``)."""
    def want(r: dict[str, Any]) -> bool:
        room = r.get("room") or {}
        return bool(r["t"] >= after and room.get("room_id") == room_id
                    and not room.get("standby") and "error" not in room)
    return want


def first_room(watch: Proc, what: str) -> dict[str, Any]:
    record = watch.wait_record(lambda r: bool((r.get("room") or {}).get("room_id")), 30, what)
    return dict(record["room"])


def finished(person: Proc, timeout: float) -> dict[str, Any]:
    return person.wait_record(lambda r: r.get("done") is True, timeout,
                              f"{person.name} to finish its stream")


def connected_at(person: Proc, addr: str, after: float) -> float | None:
    for r in person.records():
        if "connected" in r and addr in r["connected"] and r["t"] >= after:
            return float(r["t"])
    return None


def moved_at(person: Proc, after: float, addr: str) -> tuple[float, str] | None:
    """When the person was first told the room moved to ``addr`` (a standby that does not
    serve yet also answers ``moved``, pointing at the host it follows)."""
    for r in person.records():
        if "moved" in r and r["t"] >= after and addr in r["moved"]:
            return float(r["t"]), str(r["moved"])
    return None


def fate_of(message: dict[str, Any], addr_new: str) -> str:
    """How one message of a person's outbox reached the new host, by the hosts that
    acknowledged it: only the new one (in flight when the old host died), the old one then
    the new one under the same id (replicated in time) or another id (the outbox resent it)."""
    acks = [(host, i) for host, i in message["acks"]]
    old = [i for host, i in acks if addr_new not in host]
    new = [i for host, i in acks if addr_new in host]
    if not new:
        return "acknowledged by the old host only"
    if not old:
        return "acknowledged by the new host only (sent in flight or while no host served)"
    if old[-1] == new[0]:
        return "acknowledged by both under one id (replicated)"
    return "acknowledged by the old host, stored anew (resent)"


def check_stored_once(name: str, done: dict[str, Any]) -> None:
    """Every message the person sent is in the final host's history exactly once."""
    stored = done["stored"]
    assert "error" not in stored, f"{name}: could not read the final history: {stored}"
    counts = stored["mine"]
    assert len(counts) == len(done["outbox"]), f"{name}: outbox and history disagree"
    wrong = {cmid: n for cmid, n in counts.items() if n != 1}
    assert not wrong, f"{name}: messages stored other than once: {wrong}"


def check_no_gap_no_duplicate(name: str, done: dict[str, Any]) -> None:
    """What the person saw, across hosts, is the final history's run of ids: in order, each
    once, none missing between the first it saw and the last."""
    ids: list[int] = done["ids"]
    assert not done["dups"], f"{name}: duplicates {done['dups']}"
    assert ids == sorted(set(ids)), f"{name}: ids out of order or repeated: {ids}"
    history = [i for i in done["stored"]["ids"] if ids[0] <= i <= ids[-1]]
    missing = sorted(set(history) - set(ids))
    extra = sorted(set(ids) - set(history))
    assert not missing, f"{name}: a gap, never received: {missing}"
    assert not extra, f"{name}: saw ids the final host does not have: {extra}"


def served_at(lan: Machines, machine: int, watched: dict[str, Any], people: list[Proc],
              since: float) -> float:
    """When ``machine`` began serving: its ``/api/room`` saying so, or a person's welcome
    from it, whichever came first (a busy host may answer the poll late)."""
    welcomes = [connected_at(p, lan.net.addrs[machine], since) for p in people]
    return min([float(watched["t"]), *(t for t in welcomes if t is not None)])


def report(title: str, times: dict[str, float]) -> None:
    print(f"\n{title} (seconds):")
    for what, seconds in times.items():
        print(f"  {what:<46} {seconds:6.2f}")


def start_room(lan: Machines, standbys: list[int]) -> tuple[Proc, Proc, dict[str, Any]]:
    """Host on A, the given standbys in order, each listed as A's successor before the next."""
    host = lan.host(A, "host-a")
    watch_a = lan.room_watch(A, "room-a")
    room = first_room(watch_a, "A's /api/room")
    for machine in standbys:
        name = f"standby-{'abcd'[machine]}"
        lan.standby(machine, name, A)
        watch_a.wait_record(lists_successor(lan.net.addrs[machine]), 30,
                            f"A to list {name} as a successor")
    return host, watch_a, room


# The tests ----------------------------------------------------------------------------------

def streaming(lan: Machines, names: list[str], count: int, rate: float,
              acked: int = 10) -> list[Proc]:
    """People on C streaming to A, each with ``acked`` messages acknowledged by A already."""
    people = lan.people(C, A, names, count=count, rate=rate)
    for person in people:
        person.wait_record(lambda r: r.get("acked", 0) >= acked, 30,
                           f"{person.name} to have {acked} messages acknowledged")
    return people


def test_clean_hand_over_under_a_steady_stream(lan: Machines) -> None:
    host, _watch_a, room = start_room(lan, [B])
    watch_b = lan.room_watch(B, "room-b")
    people = streaming(lan, ["Ada", "Bo", "Cy"], count=60, rate=10)
    assert all(lists_successor(lan.net.addrs[B])({"room": {"successors": r["successors"]}})
               for p in people for r in p.records() if "connected" in r), \
        "the welcome did not name B as a successor"
    stopped = host.signal(signal.SIGTERM)
    b_serves = watch_b.wait_record(serving(room["room_id"], stopped), 20, "B to serve the room")
    dones = [finished(p, 60) for p in people]
    host.popen.wait(15)
    times = {"SIGTERM to B serving": served_at(lan, B, b_serves, people, stopped) - stopped}
    addr_b = lan.net.addrs[B]
    for person, done in zip(people, dones, strict=True):
        assert done["ok"], f"{person.name} did not finish: {person.log_path}"
        moved = moved_at(person, stopped, addr_b)
        assert moved is not None and addr_b in moved[1], f"{person.name} got no moved to B"
        back = connected_at(person, addr_b, stopped)
        assert back is not None, f"{person.name} never reconnected to B"
        times[f"SIGTERM to {person.name} told moved"] = moved[0] - stopped
        times[f"SIGTERM to {person.name} back on B"] = back - stopped
        assert not done["forgotten"], f"{person.name} lost events: {done['forgotten']}"
        check_no_gap_no_duplicate(person.name, done)
        check_stored_once(person.name, done)
    new = b_serves["room"]
    assert new["term"] == (room.get("term") or 0) + 1
    assert new["fingerprint"] == room["fingerprint"], "the room's certificate changed"
    report("Clean hand-over A -> B, three people streaming 10 msg/s each", times)


def test_crash_take_over_keeps_every_message_of_the_people_still_there(lan: Machines) -> None:
    host, _watch_a, room = start_room(lan, [B])
    watch_b = lan.room_watch(B, "room-b")
    people = streaming(lan, ["Ada", "Bo", "Cy"], count=80, rate=20)
    killed = host.signal(signal.SIGKILL)
    b_serves = watch_b.wait_record(serving(room["room_id"], killed), 30, "B to take over")
    dones = [finished(p, 60) for p in people]
    took = served_at(lan, B, b_serves, people, killed) - killed
    times = {"SIGKILL to B serving (take-over)": took}
    addr_b = lan.net.addrs[B]
    fates: dict[str, int] = {}
    forgotten = 0
    for person, done in zip(people, dones, strict=True):
        assert done["ok"], f"{person.name} did not finish: {person.log_path}"
        back = connected_at(person, addr_b, killed)
        assert back is not None, f"{person.name} never reconnected to B"
        times[f"SIGKILL to {person.name} back on B"] = back - killed
        check_stored_once(person.name, done)
        check_no_gap_no_duplicate(person.name, done)
        forgotten += len(done["forgotten"])
        for message in done["outbox"]:
            fate = fate_of(message, addr_b)
            fates[fate] = fates.get(fate, 0) + 1
    assert b_serves["room"]["term"] == (room.get("term") or 0) + 1
    report("Crash take-over A -> B, three people streaming 20 msg/s each", times)
    for fate, n in sorted(fates.items()):
        print(f"  messages {fate}: {n}")
    print(f"  events seen from A that B never had, dropped from view (all clients): {forgotten}")
    assert took < TAKE_OVER_LIMIT, f"take-over took {took:.1f} s"


def machine_of(lan: Machines, url: str) -> int:
    return next(i for i, addr in enumerate(lan.net.addrs) if f"//{addr}:" in url)


def best_successor(lan: Machines, watch: Proc) -> int:
    """The machine a host's ``/api/room`` last named as its first successor."""
    last = [r for r in watch.records() if (r.get("room") or {}).get("successors")][-1]
    return machine_of(lan, last["room"]["successors"][0])


def check_ended_on(lan: Machines, machine: int, people: list[Proc],
                   dones: list[dict[str, Any]], since: float, times: dict[str, float],
                   label: str) -> None:
    addr = lan.net.addrs[machine]
    for person, done in zip(people, dones, strict=True):
        assert done["ok"], f"{person.name} did not finish: {person.log_path}"
        assert addr in done["host"], f"{person.name} ended on {done['host']}, not {addr}"
        back = connected_at(person, addr, since)
        assert back is not None, f"{person.name} never connected to {addr}"
        times[f"{label} to {person.name} back on {'ABCD'[machine]}"] = back - since
        check_stored_once(person.name, done)
        assert not done["dups"], f"{person.name}: duplicates {done['dups']}"


def test_second_failure_during_a_hand_over(lan: Machines) -> None:
    """The successor A is about to hand the room to dies as A stops: the other one serves."""
    host, watch_a, room = start_room(lan, [B, D])
    people = streaming(lan, ["Ada", "Bo"], count=60, rate=10)
    first = best_successor(lan, watch_a)  # the standbys' order may change; whichever is first
    second = D if first == B else B
    doomed = next(p for p in lan.procs if p.name == f"standby-{'abcd'[first]}")
    watch_second = lan.room_watch(second, f"room-{'abcd'[second]}")
    stopped = host.signal(signal.SIGTERM)
    doomed.signal(signal.SIGKILL)
    serves = watch_second.wait_record(serving(room["room_id"], stopped), 30,
                                      f"{'ABCD'[second]} to serve the room")
    dones = [finished(p, 60) for p in people]
    label = f"SIGTERM of A ({'ABCD'[first]} killed)"
    times = {f"{label} to {'ABCD'[second]} serving":
             served_at(lan, second, serves, people, stopped) - stopped}
    check_ended_on(lan, second, people, dones, stopped, times, label)
    for person, done in zip(people, dones, strict=True):
        if not done["forgotten"]:
            check_no_gap_no_duplicate(person.name, done)
    assert serves["room"]["term"] > (room.get("term") or 0)
    report(f"Hand-over A -> {'ABCD'[first]} with {'ABCD'[first]} killed at once: "
           f"{'ABCD'[second]} takes the room", times)


def test_successor_dies_just_after_taking_over(lan: Machines) -> None:
    """A hands the room over; its new host dies once it names the other standby as its own
    successor: that one takes the room over within 10 s."""
    host, _watch_a, room = start_room(lan, [B, D])
    watches = {m: lan.room_watch(m, f"room-{'abcd'[m]}") for m in (B, D)}
    people = streaming(lan, ["Ada", "Bo"], count=80, rate=10)
    stopped = host.signal(signal.SIGTERM)
    wait_until(lambda: any(w.records() and any(serving(room["room_id"], stopped)(r)
                                               for r in w.records()) for w in watches.values()),
               timeout=20, what="B or D to serve the room")
    first = next(m for m, w in watches.items()
                 if any(serving(room["room_id"], stopped)(r) for r in w.records()))
    second = D if first == B else B
    first_serves = watches[first].wait_record(serving(room["room_id"], stopped), 1, "")
    lists_second = lists_successor(lan.net.addrs[second])
    watches[first].wait_record(lambda r: r["t"] >= first_serves["t"] and lists_second(r), 20,
                               f"{'ABCD'[first]}, serving, to list the other standby")
    doomed = next(p for p in lan.procs if p.name == f"standby-{'abcd'[first]}")
    killed = doomed.signal(signal.SIGKILL)
    serves = watches[second].wait_record(serving(room["room_id"], killed), 30,
                                         f"{'ABCD'[second]} to take over")
    dones = [finished(p, 60) for p in people]
    took = served_at(lan, second, serves, people, killed) - killed
    label = f"SIGKILL of {'ABCD'[first]}"
    times = {f"SIGTERM of A to {'ABCD'[first]} serving":
             served_at(lan, first, first_serves, people, stopped) - stopped,
             f"{label} to {'ABCD'[second]} serving (take-over)": took}
    check_ended_on(lan, second, people, dones, killed, times, label)
    assert serves["room"]["term"] == (room.get("term") or 0) + 2
    report(f"Hand-over A -> {'ABCD'[first]}, then {'ABCD'[first]} killed: "
           f"{'ABCD'[second]} takes the room over", times)
    assert took < TAKE_OVER_LIMIT, f"take-over took {took:.1f} s"


def test_the_lobby_lists_the_room_once_throughout_a_hand_over(lan: Machines) -> None:
    lobby = lan.host(C, "lobby-c", room="Lobby on C")
    watch = lan.run(C, "peers-c", "-m", "tests.lan_helper", "watch",
                    f"http://127.0.0.1:{PORT}/api/peers/stream", "--seconds", "90")
    host, _watch_a, room = start_room(lan, [B])
    room_id, addr_a, addr_b = room["room_id"], lan.net.addrs[A], lan.net.addrs[B]

    def entries(r: dict[str, Any]) -> list[dict[str, Any]]:
        return [p for p in r.get("peers", []) if p.get("id") == room_id]

    watch.wait_record(lambda r: any(p["host"] == addr_a for p in entries(r)), 20,
                      "the lobby on C to list A's room")
    stopped = host.signal(signal.SIGTERM)
    at_b = watch.wait_record(
        lambda r: r["t"] >= stopped and [p["host"] for p in entries(r)] == [addr_b], 20,
        "the lobby on C to list the room at B alone")
    # Watch it settle: the stream sends a snapshot on every change, so any change within two
    # more seconds (the room back at A, or twice) is seen.
    settled = at_b["t"] + 2.0
    lan_wait(lambda: time.monotonic() >= settled, 10)
    assert lobby.popen.poll() is None, f"the lobby host on C exited: {lobby.log_path}"
    snapshots = [r for r in watch.records() if "peers" in r]
    twice = [r for r in snapshots if len(entries(r)) > 1]
    assert not twice, f"the lobby listed the room {len(entries(twice[0]))} times: {twice[0]}"
    after = [r for r in snapshots if r["t"] >= at_b["t"]]
    assert all([p["host"] for p in entries(r)] == [addr_b] for r in after), \
        "the room left B's address, or reappeared at A's, after the hand-over"
    assert entries(at_b)[0]["fingerprint"] == room["fingerprint"]
    shown = at_b["t"] - stopped
    report("Lobby on C during hand-over A -> B",
           {"SIGTERM to the room listed at B alone": shown})
    assert shown <= LOBBY_LIMIT, f"the lobby took {shown:.2f} s to show the room at B"


def lan_wait(condition: Callable[[], bool], timeout: float) -> None:
    wait_until(condition, timeout=timeout, what="a condition of the LAN test")
