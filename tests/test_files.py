"""Sharing files through a real host: streaming, limits, Range, names and headers."""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Chatter, Host, wait_until


def _chunks(total: int, seed: bytes = b"lanchat") -> Iterator[bytes]:
    block = hashlib.sha256(seed).digest() * 2048  # 64 KiB of non-trivial bytes
    sent = 0
    while sent < total:
        piece = block[: min(len(block), total - sent)]
        sent += len(piece)
        yield piece


def _multipart_stream(name: str, total: int, boundary: str = "lanchatboundary") -> Iterator[bytes]:
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    yield from _chunks(total)
    yield f"\r\n--{boundary}--\r\n".encode()


def test_100_mb_upload_round_trips_byte_for_byte(host: Host) -> None:
    total = 100 * 1024 * 1024
    want = hashlib.sha256()
    for c in _chunks(total):
        want.update(c)
    with host.http() as http:
        r = http.post("/api/files", content=_multipart_stream("big.bin", total),
                      headers={"content-type": "multipart/form-data; boundary=lanchatboundary"})
        assert r.status_code == 201, r.text
        meta = r.json()
        assert meta["name"] == "big.bin" and meta["size"] == total
        got = hashlib.sha256()
        with http.stream("GET", meta["url"]) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-disposition"].startswith("attachment")
            for c in resp.iter_bytes():
                got.update(c)
    assert got.hexdigest() == want.hexdigest()
    stored = list((host.data_dir / "files").iterdir())
    assert [p.name for p in stored] == [meta["id"]]  # stored by id, no .part left


def test_shared_file_appears_in_the_chat_for_everyone(host: Host) -> None:
    ada = Chatter(host, "Ada")
    bob = Chatter(host, "Bob")
    with host.http() as http:
        meta = http.post("/api/files", files={"file": ("cat.png", b"\x89PNG fake", "image/png")}
                         ).json()
    ada.say("", file_id=meta["id"])
    event = bob.recv_type("message")
    assert event["file"] == meta and event["file"]["mime"] == "image/png"
    with host.http() as http:
        r = http.get(meta["url"])
        assert r.headers["content-disposition"].startswith("inline")
        assert r.headers["content-type"] == "image/png"
    ada.close()
    bob.close()


def test_over_the_limit_is_refused_with_413_and_nothing_is_kept(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_upload_bytes=1024 * 1024)
    with host.http() as http:
        r = http.post("/api/files", files={"file": ("big.bin", os.urandom(2 * 1024 * 1024))})
        assert r.status_code == 413 and "limit" in r.json()["detail"]
        # Without a Content-Length the limit still holds while streaming.
        r = http.post("/api/files", content=_multipart_stream("big.bin", 3 * 1024 * 1024),
                      headers={"content-type": "multipart/form-data; boundary=lanchatboundary"})
        assert r.status_code == 413
        ok = http.post("/api/files", files={"file": ("small.txt", b"fits")})
        assert ok.status_code == 201
    assert [p.name for p in (host.data_dir / "files").iterdir()] == [ok.json()["id"]]


def test_range_requests_return_the_right_bytes(host: Host) -> None:
    data = bytes(range(256)) * 40
    with host.http() as http:
        meta = http.post("/api/files", files={"file": ("r.bin", data)}).json()
        r = http.get(meta["url"], headers={"Range": "bytes=1000-1099"})
        assert r.status_code == 206 and r.content == data[1000:1100]
        assert r.headers["content-range"] == f"bytes 1000-1099/{len(data)}"
        tail = http.get(meta["url"], headers={"Range": "bytes=-10"})
        assert tail.content == data[-10:]
        assert http.get(meta["url"], headers={"Range": "bytes=99999-"}).status_code == 416


def test_names_are_kept_as_metadata_and_never_reach_the_file_system(host: Host) -> None:
    with host.http() as http:
        r = http.post("/api/files", content=_multipart_stream("../../etc/pass\x07wd résumé.txt", 1),
                      headers={"content-type": "multipart/form-data; boundary=lanchatboundary"})
        assert r.status_code == 201
        meta = r.json()
        assert meta["name"] == "passwd résumé.txt"
        cd = http.get(meta["url"]).headers["content-disposition"]
        assert "filename*=utf-8''passwd%20r%C3%A9sum%C3%A9.txt" in cd
        for bad in ("../history.sqlite3", "..%2fhistory.sqlite3", "0" * 32, "%2e%2e"):
            assert http.get(f"/api/files/{bad}").status_code == 404
        html = http.post("/api/files", files={"file": ("x.html", b"<script>alert(1)</script>")})
        served = http.get(html.json()["url"])
        assert served.headers["content-type"] == "application/octet-stream"
        assert served.headers["content-disposition"].startswith("attachment")
        assert http.post("/api/files", content=b"raw").status_code == 400
        raw = http.post("/api/files", params={"name": "raw.txt"}, content=b"raw body",
                        headers={"content-type": "application/octet-stream"})
        assert raw.status_code == 201 and raw.json()["size"] == 8


