"""The fan-out fast lane: frames built once and written to sockets directly, in order."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from server.directsend import find_direct_writer, text_frame
from tests.conftest import Chatter, Host, wait_until


def test_a_text_frame_is_what_websockets_itself_would_send() -> None:
    payload = '{"type":"message","text":"héllo ' + "x" * 70_000 + '"}'
    reader = StreamReader()
    reader.feed_data(text_frame(payload))
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        while True:
            next(parser)
    frame = done.value.value
    assert frame.data.decode() == payload and frame.fin and frame.opcode == Opcode.TEXT


def test_only_plain_uvicorn_connections_get_the_fast_lane() -> None:
    async def not_uvicorn(message: object) -> None:
        return None

    assert find_direct_writer(not_uvicorn) is None
    assert find_direct_writer(print) is None


@pytest.mark.parametrize("fast", [True, False])
def test_both_lanes_deliver_everything_in_order(make_host, fast: bool) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(direct_send=fast, message_burst=10_000,
                           messages_per_second=10_000.0)
    ada = Chatter(host, "Ada", max_queue=None)
    bob = Chatter(host, "Bob", max_queue=None)
    hub = host.room.hub
    wait_until(lambda: len(hub.connections) == 2, 5, what="both connections")
    assert all((c.direct is not None) is fast for c in hub.connections)
    for i in range(300):
        ada.say(f"n{i}")
    got = []
    while len(got) < 300:
        event = bob.recv(timeout=10)
        if event["type"] == "message":
            got.append(event["text"])
    assert got == [f"n{i}" for i in range(300)]
    # A fresh connection's welcome (queued) is never overtaken by live events (direct).
    cy = Chatter(host, "Cy", since=0, max_queue=None)
    ids = [e["id"] for e in cy.welcome["events"]]
    ada.say("after Cy joined")
    live = cy.recv_type("message", text="after Cy joined")
    assert live["id"] > ids[-1]
    for c in (ada, bob, cy):
        c.close()
