"""Nothing lost: hosts killed mid-conversation, links cut or gone silent, broken uploads."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from tests.bench.slowdisk import build_shim
from tests.conftest import Chatter, Host, need_tool, wait_until
from tests.procs import HostProcess
from tests.tcp_proxy import Proxy


class Sender(threading.Thread):
    """A client that keeps sending numbered messages and records which ones were acknowledged."""

    def __init__(self, host: HostProcess, name: str) -> None:
        super().__init__(daemon=True, name=f"test-sender-{name}")
        self.host = host
        self.name_ = name
        self.chatter = Chatter(host, name, max_queue=None)
        self.sent: list[tuple[str, str]] = []  # (client_msg_id, text), in order
        self.acked: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        try:
            while not self.stop.is_set() and i < 5000:
                cmid = str(uuid.uuid4())
                text = f"{self.name_} #{i}"
                self.sent.append((cmid, text))
                self.chatter.say(text, client_msg_id=cmid)
                i += 1
                # Drain acknowledgements that have arrived, without waiting for them.
                while True:
                    try:
                        event = self.chatter.recv(timeout=0.002)
                    except TimeoutError:
                        break
                    if event.get("type") == "message" and event["user"] == self.chatter.me:
                        self.acked.add(event["client_msg_id"])
        except (ConnectionClosed, OSError):
            pass


def test_sigkill_while_clients_send_loses_no_acknowledged_message(tmp_path: Path) -> None:
    host = HostProcess(tmp_path / "data", None, "--log-level", "warning",
                       "--rate", "100000").start()
    kill_while_sending_then_resend(host)


def test_sigkill_in_the_middle_of_a_batched_commit_loses_nothing(tmp_path: Path) -> None:
    """On a slow disk (every fsync 20 ms) each commit holds many messages, so the kill lands
    while a batch is being written: every acknowledged message is there exactly once after the
    restart, and the unacknowledged ones, resent, too."""
    need_tool(shutil.which("gcc") or shutil.which("cc"), "a C compiler (gcc)")
    shim = build_shim(tmp_path / "shim")
    host = HostProcess(tmp_path / "data", None, "--log-level", "warning", "--rate", "100000")
    host.env.update(LD_PRELOAD=str(shim), SLOW_FSYNC_MS="20")
    kill_while_sending_then_resend(host.start())


def kill_while_sending_then_resend(host: HostProcess) -> None:
    try:
        senders = [Sender(host, name) for name in ("Ada", "Bob", "Cy")]
        for s in senders:
            s.start()
        wait_until(lambda: all(len(s.acked) >= 20 for s in senders), 60,
                   what="every sender to have messages acknowledged")
        host.kill()  # mid-stream: some sends are in flight, unacknowledged
        for s in senders:
            s.stop.set()
            s.join(10)
        acked_total = sum(len(s.acked) for s in senders)
        sent_total = sum(len(s.sent) for s in senders)
        print(f"\nkilled with {acked_total} acknowledged of {sent_total} sent")

        host.start()
        # Each client comes back and resends its outbox (everything not acknowledged) in order,
        # with the same client_msg_ids: the host must store each message exactly once.
        for s in senders:
            again = Chatter(host, s.name_, client_id=s.chatter.client_id, max_queue=None)
            for cmid, text in s.sent:
                if cmid not in s.acked:
                    again.say(text, client_msg_id=cmid)
            last_cmid = s.sent[-1][0]
            while True:
                event = again.recv_type("message", timeout=20)
                if event["client_msg_id"] == last_cmid:
                    break
            again.close()

        with host.http() as http:
            events: list[dict[str, object]] = []
            after = 0
            while True:
                page = http.get("/api/events", params={"after": after, "limit": 500}).json()
                events += page["events"]
                if not page["has_more"]:
                    break
                after = page["events"][-1]["id"]
        ids = [e["id"] for e in events]
        assert ids == list(range(1, len(ids) + 1)), "ids have a gap or a repeat"
        stored = [e["client_msg_id"] for e in events if e["type"] == "message"]
        assert len(stored) == len(set(stored)), "a message was stored twice"
        for s in senders:
            mine = [e["text"] for e in events
                    if e["type"] == "message" and e["user"]["name"] == s.name_]  # type: ignore[index]
            assert mine == [text for _, text in s.sent], f"{s.name_}'s messages out of order"
            assert s.acked <= set(stored)
    finally:
        host.kill()


def test_a_cut_connection_resumes_with_exactly_the_missed_events(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(message_burst=1000)
    proxy = Proxy(host.port)
    try:
        ada = Chatter(host, "Ada", max_queue=None)
        ws_url = host.ws_url

        class ViaProxy:
            ws_url = f"ws://127.0.0.1:{proxy.port}/ws"

        bob = Chatter(ViaProxy, "Bob", max_queue=None)  # type: ignore[arg-type]
        seen: list[int] = [e["id"] for e in bob.welcome["events"]]
        stop_at = 15
        for i in range(40):
            ada.say(f"m{i}")
            if i == stop_at:
                # Bob has read up to here; then his link dies while Ada keeps talking.
                target = ada.recv_type("message", text=f"m{i}")["id"]
                while not seen or seen[-1] < target:
                    event = bob.recv()
                    if "id" in event:
                        seen.append(event["id"])
                proxy.cut()
        last_sent = ada.recv_type("message", text="m39")["id"]
        assert ws_url  # Bob reconnects straight to the host now, saying what he has
        back = Chatter(host, "Bob", client_id=bob.client_id, since=seen[-1])
        resumed = [e["id"] for e in back.welcome["events"]]
        assert resumed == list(range(seen[-1] + 1, back.welcome["last_id"] + 1))
        assert resumed[-1] >= last_sent
        texts = [e.get("text") for e in back.welcome["events"] if e["type"] == "message"]
        assert texts == [f"m{i}" for i in range(stop_at + 1, 40)]
        ada.close()
        back.close()
    finally:
        proxy.close()


def test_a_half_open_connection_is_detected_and_its_user_shown_as_left(make_host) -> None:  # type: ignore[no-untyped-def]
    # Keepalive made fast for the test; the defaults (10 s + 15 s) stay under 30 s.
    host: Host = make_host(ping_interval_seconds=0.5, ping_timeout_seconds=1.0)
    proxy = Proxy(host.port)
    try:
        ada = Chatter(host, "Ada")

        class ViaProxy:
            ws_url = f"ws://127.0.0.1:{proxy.port}/ws"

        ghost = Chatter(ViaProxy, "Ghost", ping_interval=None)  # type: ignore[arg-type]
        ada.recv_type("join", user=ghost.me)
        started = time.monotonic()
        proxy.blackhole()  # the laptop vanished: no FIN, no RST, nothing
        left = ada.recv_type("leave", timeout=15, user=ghost.me)
        took = time.monotonic() - started
        print(f"\nhalf-open link noticed and user shown as left after {took:.1f} s")
        assert left["user"]["name"] == "Ghost"
        hub = host.app.state.hub
        wait_until(lambda: len(hub.connections) == 1, 5, what="the dead connection to be dropped")
        ada.close()
    finally:
        proxy.close()


def test_default_keepalive_notices_a_dead_link_within_30_seconds() -> None:
    from server.settings import Settings

    s = Settings()
    assert s.ping_interval_seconds + s.ping_timeout_seconds + s.leave_grace_seconds <= 30
