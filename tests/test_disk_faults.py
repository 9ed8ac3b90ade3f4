"""A full disk or a data folder that turns read-only: clear errors, no crash, nothing lost.

These mount a small tmpfs of their own, so they need root (CI runs as root and must run them).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT, Chatter, Host
from tests.procs import HostProcess


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("disk fault tests need root to mount a small tmpfs")
        pytest.skip("disk fault tests need root to mount a small tmpfs")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            for _ in range(10_000):
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def _stored_texts(host: Host) -> list[str]:
    with host.http() as http:
        return [e["text"] for e in http.get("/api/events", params={"limit": 500}).json()["events"]
                if e["type"] == "message"]


def test_a_full_disk_gives_clear_errors_and_loses_nothing(small_disk: Path) -> None:
    host = Host(small_disk / "data").start()
    try:
        ada = Chatter(host, "Ada")
        ada.say("before the disk filled")
        ada.recv_type("message")
        filler = _fill(small_disk)

        errors = []
        for i in range(200):
            cmid = ada.say(f"while full {i} " + "x" * 4000)
            event = ada.recv(timeout=10)
            while event["type"] not in ("message", "error"):
                event = ada.recv(timeout=10)
            if event["type"] == "error":
                errors.append(event)
                assert event["code"] == "store_failed" and event["client_msg_id"] == cmid
                assert "full" in event["detail"]
                break
        assert errors, "the host never reported the full disk"
        with host.http() as http:
            r = http.post("/api/files", files={"file": ("big.bin", b"y" * (512 * 1024))})
            assert r.status_code == 507 and r.json()["detail"]
            assert http.get("/api/health").json()["status"] == "ok"
        assert not [p for p in (small_disk / "data" / "files").iterdir()]

        filler.unlink()
        ada.say("after space came back")
        assert ada.recv_type("message", text="after space came back")
        texts = _stored_texts(host)
        assert texts[0] == "before the disk filled" and texts[-1] == "after space came back"
        ada.close()
    finally:
        host.stop()


def test_a_host_on_a_read_only_data_folder_says_so_and_loses_nothing(small_disk: Path) -> None:
    data = small_disk / "data"
    host = HostProcess(data).start()
    ada = Chatter(host, "Ada")
    ada.say("stored before")
    ada.recv_type("message")
    ada.close()
    host.stop()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", "0",
             "--data-dir", str(data), "--no-discovery"],
            cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert "cannot write to the data folder" in proc.stderr
        assert "Read-only file system" in proc.stderr
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    host.start()
    assert _stored_texts(host) == ["stored before"]
    host.stop()


def test_a_history_locked_by_another_process_gives_an_error_then_recovers(tmp_path: Path) -> None:
    host = Host(tmp_path / "data").start()
    try:
        ada = Chatter(host, "Ada")
        ada.say("stored before")
        ada.recv_type("message")
        other = sqlite3.connect(tmp_path / "data" / "history.sqlite3", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another program holds the database
        try:
            cmid = ada.say("while locked")
            err = ada.recv_type("error", timeout=15)
            assert err["code"] == "store_failed" and err["client_msg_id"] == cmid
            assert "locked" in err["detail"]
        finally:
            other.execute("ROLLBACK")
            other.close()
        ada.say("stored after")
        ada.recv_type("message", text="stored after")
        assert _stored_texts(host) == ["stored before", "stored after"]
        ada.close()
    finally:
        host.stop()


def test_a_disk_that_fills_during_an_upload_gives_507_keeps_nothing_and_recovers(
        small_disk: Path) -> None:
    """The bytes are written off the event loop now, in batches: a batch that finds the disk
    full (part of it written, then ENOSPC) still answers the sender 507 and leaves no file."""
    host = Host(small_disk / "data").start()
    try:
        spare = small_disk / "spare"
        spare.write_bytes(b"\0" * 1_500_000)
        filler = _fill(small_disk)
        spare.unlink()  # about 1.5 MB free: the upload's first batch fits, the rest does not
        files = small_disk / "data" / "files"
        with host.http() as http:
            r = http.post("/api/files", params={"name": "big.bin"}, content=os.urandom(3_000_000))
            assert r.status_code == 507, r.text
            assert "No space left" in r.json()["detail"]
            assert not list(files.iterdir())
            filler.unlink()
            data = os.urandom(3_000_000)
            r = http.post("/api/files", params={"name": "big.bin"}, content=data)
            assert r.status_code == 201, r.text
            assert http.get(r.json()["url"]).content == data
    finally:
        host.stop()
