"""A staged host (server/staged.py): the page's files are answered while the rest of the host is
still being built, and everything else is answered by the full host once it runs.

Real uvicorn on a free loopback port, real HTTP; the full host is the real one, built by the
same function the desktop lobby uses, held back by the test where it needs the "not yet" moment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect

from server.listen import bind_socket
from server.runner import ServerThread, app_builder
from server.settings import Settings
from server.staged import StagedApp, ui_paths
from tests.conftest import test_settings as settings_for
from tests.conftest import wait_until
from tests.e2e_helpers import launch_browser, new_page, shot


class HeldBuild:
    """The real host's build, which waits until :meth:`release` (and counts its calls)."""

    def __init__(self, settings: Settings, fail: bool = False) -> None:
        self.build = app_builder(settings, None)
        self.fail = fail
        self.gate = threading.Event()
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        if not self.gate.wait(30):
            raise TimeoutError("the test never released the build")
        if self.fail:
            raise RuntimeError("the history cannot be opened")
        return self.build()

    def release(self) -> None:
        self.gate.set()


class StagedHost:
    """A :class:`StagedApp` served by uvicorn on a thread."""

    def __init__(self, settings: Settings, build: Callable[[], Any],
                 build_after: float = 60) -> None:
        self.app = StagedApp(settings.static_dir, build, build_after=build_after)
        sock = bind_socket("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, lifespan="on", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.app.on_failure = lambda _exc: setattr(self.server, "should_exit", True)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=15, what="uvicorn to serve")
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def staged(tmp_path: Path) -> Iterator[Callable[..., StagedHost]]:
    made: list[StagedHost] = []

    def make(build: Callable[[], Any], **kw: Any) -> StagedHost:
        host = StagedHost(settings_for(tmp_path / "data"), build, **kw)
        made.append(host)
        return host

    yield make
    for host in made:
        host.stop()


def test_the_page_and_its_files_are_answered_before_the_host_is_built(
        staged: Callable[..., StagedHost], tmp_path: Path) -> None:
    build = HeldBuild(settings_for(tmp_path / "data"))
    host = staged(build)
    page = host.http.get("/")
    assert page.status_code == 200 and "<div id=\"app\"" in page.text
    # The same protections as every later answer: policy, framing, the browser's cookie.
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-cache"
    assert "lanchat_browser=" in page.headers["set-cookie"]
    script = host.http.get("/js/main.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert host.http.head("/css/app.css").status_code == 200
    assert host.http.get("/i18n/en.json").json()["app.name"] == "LAN Chat"
    # A foreign Host header is refused even now.
    assert host.http.get("/", headers={"host": "evil.example"}).status_code == 421
    assert build.calls == 0, "answering files must not start the build"


def test_everything_else_waits_for_the_host_and_gets_its_answer(
        staged: Callable[..., StagedHost], tmp_path: Path) -> None:
    build = HeldBuild(settings_for(tmp_path / "data"))
    host = staged(build)
    with ThreadPoolExecutor(4) as pool:
        waiting: list[Future[httpx.Response]] = [
            pool.submit(host.http.get, "/api/room"),
            pool.submit(host.http.get, "/no-such-file.js"),
            pool.submit(host.http.post, "/", content=b"x"),
        ]
        wait_until(lambda: build.calls == 1, timeout=10,
                   what="a request the files cannot answer to start the build")
        time.sleep(0.3)
        assert not any(f.done() for f in waiting), "answered before the host was built"
        build.release()
        room, missing, post = (f.result(timeout=30) for f in waiting)
    assert room.status_code == 200 and room.json()["room"] == "Test room"
    assert missing.status_code == 404 and post.status_code == 405
    assert build.calls == 1
    wait_until(lambda: host.app.ready, timeout=10, what="the host to be up")
    assert host.http.get("/api/health").status_code == 200


def test_with_no_request_the_host_is_built_a_moment_after_serving(
        staged: Callable[..., StagedHost], tmp_path: Path) -> None:
    build = HeldBuild(settings_for(tmp_path / "data"))
    build.release()
    host = staged(build, build_after=0.3)
    assert host.http.get("/").status_code == 200
    wait_until(lambda: host.app.ready, timeout=15, what="the host to build on its own")
    assert build.calls == 1
    assert host.app.state.room is not None


def test_a_host_that_cannot_start_answers_503_and_shuts_down(
        staged: Callable[..., StagedHost], tmp_path: Path) -> None:
    build = HeldBuild(settings_for(tmp_path / "data"), fail=True)
    host = staged(build)
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(host.http.get, "/api/room")
        wait_until(lambda: build.calls == 1, timeout=10, what="the build to start")
        build.release()
        answer = asked.result(timeout=30)
    assert answer.status_code == 503
    assert answer.json() == {"detail": "the host did not start"}
    host.thread.join(15)
    assert not host.thread.is_alive(), "the host kept running without its app"
    assert isinstance(host.app.error, RuntimeError)


def test_stopping_before_the_build_began_never_builds(
        staged: Callable[..., StagedHost], tmp_path: Path) -> None:
    build = HeldBuild(settings_for(tmp_path / "data"))
    host = staged(build)
    assert host.http.get("/").status_code == 200
    started = time.monotonic()
    host.stop()
    assert not host.thread.is_alive() and time.monotonic() - started < 10
    assert build.calls == 0


def test_server_thread_staged_returns_once_everything_answers(tmp_path: Path) -> None:
    thread = ServerThread(settings_for(tmp_path / "data"), staged=True).start()
    try:
        assert thread.app.ready and thread.app.state.room is not None
        with httpx.Client(base_url=f"http://127.0.0.1:{thread.port}", timeout=10) as http:
            assert http.get("/api/health").status_code == 200
    finally:
        thread.stop()


def test_server_thread_staged_says_why_the_room_did_not_start(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    settings.db_path.write_bytes(b"this is not a history" * 100)
    thread = ServerThread(settings, staged=True)
    with pytest.raises(RuntimeError, match="did not start: .+"):
        thread.start()
    thread.stop()


def test_the_ui_paths_are_the_files_of_the_static_folder(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "index.html").write_text("x")
    (tmp_path / "js" / "a.js").write_text("x")
    assert ui_paths(tmp_path) == {"/", "/index.html", "/js/a.js"}


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.mark.e2e
def test_the_lobby_shows_before_the_host_answers_and_fills_in_after(
        staged: Callable[..., StagedHost], tmp_path: Path, browser: Any) -> None:
    """Real Chromium: the lobby is usable from its files alone; what the host says (the room
    name it suggests) arrives when the host is up."""
    build = HeldBuild(settings_for(tmp_path / "data"))
    host = staged(build)
    _, page, errors = new_page(browser)
    page.goto(f"http://127.0.0.1:{host.port}/#lobby")
    # Well before the page would give up waiting for the host (5 s) and show it anyway.
    expect(page.locator(".lobby")).to_be_visible(timeout=3000)
    expect(page.locator("#host-name")).to_be_editable()
    expect(page.locator("#host-room")).to_have_value("")
    assert not host.app.ready, "the lobby waited for the host"
    build.release()
    expect(page.locator("#host-room")).to_have_value("Test room")
    expect(page.get_by_text("Not looking for rooms")).to_be_visible()
    shot(page, "staged-lobby.png")
    assert not errors.real_errors(), errors.real_errors()
