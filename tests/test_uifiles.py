"""The UI's files as a real host answers them (server/uifiles.py): types, revalidation, changes
on disk, JSON errors, and nothing outside the UI folder, whatever the request line says."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

from server import paths
from tests.conftest import Host


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """Send ``GET <target>`` exactly as written (no client normalises it); status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def ui_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "ui"
    shutil.copytree(paths.static_dir(), folder)
    return folder


def test_pages_scripts_and_words_with_their_types(host: Host) -> None:
    with host.http() as http:
        page = http.get("/")
        assert page.status_code == 200 and page.headers["content-type"] == \
            "text/html; charset=utf-8"
        assert page.text == (paths.static_dir() / "index.html").read_text(encoding="utf-8")
        script = http.get("/js/main.js")
        assert "javascript" in script.headers["content-type"]
        assert script.content == (paths.static_dir() / "js" / "main.js").read_bytes()
        assert http.get("/i18n/en.json").json()["app.name"] == "LAN Chat"
        assert http.get("/icon.svg").headers["content-type"].startswith("image/svg+xml")
        head = http.head("/css/app.css")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == (
            paths.static_dir() / "css" / "app.css").stat().st_size


def test_a_page_kept_by_the_browser_is_revalidated_and_a_changed_file_is_served_anew(
        make_host: Callable[..., Host], tmp_path: Path) -> None:
    folder = ui_copy(tmp_path)
    host = make_host(static_dir=folder)
    with host.http() as http:
        first = http.get("/js/util.js")
        tag = first.headers["etag"]
        again = http.get("/js/util.js", headers={"if-none-match": tag})
        assert again.status_code == 304 and again.content == b""
        assert http.get("/js/util.js", headers={"if-none-match": f'W/{tag}, "x"'}
                        ).status_code == 304
        (folder / "js" / "util.js").write_text("export const changed = 1;\n")
        changed = http.get("/js/util.js", headers={"if-none-match": tag})
        assert changed.status_code == 200 and changed.text == "export const changed = 1;\n"
        assert changed.headers["etag"] != tag


def test_missing_files_and_other_methods_get_json_errors(host: Host) -> None:
    with host.http() as http:
        missing = http.get("/js/no-such-module.js")
        assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
        posted = http.post("/js/main.js", content=b"x")
        assert posted.status_code == 405 and posted.json() == {"detail": "Method Not Allowed"}
        assert posted.headers["allow"] == "GET, HEAD"
        # Security headers as on every answer.
        assert missing.headers["x-content-type-options"] == "nosniff"


def test_nothing_outside_the_ui_folder_or_hidden_in_it_is_served(
        make_host: Callable[..., Host], tmp_path: Path) -> None:
    folder = ui_copy(tmp_path)
    (tmp_path / "secret.txt").write_text("outside")
    (folder / ".hidden").write_text("hidden")
    os.symlink(tmp_path / "secret.txt", folder / "link.txt")
    (folder / "js" / "sub").mkdir()
    host = make_host(static_dir=folder)
    for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/js/../../secret.txt",
                   "/js/%2e%2e/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/.hidden",
                   "/js/..%5c..%5csecret.txt", "/link.txt", f"/{tmp_path}/secret.txt",
                   "//etc/passwd", "/js/sub", "/js/", "/%00", "/js/main.js%00.txt"):
        status, body = raw_get(host.port, target)
        assert status in (400, 404), (target, status)
        assert b"outside" not in body and b"hidden" not in body and b"root:" not in body
    assert raw_get(host.port, "/js/../index.html")[0] in (200, 404)  # inside: either is fine


def test_the_staged_and_the_full_host_answer_a_file_alike(tmp_path: Path) -> None:
    from server.runner import ServerThread
    from tests.conftest import test_settings as settings_for

    thread = ServerThread(settings_for(tmp_path / "d"), staged=True).start()
    try:
        status, body = raw_get(thread.port, "/js/main.js")
        assert status == 200 and body == (paths.static_dir() / "js" / "main.js").read_bytes()
    finally:
        thread.stop()
