"""The JS bridge without a window: what a page (our own or a remote host's) can and cannot do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop.bridge import EXPOSED, Bridge, JsApi, is_own_url, safe_external_url, window_title
from desktop.prefs import PrefsStore
from desktop.servers import EmbeddedServer
from desktop.useragent import DESKTOP_UA_TOKEN, desktop_user_agent
from server.settings import Settings


class FakeWindow:
    """Stands in for webview.Window: the URL the page is on, and the titles set."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.titles: list[str] = []

    def get_current_url(self) -> str | None:
        return self.url

    def set_title(self, title: str) -> None:
        self.titles.append(title)


class FakeServer:
    """The part of EmbeddedServer the bridge uses, recording host() calls."""

    def __init__(self, port: int = 8765) -> None:
        self.port = port
        self.hosting = False
        self.room = "lobby"
        self.hosted: list[str] = []
        self.passwords: list[str | None] = []

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"{self.origin}/api/admin/enter?key=k3y"

    def host(self, room: str, password: str | None = None,
             host_name: str | None = None) -> None:
        self.hosted.append(room)
        self.passwords.append(password)
        self.hosting = True
        self.room = room

    def stop_hosting(self) -> None:
        self.hosting = False


def make(tmp_path: Path, url: str) -> tuple[Bridge, FakeWindow, FakeServer, list[Any]]:
    """A bridge whose "person" agrees to host (the question is recorded in ``opened``)."""
    server = FakeServer()
    opened: list[Any] = []
    bridge = Bridge(server, PrefsStore(tmp_path / "cfg"),  # type: ignore[arg-type]
                    notifier=lambda t, b: opened.append(("notify", t, b)) or True,
                    opener=lambda u: opened.append(("open", u)) or True,
                    confirm=lambda room, pw: opened.append(("asked", room, pw)) or True)
    window = FakeWindow(url)
    bridge.attach(window)
    return bridge, window, server, opened


def walk(obj: object, dotted: str) -> object:
    """What pywebview's dispatcher does with the function name a page sends."""
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def test_js_api_lists_and_resolves_only_the_exposed_names(tmp_path: Path) -> None:
    bridge, *_ = make(tmp_path, "http://127.0.0.1:8765/#lobby")
    api = JsApi(bridge)
    assert set(dir(api)) == EXPOSED
    for name in EXPOSED:
        assert callable(walk(api, name))
    for sneaky in ["_JsApi__calls", "__class__", "__dict__", "__init__", "__getattribute__",
                   "__setattr__", "_server", "_prefs", "attach", "page_changed",
                   "get_prefs.__self__", "get_prefs.__func__",
                   "host_room.__closure__.cell_contents", "host_room.__closure__.0"]:
        assert walk(api, sneaky) is None, sneaky
    # Walking into an exposed function reaches only its own empty globals.
    assert walk(api, "get_prefs.__globals__") == {"__builtins__": {}}
    with pytest.raises(AttributeError):
        api.anything = 1  # type: ignore[attr-defined]


def test_pywebview_enumerates_exactly_the_exposed_functions(tmp_path: Path) -> None:
    """Run pywebview's own listing code over the object it would be given."""
    import inspect

    bridge, *_ = make(tmp_path, "http://127.0.0.1:8765/#lobby")
    api = JsApi(bridge)
    listed = {n for n in dir(api) if not n.startswith("_")
              and (inspect.isfunction(getattr(api, n)) or inspect.ismethod(getattr(api, n)))}
    assert listed == EXPOSED


def test_own_page_may_host_and_save_prefs(tmp_path: Path) -> None:
    bridge, window, server, _ = make(tmp_path, "http://127.0.0.1:8765/#lobby")
    assert bridge.set_prefs({"name": "  Ann  "}) == {"prefs": {"name": "Ann", "last_room": "",
                                                                   "standby": True}}
    result = bridge.host_room({"room": "Den", "name": "Ann"})
    # The window goes in through the admin entry (it moderates); prefs keep the plain room.
    assert result == {"url": "http://127.0.0.1:8765/api/admin/enter?key=k3y", "room": "Den"}
    assert server.hosted == ["Den"]
    assert bridge.get_prefs() == {"name": "Ann", "last_room": "http://127.0.0.1:8765/",
                                  "standby": True}
    # The lobby page remembers the address it was given: the room, without its admin key.
    bridge.set_prefs({"name": "Ann", "last_room": result["url"]})
    assert bridge.get_prefs() == {"name": "Ann", "last_room": "http://127.0.0.1:8765/",
                                  "standby": True}
    assert window.titles[-1] == "LAN Chat — Den"
    assert server.passwords == [None]


def test_hosting_with_a_password_passes_it_to_the_server_only(tmp_path: Path) -> None:
    bridge, _window, server, _ = make(tmp_path, "http://127.0.0.1:8765/#lobby")
    assert bridge.host_room({"room": "Den", "name": "Ann", "password": "s3cret"})["url"]
    assert server.passwords == ["s3cret"]
    assert "s3cret" not in str(bridge.get_prefs())
    assert "error" in bridge.host_room({"room": "Den", "password": 42})
    assert "error" in bridge.host_room({"room": "Den", "password": "x" * 500})


@pytest.mark.parametrize("url", ["http://192.168.1.20:8765/", "http://127.0.0.1:9999/",
                                 "https://127.0.0.1:8765/", "file:///etc/passwd", ""])
