"""A slow disk does not stall the room while files arrive.

The host runs as a process with the slow-disk shim of ``tests/bench/slowdisk.py`` preloaded:
every ``fsync`` of an upload's file takes 1.5 s more, or every ``write()`` to one waits 1 s
first (a disk whose write cache is full); the history database keeps the real disk's speed.
Meanwhile another client pings over its WebSocket; when upload bytes or their final sync are
handled on the event loop, every ping waits for them.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.bench.slowdisk import build_shim
from tests.conftest import Chatter, need_tool, wait_until
from tests.procs import HostProcess

WORST_PING_SECONDS = 0.5  # an idle ping takes a few ms; a stalled loop holds it 1 s or more
SLOW_FSYNC = {"SLOW_FSYNC_MS": "1500"}
SLOW_WRITE = {"SLOW_FSYNC_MS": "0", "SLOW_WRITE_MS": "1000"}


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tool(shutil.which("cc") or shutil.which("gcc"), "a C compiler (gcc)")
    return build_shim(tmp_path_factory.mktemp("shim"))


@pytest.fixture
def slow_host(tmp_path: Path, shim: Path) -> Iterator[Callable[..., HostProcess]]:
    started: list[HostProcess] = []

    def start(**env: str) -> HostProcess:
        data = tmp_path / "data"
        host = HostProcess(data)
        folders = f"{data.resolve() / 'files'}:{data.resolve() / 'partial-uploads'}"
        host.env = {"LD_PRELOAD": str(shim), "SLOW_WRITE_UNDER": folders,
                    "SLOW_FSYNC_UNDER": folders, **env}
        started.append(host)
        return host.start()

    yield start
    for host in started:
        host.stop()


def _one_shot(host: HostProcess, data: bytes) -> dict[str, object]:
    with host.http() as http:
        r = http.post("/api/files", files={"file": ("slow.bin", data)},
                      headers={"Origin": host.url}, timeout=60)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _announce(host: HostProcess, size: int) -> str:
    with host.http() as http:
        r = http.post("/api/files/uploads", json={"name": "slow.bin", "size": size},
                      headers={"Origin": host.url})
    assert r.status_code == 201, r.text
    return str(r.json()["url"])


def _resume(host: HostProcess, url: str, data: bytes) -> dict[str, object]:
    with host.http() as http:
        r = http.patch(url, content=data, headers={"Origin": host.url, "Upload-Offset": "0"},
                       timeout=60)
    assert r.status_code == 200, r.text
    record = r.json()["file"]
    assert record is not None
    return dict(record)


def _pings_while(host: HostProcess, upload: Callable[[], dict[str, object]]
                 ) -> tuple[list[float], dict[str, object]]:
    """Round trips of another client's pings for as long as ``upload`` runs (at most 60 s)."""
    watcher = Chatter(host, "Watcher")
    result: dict[str, object] = {}
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.update(upload())
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    uploading = threading.Thread(target=run)
    uploading.start()
    rtts = []
    deadline = time.monotonic() + 60
    while uploading.is_alive() and time.monotonic() < deadline:
        t0 = time.monotonic()
        watcher.send(type="ping")
        watcher.recv_type("pong", timeout=30)
        rtts.append(time.monotonic() - t0)
        time.sleep(0.02)  # pacing, not synchronisation
    uploading.join(30)
    watcher.close()
    assert not errors, errors
    if rtts:
        print(f"\n{len(rtts)} pings during the upload, worst {max(rtts) * 1000:.0f} ms")
    return rtts, result


