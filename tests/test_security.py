"""Only the people who belong: passwords, brute-force brakes, foreign Hosts and Origins."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from server.security import AttemptLimiter, host_allowed
from tests.conftest import Chatter, Host


def _login(host: Host, password: str):  # type: ignore[no-untyped-def]
    with host.http() as http:
        return http.post("/api/login", json={"password": password})


def test_a_password_room_refuses_everything_to_non_members(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(password="correct horse")
    # A member shares a file and says something first.
    ok = _login(host, "correct horse")
    assert ok.status_code == 200
    cookie = ok.cookies["lanchat_session"]
    member = Chatter(host, "Member", additional_headers={"Cookie": f"lanchat_session={cookie}"})
    with host.http() as http:
        http.cookies.set("lanchat_session", cookie)
        meta = http.post("/api/files", files={"file": ("secret.txt", b"top secret")}).json()
        assert http.get(meta["url"]).content == b"top secret"
        assert http.get("/api/events").status_code == 200
    member.say("the plan", file_id=meta["id"])
    member.recv_type("message")

    with host.http() as stranger:
        room = stranger.get("/api/room").json()
        assert room["password"] is True and room["member"] is False and "names" not in room
        for method, url in (("GET", "/api/events"), ("GET", meta["url"]),
                            ("GET", f"{meta['url']}?download=1"), ("POST", "/api/files")):
            r = stranger.request(method, url)
            assert r.status_code == 401, (method, url)
            assert "password" in r.json()["detail"]
        stranger.cookies.set("lanchat_session", "0" * 32 + "." + "0" * 64)  # a forged token
        assert stranger.get("/api/events").status_code == 401
    with pytest.raises(ConnectionClosed) as closed:
        intruder = Chatter(host, "Intruder")
        intruder.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    member.close()


def test_the_password_is_never_stored_in_plain_text(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(password="hunter2-unique-marker")
    _login(host, "hunter2-unique-marker")
    host.stop()
    for path in host.data_dir.rglob("*"):
        if path.is_file():
            assert b"hunter2-unique-marker" not in path.read_bytes(), path


def test_wrong_passwords_are_answered_clearly_then_slowed_down(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(password="right")
    answers = [_login(host, f"guess{i}") for i in range(8)]
    codes = [a.status_code for a in answers]
    assert codes[:5] == [401] * 5 and answers[0].json()["detail"] == "wrong password"
    assert 429 in codes
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and "try again" in limited.json()["detail"]
    # Even the right password waits out the brake.
    assert _login(host, "right").status_code == 429


def test_attempt_limiter_doubles_the_wait_and_forgets_after_success() -> None:
    limiter = AttemptLimiter(free_attempts=2, base_delay=10)
    limiter.failed("a")
    assert limiter.retry_after("a") == 0
    limiter.failed("a")
    assert 9 <= limiter.retry_after("a") <= 10
    limiter.failed("a")
    assert 19 <= limiter.retry_after("a") <= 20
    assert limiter.retry_after("b") == 0
    limiter.succeeded("a")
    assert limiter.retry_after("a") == 0


def test_an_open_room_needs_no_password(host: Host) -> None:
    assert _login(host, "anything").status_code == 200
    with host.http() as http:
        assert http.get("/api/room").json()["password"] is False
        assert http.get("/api/events").status_code == 200


@pytest.mark.parametrize("header,ok", [
    ("127.0.0.1:8765", True), ("localhost:8765", True), ("[::1]:8765", True),
    ("192.168.1.20:8765", True), ("10.0.0.5", True), ("[fe80::1]:80", True),
    ("evil.example:8765", False), ("192.168.1.20.nip.io", False), ("", False),
    ("localhost.evil.example", False),
])
def test_host_header_rules(header: str, ok: bool) -> None:
    assert host_allowed(header, {"localhost", "deskpc", "deskpc.local"}) is ok


def test_a_foreign_host_header_is_refused_on_http_and_websocket(host: Host) -> None:
    with host.http() as http:
        r = http.get("/api/health", headers={"Host": "attacker.example"})
        assert r.status_code == 421 and "own names" in r.json()["detail"]
        r = http.get("/", headers={"Host": "attacker.example:80"})
        assert r.status_code == 421
        assert http.get("/api/health", headers={"Host": "localhost"}).status_code == 200
    # A rebound page's handshake: one Host header naming the attacker's domain.
    with socket.create_connection(("127.0.0.1", host.port)) as sock, \
            pytest.raises(InvalidStatus) as err:
        connect(f"ws://attacker.example:{host.port}/ws", sock=sock, open_timeout=10)
    assert err.value.response.status_code == 403
    # Two Host headers are malformed (RFC 9112): refused before any route runs.
    with pytest.raises(InvalidStatus) as err:
        Chatter(host, "Rebound", additional_headers={"Host": "attacker.example"})
    assert err.value.response.status_code == 400


def test_uploads_from_another_origin_are_refused(host: Host) -> None:
    with host.http() as http:
        r = http.post("/api/files", files={"file": ("a.txt", b"a")},
                      headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and r.json()["detail"]
        same = http.post("/api/files", files={"file": ("a.txt", b"a")},
                         headers={"Origin": host.url})
        assert same.status_code == 201


def test_every_page_carries_the_security_headers(host: Host) -> None:
    with host.http() as http:
        for path in ("/", "/api/health", "/api/room", "/js/main.js"):
            h = http.get(path).headers
            assert h["x-content-type-options"] == "nosniff", path
            assert "frame-ancestors 'none'" in h["content-security-policy"], path
            assert "'unsafe-inline'" not in h["content-security-policy"], path
            assert h["referrer-policy"] == "no-referrer", path


def test_too_many_connections_from_one_address_are_refused(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_connections_per_address=3)
    clients = [Chatter(host, f"c{i}") for i in range(3)]
    with pytest.raises(ConnectionClosed) as closed:
        extra = Chatter(host, "one too many")
        extra.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
    assert "too many connections" in closed.value.rcvd.reason
    clients[0].close()
    from tests.conftest import wait_until
    wait_until(lambda: len(host.room.hub.connections) == 2, 5, what="a slot to free up")
    Chatter(host, "now fits").close()
    for c in clients[1:]:
        c.close()


def test_an_oversized_frame_closes_only_that_connection(host: Host) -> None:
    ada = Chatter(host, "Ada")
    big = Chatter(host, "Big")
    # Over the host's frame limit (52 KiB), yet small enough to sit in the socket's buffers
    # whole: a bigger frame could break the pipe while being sent, before the host's 1009
    # close frame is read.
    big.ws.send("{" + '"x":"' + "y" * (64 * 1024) + '"}')
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(100):
            big.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    ada.say("still up")
    assert ada.recv_type("message")["text"] == "still up"
    ada.close()


def test_guesses_sent_all_at_once_are_braked_like_guesses_sent_in_turn(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(password="right")

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=host.url, timeout=60, limits=limits) as http:
            answers = await asyncio.gather(*(http.post("/api/login", json={"password": f"g{i}"})
                                             for i in range(100)))
        return [a.status_code for a in answers]

    codes = asyncio.run(burst())
    assert set(codes) <= {401, 429}
    assert codes.count(401) <= 5, codes.count(401)  # the free attempts, no more
    assert codes.count(429) >= 95


def test_a_check_in_flight_holds_back_the_next_and_counts_already() -> None:
    limiter = AttemptLimiter(free_attempts=1, base_delay=10)
    assert limiter.begin("a") == 0
    assert limiter.begin("a") >= 1  # one check per address at a time
    assert limiter.begin("b") == 0  # other addresses are not held back
    limiter.end("a", right=False)
    assert 9 <= limiter.retry_after("a") <= 10  # counted when it began
    limiter.end("b", right=True)
    assert limiter.retry_after("b") == 0 and limiter.begin("b") == 0


def test_a_cookie_with_non_ascii_characters_is_refused_with_401(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(password="right")
    forged = "lanchat_session=\u00e4\u00e4.\u00e4".encode("latin-1")
    with host.http() as http:
        r = http.get("/api/events", headers={"Cookie": forged})
        assert r.status_code == 401 and "password" in r.json()["detail"]
        assert http.get("/api/room", headers={"Cookie": forged}).json()["member"] is False
    with pytest.raises(ConnectionClosed) as closed:
        Chatter(host, "Forger", additional_headers={"Cookie": forged.decode("latin-1")}).recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_data_folder_and_its_files_are_the_owners_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as an earlier version left it
    (data / "history.sqlite3").touch(mode=0o644)
    (data / "history.sqlite3").chmod(0o644)
    host = Host(data).start()
    try:
        with host.http() as http:
            assert http.post("/api/files", files={"file": ("a.txt", b"a")}).status_code == 201
        assert _mode(data) == 0o700
        assert _mode(data / "files") == 0o700
        for path in data.rglob("*"):
            if path.is_file():
                assert _mode(path) == 0o600, path
        fresh = Host(tmp_path / "fresh" / "data").start()
        fresh.stop()
        assert _mode(tmp_path / "fresh" / "data") == 0o700
        assert _mode(tmp_path / "fresh" / "data" / "history.sqlite3") == 0o600
    finally:
        host.stop()


def test_only_members_learn_the_computers_name(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(password="right")
    with host.http() as http:
        assert "machine" not in http.get("/api/room").json()
        assert http.post("/api/login", json={"password": "right"}).status_code == 200
        assert http.get("/api/room").json()["machine"]