def test_a_broken_upload_leaves_nothing_behind(host: Host) -> None:
    def dies() -> Iterator[bytes]:
        yield from _multipart_stream("half.bin", 5 * 1024 * 1024)
        raise ConnectionError("cable pulled")

    def dies_midway() -> Iterator[bytes]:
        stream = _multipart_stream("half.bin", 5 * 1024 * 1024)
        for i, chunk in enumerate(stream):
            if i == 20:
                raise ConnectionError("cable pulled")
            yield chunk

    with host.http() as http:
        try:
            http.post("/api/files", content=dies_midway(),
                      headers={"content-type": "multipart/form-data; boundary=lanchatboundary"})
        except (httpx.HTTPError, ConnectionError):
            pass
        files_dir: Path = host.data_dir / "files"
        from tests.conftest import wait_until
        wait_until(lambda: not list(files_dir.iterdir()), 5, what="the .part file to go")
        assert http.get("/api/health").status_code == 200


def test_the_total_space_for_shared_files_is_capped_with_507(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_total_upload_bytes=300_000)
    with host.http() as http:
        first = http.post("/api/files", files={"file": ("a.bin", b"a" * 200_000)})
        assert first.status_code == 201
        second = http.post("/api/files", files={"file": ("b.bin", b"b" * 200_000)})
        assert second.status_code == 507 and "full" in second.json()["detail"]
        assert http.post("/api/files", files={"file": ("c.bin", b"c" * 50_000)}).status_code == 201
    host.stop()
    host.start()  # the space already used is remembered across restarts
    with host.http() as http:
        assert http.post("/api/files", files={"file": ("d.bin", b"d" * 60_000)}).status_code == 507


def _start_upload(host: Host, declared: int, sent: int) -> socket.socket:
    """A raw upload that declares ``declared`` bytes, sends ``sent`` of them and holds."""
    sock = socket.create_connection(("127.0.0.1", host.port), timeout=10)
    sock.sendall(f"POST /api/files?name=held.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
                 .encode() + b"h" * sent)
    return sock


def _response(sock: socket.socket, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of the next response on a raw connection."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "closed without a response"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), json.loads(body)


def _part_bytes(host: Host) -> int:
    return sum(p.stat().st_size for p in (host.data_dir / "files").glob("*.part"))


def test_parallel_uploads_cannot_overrun_the_total_space(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_total_upload_bytes=1_000_000, max_uploads_per_address=10)
    held = [_start_upload(host, 400_000, 300_000) for _ in range(6)]
    try:
        # Two fit in the space (whichever the host reads first); the others are told so
        # before their bodies are written.
        answered: set[socket.socket] = set()

        def four_answered() -> bool:
            ready, _, _ = select.select([s for s in held if s not in answered], [], [], 0.05)
            answered.update(ready)
            return len(answered) >= 4

        wait_until(four_answered, 10, what="four uploads to be refused")
        for sock in answered:
            status, body = _response(sock)
            assert status == 507 and "full" in body["detail"]
        wait_until(lambda: _part_bytes(host) >= 600_000, 10, what="the two uploads to arrive")
        assert _part_bytes(host) <= 1_000_000
        for sock in set(held) - answered:
            sock.sendall(b"h" * 100_000)
            status, body = _response(sock)
            assert status == 201 and body["size"] == 400_000
    finally:
        for sock in held:
            sock.close()


def test_one_address_has_a_few_uploads_in_progress_at_most(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_uploads_per_address=2)
    held = [_start_upload(host, 200_000, 1000) for _ in range(2)]
    wait_until(lambda: len(list((host.data_dir / "files").glob("*.part"))) == 2, 10,
               what="two uploads in progress")
    with host.http() as http:
        r = http.post("/api/files", params={"name": "third.txt"}, content=b"third")
        assert r.status_code == 429 and "in progress" in r.json()["detail"]
        held[0].sendall(b"h" * 199_000)
        assert _response(held[0])[0] == 201
        r = http.post("/api/files", params={"name": "third.txt"}, content=b"third")
        assert r.status_code == 201
    for sock in held:
        sock.close()


def test_a_stalled_upload_gives_its_space_back(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_total_upload_bytes=1_000_000, body_idle_timeout_seconds=1.0)
    with _start_upload(host, 900_000, 1000) as stalled:
        status, _ = _response(stalled)
        assert status == 408
    with host.http() as http:
        r = http.post("/api/files", params={"name": "fits.bin"}, content=b"f" * 900_000)
        assert r.status_code == 201, r.text
    assert _part_bytes(host) == 0


def test_resumable_and_one_shot_uploads_share_one_space(make_host) -> None:  # type: ignore[no-untyped-def]
    host: Host = make_host(max_total_upload_bytes=1_000_000)
    with host.http() as http:
        announced = http.post("/api/files/uploads", json={"name": "big.zip", "size": 700_000})
        assert announced.status_code == 201
        r = http.post("/api/files", params={"name": "more.bin"}, content=b"m" * 400_000)
        assert r.status_code == 507, "the announced upload's space was promised"
        assert http.delete(announced.json()["url"]).status_code == 204
        with _start_upload(host, 900_000, 1000) as held:
            wait_until(lambda: _part_bytes(host) > 0, 10, what="the one-shot upload to begin")
            r = http.post("/api/files/uploads", json={"name": "late.zip", "size": 400_000})
            assert r.status_code == 507, "the one-shot upload in progress holds its space"
            held.sendall(b"h" * 899_000)
            assert _response(held)[0] == 201