@pytest.mark.parametrize("disk", [SLOW_FSYNC, SLOW_WRITE], ids=["slow-fsync", "slow-write"])
def test_a_one_shot_upload_on_a_slow_disk_does_not_stall_the_room(
        slow_host: Callable[..., HostProcess], disk: dict[str, str]) -> None:
    host = slow_host(**disk)
    data = os.urandom(768 * 1024)
    rtts, record = _pings_while(host, lambda: _one_shot(host, data))
    assert max(rtts) < WORST_PING_SECONDS, f"pings stalled up to {max(rtts):.2f} s"
    assert len(rtts) >= 5, "the upload ended before the pings could tell anything"
    with host.http() as http:
        assert http.get(str(record["url"])).content == data
    assert not list((host.data_dir / "files").glob("*.part"))


@pytest.mark.parametrize("disk", [SLOW_FSYNC, SLOW_WRITE], ids=["slow-fsync", "slow-write"])
def test_a_resumable_upload_on_a_slow_disk_does_not_stall_the_room(
        slow_host: Callable[..., HostProcess], disk: dict[str, str]) -> None:
    host = slow_host(**disk)
    data = os.urandom(768 * 1024)
    url = _announce(host, len(data))
    rtts, record = _pings_while(host, lambda: _resume(host, url, data))
    assert max(rtts) < WORST_PING_SECONDS, f"pings stalled up to {max(rtts):.2f} s"
    assert len(rtts) >= 5, "the upload ended before the pings could tell anything"
    with host.http() as http:
        assert http.get(str(record["url"])).content == data


def test_a_cut_upload_waits_for_its_write_then_leaves_nothing(
        slow_host: Callable[..., HostProcess]) -> None:
    """The client goes away while a batch is being written: the file is closed only after that
    write, removed, and its space given back; the next upload's bytes are its own."""
    host = slow_host(LANCHAT_MAX_TOTAL_UPLOAD_BYTES="4000000", **SLOW_WRITE)
    with socket.create_connection(("127.0.0.1", host.port), timeout=10) as sock:
        sock.sendall(b"POST /api/files?name=cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/octet-stream\r\nContent-Length: 3000000\r\n\r\n"
                     + b"c" * 1_500_000)
        files = host.data_dir / "files"
        wait_until(lambda: list(files.glob("*.part")), 10, what="the upload to begin")
    wait_until(lambda: not list(files.glob("*.part")), 15, what="the cut upload's file to go")
    second = os.urandom(2_000_000)
    with host.http() as http:
        r = http.post("/api/files", params={"name": "next.bin"}, content=second,
                      headers={"Origin": host.url}, timeout=60)
        assert r.status_code == 201, r.text  # 507 if the cut upload still held its space
        assert http.get(r.json()["url"]).content == second
    assert "Traceback" not in host.output()


def test_a_cut_resumable_upload_continues_from_what_reached_the_disk(
        slow_host: Callable[..., HostProcess]) -> None:
    """A PATCH cut while its bytes are being written: what arrived is written before the
    upload takes another request, and continuing from the offset then reported gives back
    exactly the file."""
    host = slow_host(**SLOW_WRITE)
    data = os.urandom(3_000_000)
    url = _announce(host, len(data))

    def offset() -> int:
        with host.http() as http:
            return int(http.get(url, headers={"Origin": host.url}).json()["offset"])

    with socket.create_connection(("127.0.0.1", host.port), timeout=10) as sock:
        sock.sendall(f"PATCH {url} HTTP/1.1\r\nHost: 127.0.0.1:{host.port}\r\n"
                     f"Origin: {host.url}\r\n"
                     f"Upload-Offset: 0\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                     + data[:1_500_000])
        wait_until(lambda: offset() > 0, 15, what="the first batch to reach the disk")

    def rest() -> dict[str, object] | None:
        at = offset()
        with host.http() as http:
            r = http.patch(url, content=data[at:], timeout=60,
                           headers={"Origin": host.url, "Upload-Offset": str(at)})
        assert r.status_code in (200, 409), r.text  # 409: the cut request is still closing
        return dict(r.json()["file"]) if r.status_code == 200 else None

    record = wait_until(rest, 30, interval=0.2, what="the rest to be accepted")
    with host.http() as http:
        assert http.get(str(record["url"])).content == data
