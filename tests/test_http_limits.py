"""A stranger on the LAN cannot tie the host up before any route runs: endless or unfinished
request heads, stalled bodies, idle sockets, more connections than the host has descriptors."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Chatter, Host, stop_process, wait_until
from tests.procs import free_port


def _open(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def _read_response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict[str, str]]:
    """Status and JSON body of the one response the host sends before it closes."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    assert data, "the host closed without a response"
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _health_ms(host: Host) -> float:
    t0 = time.perf_counter()
    assert httpx.get(f"{host.url}/api/health", timeout=5).status_code == 200
    return (time.perf_counter() - t0) * 1000


def test_an_endless_header_gets_431_at_the_size_limit(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host()
    with _open(host.port) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        sent = 0
        try:
            while sent < 4 * 1024 * 1024:  # bounded: a host without a limit never answers
                sock.sendall(b"a" * 8192)
                sent += 8192
        except OSError:
            pass  # the host answered and closed while we were still sending
        status, body = _read_response(sock, timeout=5)
    assert status == 431 and "16 KiB" in body["detail"]
    assert _health_ms(host) < 1000


def test_a_header_that_never_finishes_gets_408(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(header_timeout_seconds=1.0)
    t0 = time.monotonic()
    with _open(host.port) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        status, body = _read_response(sock, timeout=5)
    assert status == 408 and "1 s" in body["detail"]
    assert time.monotonic() - t0 < 4


def test_the_websocket_handshake_has_the_same_deadline(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(header_timeout_seconds=1.0)
    with _open(host.port) as sock:
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n")
        status, _ = _read_response(sock, timeout=5)
    assert status == 408
    Chatter(host, "After").close()  # a handshake that completes is not affected


def test_a_connection_that_sends_nothing_is_closed(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(header_timeout_seconds=1.0)
    with _open(host.port) as sock:
        sock.settimeout(5)
        assert sock.recv(100) == b""  # closed by the host, without a word


def test_a_stalled_body_gets_408_and_leaves_no_partial_file(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(body_idle_timeout_seconds=1.0)
    parts = host.data_dir / "files"
    with _open(host.port) as sock:
        sock.sendall(b"POST /api/files?name=big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"
                     + b"x" * 100_000)
        wait_until(lambda: list(parts.glob("*.part")), 5, what="the upload to begin")
        status, body = _read_response(sock, timeout=5)
    assert status == 408 and "body" in body["detail"]
    wait_until(lambda: not list(parts.glob("*.part")), 5, what="the partial file to go")


def test_a_pipelined_request_that_stalls_is_timed_out_too(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(body_idle_timeout_seconds=1.0)
    with _open(host.port) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     b"POST /api/files?name=p.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: 1000\r\n\r\nabc")
        sock.settimeout(5)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    assert data.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in data


def test_a_slow_route_is_not_mistaken_for_a_stalled_body(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(body_idle_timeout_seconds=1.0)
    payload = os.urandom(3 * 1024 * 1024)

    def trickle() -> Iterator[bytes]:
        for i in range(0, len(payload), 512 * 1024):
            time.sleep(0.3)  # slower than the host, never idle for the limit
            yield payload[i:i + 512 * 1024]

    with host.http() as http:
        r = http.post("/api/files?name=slow.bin", content=trickle())
    assert r.status_code == 201, r.text
    assert r.json()["size"] == len(payload)


def test_connections_per_address_are_capped_for_every_route(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_open_connections_per_address=4)
    with ExitStack() as stack:
        chat = Chatter(host, "Holder")  # a WebSocket counts for as long as it is open
        stack.callback(chat.close)
        idle = [stack.enter_context(_open(host.port)) for _ in range(3)]
        refused = _open(host.port)
        refused.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, body = _read_response(refused)
        refused.close()
        assert status == 429 and "limit 4" in body["detail"]
        # Another address is not affected.
        with _open(host.port, source="127.0.0.2") as other:
            other.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
                          b"\r\n\r\n")
            assert other.recv(100).startswith(b"HTTP/1.1 200")
        idle[0].close()

        def fits() -> bool:
            try:
                return httpx.get(f"{host.url}/api/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(fits, 5, what="a freed slot")
    # Every connection gives its slot back when it closes, WebSockets included.
    assert host.thread is not None
    guard = host.thread.server.config.guard
    wait_until(lambda: guard.admitted == 0 and guard.refused == 0, 10, what="all slots back")


def test_all_connections_stay_below_the_hosts_limit(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_open_connections=3)
    with ExitStack() as stack:
        for i in range(3):
            stack.enter_context(_open(host.port, source=f"127.0.0.{10 + i}"))
        with _open(host.port, source="127.0.0.20") as late:
            status, body = _read_response(late)
        assert status == 503 and "try again" in body["detail"]


def _host_process(tmp_path: Path, nofile: tuple[int, int]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(tmp_path / "data"), "--no-discovery", "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limit)

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 20, what="the host process to answer")
    return proc, port


def _soft_nofile(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc")


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc")
def test_the_host_raises_its_open_file_limit(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.skip("the hard open-file limit here is 1,024: nothing to raise to")
    proc, _ = _host_process(tmp_path, (1024, hard))
    try:
        assert _soft_nofile(proc.pid) == hard
    finally:
        stop_process(proc)


def test_idle_connections_from_one_address_do_not_lock_others_out(tmp_path: Path) -> None:
    """With 1,024 descriptors and no way to raise them, 1,100 idle connections from one address
    used to fill the host: nobody else could connect."""
    mine = resource.getrlimit(resource.RLIMIT_NOFILE)
    if mine[0] < 1400:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, mine[1]), mine[1]))
    proc, port = _host_process(tmp_path, (1024, 1024))
    socks: list[socket.socket] = []
    try:
        for _ in range(1100):
            try:
                socks.append(_open(port, source="127.0.0.2"))
            except OSError:
                break
        t0 = time.perf_counter()
        r = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
        assert r.status_code == 200 and time.perf_counter() - t0 < 2
    finally:
        for s in socks:
            s.close()
        stop_process(proc)
        resource.setrlimit(resource.RLIMIT_NOFILE, mine)


def test_qr_codes_are_drawn_only_for_the_rooms_own_urls(host: Host) -> None:
    own = f"http://127.0.0.1:{host.port}/"

    async def attack() -> tuple[list[int], float]:
        async with httpx.AsyncClient(base_url=host.url, timeout=30) as http:
            t0 = time.perf_counter()
            answers = await asyncio.gather(*(http.get("/api/qr.svg",
                                                      params={"text": f"{i:03}" * 170})
                                             for i in range(16)))
            return [r.status_code for r in answers], (time.perf_counter() - t0) * 1000

    codes, took_ms = asyncio.run(attack())
    print(f"\n16 QR requests of 510 characters at once, all answered in {took_ms:.0f} ms")
    assert codes == [404] * 16
    with host.http() as http:
        r = http.get("/api/qr.svg", params={"text": own})
        assert r.status_code == 200 and r.text.startswith("<svg")
        assert http.get("/api/qr.svg", params={"text": own}).content == r.content
        assert "own room URLs" in http.get("/api/qr.svg",
                                           params={"text": "http://evil/"}).json()["detail"]


def test_room_list_streams_are_capped(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_peer_streams=2)
    with ExitStack() as stack:
        clients = [stack.enter_context(httpx.Client(base_url=host.url, timeout=10))
                   for _ in range(3)]
        lines = []
        for http in clients[:2]:
            stream = stack.enter_context(http.stream("GET", "/api/peers/stream"))
            assert stream.status_code == 200
            lines.append(stream.iter_lines())  # kept: dropping it closes the stream
            assert next(lines[-1]).startswith("retry:")
        r = clients[2].get("/api/peers/stream")
        assert r.status_code == 503 and "try again" in r.json()["detail"]
        clients[0].close()  # a listener goes away: its slot comes back

        def opens() -> bool:
            with clients[2].stream("GET", "/api/peers/stream") as s:
                return s.status_code == 200

        wait_until(opens, 10, what="a freed stream slot")


def test_a_loop_turn_begins_a_few_requests_and_the_next_turn_the_next_few() -> None:
    """The budget that keeps a crowd's handshakes from all landing in one turn of the loop."""
    from server.connections import TurnBudget

    async def main() -> list[int]:
        budget = TurnBudget(8)
        loop = asyncio.get_running_loop()
        taken = []
        for _ in range(3):
            taken.append(sum(budget.take(loop) for _ in range(20)))
            await asyncio.sleep(0)  # the next turn
        return taken
    assert asyncio.run(main()) == [8, 8, 8]


def test_a_crowd_of_requests_at_once_all_get_answers(make_host) -> None:  # type: ignore[no-untyped-def]
    """60 connections send their requests at once, half of them in two pieces: those beyond a
    turn's share wait for a later turn (the pieces gathered in order), and none is lost."""
    host: Host = make_host()
    request = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with ExitStack() as stack:
        socks = [stack.enter_context(_open(host.port)) for _ in range(60)]
        for i, sock in enumerate(socks):
            sock.sendall(request[:20] if i % 2 else request)
        for i, sock in enumerate(socks):
            if i % 2:
                sock.sendall(request[20:])
        for sock in socks:
            status, body = _read_response(sock)
            assert status == 200 and "history" in body
