"""Resumable uploads on a real host: continue from the host's offset, even across a restart."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.conftest import Host


def origin(host: Host) -> dict[str, str]:
    return {"Origin": host.url}


def test_an_upload_continues_where_it_stopped_across_a_host_restart(tmp_path: Path) -> None:
    host = Host(tmp_path / "data").start()
    data = os.urandom(300_000)
    try:
        with host.http() as http:
            made = http.post("/api/files/uploads", json={"name": "plans.zip", "size": len(data)},
                             headers=origin(host))
            assert made.status_code == 201, made.text
            up = made.json()
            assert up["offset"] == 0 and up["url"] == f"/api/files/uploads/{up['upload_id']}"
            first = http.patch(up["url"], content=data[:100_000],
                               headers={**origin(host), "Upload-Offset": "0"})
            assert first.status_code == 200 and first.json()["offset"] == 100_000
            assert first.json()["file"] is None
        host.stop()
        host.start()
        with host.http() as http:
            status = http.get(up["url"], headers=origin(host))
            assert status.status_code == 200 and status.json()["offset"] == 100_000
            wrong = http.patch(up["url"], content=data[50_000:],
                               headers={**origin(host), "Upload-Offset": "50000"})
            assert wrong.status_code == 409 and wrong.json()["offset"] == 100_000
            rest = http.patch(up["url"], content=data[100_000:],
                              headers={**origin(host), "Upload-Offset": "100000"})
            assert rest.status_code == 200, rest.text
            record = rest.json()["file"]
            assert record["name"] == "plans.zip" and record["size"] == len(data)
            assert http.get(record["url"]).content == data
            assert http.get(up["url"], headers=origin(host)).status_code == 404
    finally:
        host.stop()
    assert not list((tmp_path / "data" / "partial-uploads").iterdir())


def test_uploads_are_checked_and_belong_to_their_starter(tmp_path: Path) -> None:
    host = Host(tmp_path / "data", max_upload_bytes=1000, max_total_upload_bytes=1500).start()
    try:
        with host.http() as http:
            big = http.post("/api/files/uploads", json={"name": "big", "size": 1001},
                            headers=origin(host))
            assert big.status_code == 413 and big.json()["detail"]
            first = http.post("/api/files/uploads", json={"name": "a", "size": 1000},
                              headers=origin(host))
            assert first.status_code == 201
            # The first upload's announced size is reserved: a second one does not fit.
            full = http.post("/api/files/uploads", json={"name": "b", "size": 600},
                             headers=origin(host))
            assert full.status_code == 507
            url = first.json()["url"]
            over = http.patch(url, content=b"x" * 1001,
                              headers={**origin(host), "Upload-Offset": "0"})
            assert over.status_code == 413
            foreign = http.post("/api/files/uploads", json={"name": "a", "size": 1},
                                headers={"Origin": "http://evil.example"})
            assert foreign.status_code == 403
            assert http.delete(url, headers=origin(host)).status_code == 204
            assert http.get(url, headers=origin(host)).status_code == 404
        # Another session (here: a password room's cookie) cannot touch it.
    finally:
        host.stop()


def test_another_session_cannot_see_or_append_to_an_upload(tmp_path: Path) -> None:
    host = Host(tmp_path / "data", password="pw").start()
    try:
        ann, bob = host.http(), host.http()
        for client in (ann, bob):
            assert client.post("/api/login", json={"password": "pw"}).status_code == 200
        url = ann.post("/api/files/uploads", json={"name": "a.txt", "size": 3},
                       headers=origin(host)).json()["url"]
        assert bob.get(url, headers=origin(host)).status_code == 403
        assert bob.patch(url, content=b"abc",
                         headers={**origin(host), "Upload-Offset": "0"}).status_code == 403
        assert httpx.get(host.url + url, headers=origin(host)).status_code == 401
        done = ann.patch(url, content=b"abc", headers={**origin(host), "Upload-Offset": "0"})
        assert done.json()["file"]["size"] == 3
        ann.close()
        bob.close()
    finally:
        host.stop()


def test_an_idle_partial_upload_expires_and_frees_its_space(tmp_path: Path) -> None:
    host = Host(tmp_path / "data", max_total_upload_bytes=1000,
                partial_upload_expire_seconds=0.0).start()
    try:
        with host.http() as http:
            first = http.post("/api/files/uploads", json={"name": "a", "size": 900},
                              headers=origin(host))
            assert first.status_code == 201
            # Idle past its expiry: the next announcement finds the space free again.
            second = http.post("/api/files/uploads", json={"name": "b", "size": 900},
                               headers=origin(host))
            assert second.status_code == 201, second.text
            assert http.get(first.json()["url"], headers=origin(host)).status_code == 404
    finally:
        host.stop()