def test_remote_pages_cannot_host_or_change_prefs(tmp_path: Path, url: str) -> None:
    bridge, _, server, _ = make(tmp_path, url)
    assert "error" in bridge.host_room({"room": "Evil", "name": "x"})
    assert "error" in bridge.set_prefs({"name": "Mallory"})
    assert server.hosted == []
    assert bridge.get_prefs()["name"] == ""


def test_prefs_are_validated_and_survive_a_new_store(tmp_path: Path) -> None:
    bridge, *_ = make(tmp_path, "http://localhost:8765/")
    assert "error" in bridge.set_prefs({"name": "x" * 33})
    assert "error" in bridge.set_prefs({"name": 5})
    assert "error" in bridge.set_prefs({"path": "/etc"})
    assert "error" in bridge.set_prefs(["name"])
    assert "prefs" in bridge.set_prefs({"name": "Bo", "last_room": "http://10.0.0.2:8765/"})
    again = PrefsStore(tmp_path / "cfg").load()
    assert (again.name, again.last_room) == ("Bo", "http://10.0.0.2:8765/")
    (tmp_path / "cfg" / "prefs.json").write_text("{broken")
    assert PrefsStore(tmp_path / "cfg").load().name == ""


def test_unread_count_goes_in_the_title(tmp_path: Path) -> None:
    bridge, window, *_ = make(tmp_path, "http://192.168.1.20:8765/")
    bridge.set_unread(4, "Their room")
    assert window.titles[-1] == "(4) LAN Chat — Their room"
    bridge.set_unread(0)
    assert window.titles[-1] == "LAN Chat — Their room"
    bridge.set_unread("lots")
    assert window.titles[-1] == "LAN Chat — Their room"
    assert window_title(None, 2) == "(2) LAN Chat"


def test_open_external_takes_only_http_links(tmp_path: Path) -> None:
    bridge, _, _, opened = make(tmp_path, "http://192.168.1.20:8765/")
    assert bridge.open_external("https://example.org/a?b=c")
    for bad in ["file:///etc/passwd", "javascript:alert(1)", "http://", "smb://host/share",
                "http://a b/", 42, None]:
        assert not bridge.open_external(bad), bad
    assert opened == [("open", "https://example.org/a?b=c")]
    assert safe_external_url("HTTP://Example.org/") == "HTTP://Example.org/"


def test_notify_is_rate_limited_and_never_raises(tmp_path: Path) -> None:
    bridge, _, _, opened = make(tmp_path, "http://192.168.1.20:8765/")
    assert bridge.notify("Bob", "hi " * 500)
    assert not bridge.notify("Bob", "again")  # within the 2 s window
    assert opened == [("notify", "Bob", ("hi " * 500)[:300])]
    broken = Bridge(FakeServer(), PrefsStore(tmp_path / "c2"),  # type: ignore[arg-type]
                    notifier=lambda t, b: 1 / 0)  # type: ignore[arg-type,return-value]
    assert broken.notify("x", "y") is False


def test_own_url_means_this_port_on_loopback() -> None:
    assert is_own_url("http://127.0.0.1:8765/#lobby", 8765)
    assert is_own_url("http://localhost:8765/", 8765)
    assert not is_own_url("http://127.0.0.1:8766/", 8765)
    assert not is_own_url("http://127.0.0.1.evil.example:8765/", 8765)
    assert not is_own_url("not a url", 8765)


def test_csp_gets_unsafe_eval_only_for_the_desktop_window(tmp_path: Path) -> None:
    """Every host, headless ones too, relaxes its policy for the desktop window alone."""
    import httpx

    from server.runner import ServerThread

    with ServerThread(Settings(port=0, data_dir=tmp_path / "d", discovery=False)) as host:
        url = f"http://127.0.0.1:{host.port}/"
        browser = httpx.get(url, headers={"user-agent": "Mozilla/5.0 Firefox/140"})
        window = httpx.get(url, headers={"user-agent": desktop_user_agent()})
    assert DESKTOP_UA_TOKEN in desktop_user_agent()
    strict = browser.headers["content-security-policy"]
    assert "script-src 'self';" in strict and "unsafe-eval" not in strict
    relaxed = window.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-eval';" in relaxed and "unsafe-inline" not in relaxed


def test_lobby_server_is_loopback_then_hosting_is_every_interface(tmp_path: Path) -> None:
    settings = Settings(port=0, data_dir=tmp_path / "data", discovery=False, hosting=False)
    server = EmbeddedServer(settings).start_lobby()
    try:
        port = server.port
        assert not server.hosting
        server.host("Den")
        assert server.hosting and server.room == "Den" and server.port == port
    finally:
        server.stop()


def test_only_own_pages_see_and_stop_what_this_machine_hosts(tmp_path: Path) -> None:
    bridge, window, server, _ = make(tmp_path, "http://127.0.0.1:8765/#lobby")
    assert bridge.hosting_state() == {"hosting": False}
    bridge.host_room({"room": "Den", "name": "Ann"})
    assert bridge.hosting_state() == {"hosting": True, "room": "Den",
                                      "url": "http://127.0.0.1:8765/"}
    window.url = "http://192.168.1.9:8765/"  # another host's page in the window
    assert bridge.hosting_state() == {"hosting": False}
    assert "error" in bridge.stop_hosting()
    assert server.hosting
    window.url = "http://127.0.0.1:8765/#lobby"
    assert bridge.stop_hosting() == {"hosting": False, "url": "http://127.0.0.1:8765/#lobby"}
    assert not server.hosting
