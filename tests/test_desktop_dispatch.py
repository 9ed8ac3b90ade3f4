"""The bridge's dispatcher without a window: which calls it takes, how fast, and where answers go.

The reply script is run in real Chromium against pywebview's own page script (js/api.js), so
"the page's promise gets exactly our value, and nothing else runs" is checked in a JS engine.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.bridge import EXPOSED, Bridge
from desktop.dispatch import (
    CALL_BURST,
    MAX_PARAM_CHARS,
    QUEUE_SIZE,
    Call,
    Dispatcher,
    Pages,
    RateLimiter,
    Worker,
    guard_pywebview_dispatch,
    origin_of,
    parse_call,
    reply_script,
)
from desktop.prefs import PrefsStore
from tests.conftest import wait_until
from tests.e2e_helpers import launch_browser
from tests.test_desktop_bridge import FakeServer, FakeWindow

OWN = "http://127.0.0.1:8765/#lobby"
ROGUE = "http://127.0.0.1:9999/"
INJECTIONS = ['x"];alert(1);//', "1'", "1\u2028", "12 ", "", "1" * 25, "abc", "1e7", "1.5",
              "1e-1234", None, 12]


def js_like_id() -> str:
    """What pywebview's page script sends: (Math.random() + "").substring(2)."""
    return repr(random.random())[2:]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Validation --------------------------------------------------------------------------------

def test_exposed_calls_with_pywebviews_ids_are_taken() -> None:
    for _ in range(200):
        vid = js_like_id()
        assert parse_call("get_prefs", "[]", vid, EXPOSED) == ("get_prefs", [], vid)
    for vid in ["8046271153429081", "2e-7", "123456e-7"]:
        assert parse_call("host_room", '[{"room": "Den"}]', vid, EXPOSED) == (
            "host_room", [{"room": "Den"}], vid)
    assert parse_call("lobby_url", None, "1", EXPOSED) == ("lobby_url", [], "1")


@pytest.mark.parametrize("value_id", INJECTIONS)
def test_a_value_id_of_any_other_shape_is_refused(value_id: object) -> None:
    assert parse_call("get_prefs", "[]", value_id, EXPOSED) == "malformed value_id"


@pytest.mark.parametrize("name", [
    'get_prefs"]["x"];alert(1);//', "get_prefs.__globals__", "_JsApi__calls", "attach",
    "pywebviewMoveWindow", "pywebviewEventHandler", "pywebviewAsyncCallback",
    "pywebviewStateUpdate", "pywebviewStateDelete", "_pywebviewAlert", "", None, 3])
def test_any_name_but_the_exposed_ones_is_refused(name: object) -> None:
    assert parse_call(name, "[]", "123", EXPOSED) == "unknown function name"


def test_parameters_must_be_a_short_json_list() -> None:
    assert parse_call("notify", "x" * (MAX_PARAM_CHARS + 1), "1", EXPOSED) == \
        "parameters too large"
    assert parse_call("notify", "{nope", "1", EXPOSED) == "parameters are not JSON"
    assert parse_call("notify", '{"a": 1}', "1", EXPOSED) == "parameters are not a short list"
    assert parse_call("notify", "[1,2,3,4,5]", "1", EXPOSED) == "parameters are not a short list"


def test_origin_of() -> None:
    assert origin_of("http://127.0.0.1:8765/#lobby") == "http://127.0.0.1:8765"
    assert origin_of("") == ""
    assert origin_of("http://[::1") == ""


# The reply, in a real JS engine ---------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_browser()


def pywebview_api_js() -> str:
    import webview.util
    path = Path(webview.util.get_js_dir()) / "api.js"
    return path.read_text() % {"token": "t", "platform": "qtwebengine", "uid": "u",
                               "js_api_endpoint": ""}


def test_the_reply_hands_the_page_our_value_and_runs_nothing_else(browser: Any) -> None:
    page = browser.new_page()
    try:
        page.add_script_tag(content=pywebview_api_js())
        page.evaluate("""() => {
            window.ran = 0;
            window.pywebview._createApi([{func: 'get_prefs', params: []}]);
            window.got = new Promise((resolve, reject) => window.pywebview._checkValue(
                'get_prefs', resolve, reject, '8046271153429081'));
        }""")
        hostile = {"name": '"]);window.ran=1;//\u2028</script>', "last_room": "'\\'"}
        page.evaluate(reply_script("get_prefs", "8046271153429081", hostile))
        assert page.evaluate("window.got") == hostile
        # An error reply rejects the promise with our message; a reply nobody waits for is a
        # no-op, not an exception; nothing in any of them ran.
        page.evaluate("""() => { window.failed = new Promise((resolve, reject) =>
            window.pywebview._checkValue('get_prefs', resolve, reject, '7')).catch(
            (e) => e.message); }""")
        page.evaluate(reply_script("get_prefs", "7", None, error="get_prefs: wrong arguments"))
        assert page.evaluate("window.failed") == "get_prefs: wrong arguments"
        page.evaluate(reply_script("get_prefs", "99", 1))
        page.evaluate("delete window.pywebview")
        page.evaluate(reply_script("get_prefs", "99", 1))
        assert page.evaluate("window.ran") == 0
    finally:
        page.close()
    with pytest.raises(ValueError):
        reply_script("get_prefs", 'x"];alert(1)//', None)


# Rates, queues, pages ----------------------------------------------------------------------

def test_rate_limiter_is_a_bucket_per_origin() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3.0, max_keys=2, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")  # another origin has its own bucket
    clock.now += 0.5
    assert limiter.allow("a") and not limiter.allow("a")  # one token back per half second
    clock.now += 100
    assert sum(limiter.allow("a") for _ in range(10)) == 3  # never more than the burst
    limiter.allow("c")  # a third origin: the least recent one is forgotten
    assert len(limiter._buckets) == 2


def test_pages_know_the_page_that_asked() -> None:
    pages = Pages()
    assert not pages.current(0)  # nothing loaded yet
    pages.load_finished()
    assert pages.current(0)
    pages.load_started()
    assert not pages.current(0) and not pages.current(1)  # loading: nobody is answered
    pages.load_finished()
    assert pages.current(1) and not pages.current(0)


def test_worker_threads_and_queue_are_bounded() -> None:
    gate = threading.Event()
    before = threading.active_count()
    worker = Worker(threads=2, size=5)
    try:
        accepted = sum(worker.submit(gate.wait) for _ in range(100))
        assert 5 <= accepted <= 7  # five waiting, and up to two already running
        assert threading.active_count() == before + 2
    finally:
        gate.set()
        worker.stop()
    assert threading.active_count() == before


class Recorder:
    """A dispatcher with a recording ``run`` and ``deliver``, on an open page."""

    def __init__(self, gate: threading.Event | None = None, threads: int = 2) -> None:
        self.ran: list[Call] = []
        self.delivered: list[tuple[int, str]] = []
        self.gate = gate
        self.entered = threading.Event()
        self.dispatcher = Dispatcher(EXPOSED, run=self.run, deliver=self.deliver,
                                     worker=Worker(threads=threads))
        self.dispatcher.pages.load_finished()

    def run(self, call: Call) -> object:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.ran.append(call)
        return {"ok": call.name}

    def deliver(self, generation: int, script: str) -> None:
        self.delivered.append((generation, script))


def test_a_call_runs_for_its_page_and_the_answer_names_its_generation() -> None:
    rec = Recorder()
    try:
        assert rec.dispatcher.receive("get_prefs", "[]", "42", OWN)
        wait_until(lambda: rec.delivered, what="the answer")
        assert rec.ran[0].page_url == OWN and rec.ran[0].generation == 0
        assert rec.delivered[0] == (0, reply_script("get_prefs", "42", {"ok": "get_prefs"}))
        assert not rec.dispatcher.receive("get_prefs", "[]", 'x"];alert(1)//', ROGUE)
        assert rec.dispatcher.refusals.total == 1
    finally:
        rec.dispatcher.stop()


def test_after_a_navigation_nothing_runs_or_answers_for_the_old_page() -> None:
    gate = threading.Event()
    rec = Recorder(gate, threads=1)
    try:
        assert rec.dispatcher.receive("set_unread", "[1]", "1", ROGUE)
        assert rec.entered.wait(5)  # a worker is inside that call
        for i in range(3):
            assert rec.dispatcher.receive("host_room", '[{"room": "x"}]', str(i), ROGUE)
        rec.dispatcher.pages.load_started()  # the rogue page sends the window to the lobby
        assert not rec.dispatcher.receive("get_prefs", "[]", "9", ROGUE)  # while loading
        rec.dispatcher.pages.load_finished()
        gate.set()
        wait_until(lambda: rec.ran, what="the call already running")
        time.sleep(0.2)  # the queued ones are looked at, and dropped
        assert [c.name for c in rec.ran] == ["set_unread"]
        assert len(rec.delivered) == 1 and rec.delivered[0][0] == 0
        assert not rec.dispatcher.pages.current(0)  # so the GUI thread drops that answer too
    finally:
        rec.dispatcher.stop()


def test_a_flood_is_limited_per_origin_and_by_the_queue() -> None:
    gate = threading.Event()
    rec = Recorder(gate)
    before = threading.active_count()
    try:
        taken = sum(rec.dispatcher.receive("get_prefs", "[]", str(i), ROGUE)
                    for i in range(20_000))
        assert taken <= min(CALL_BURST + 5, QUEUE_SIZE + 2)
        assert threading.active_count() == before
        assert rec.dispatcher.refusals.total == 20_000 - taken
        assert rec.dispatcher.receive("get_prefs", "[]", "1", OWN) is False  # queue full
    finally:
        gate.set()
        rec.dispatcher.stop()


# The bridge, called through the dispatcher ---------------------------------------------------

def bridge_for(tmp_path: Path, confirm: Any = None) -> tuple[Bridge, FakeServer, FakeWindow]:
    server = FakeServer()
    bridge = Bridge(server, PrefsStore(tmp_path / "cfg"),  # type: ignore[arg-type]
                    notifier=lambda t, b: True, opener=lambda u: True, confirm=confirm)
    window = FakeWindow(OWN)  # the window shows the lobby by the time the call runs
    bridge.attach(window)
    return bridge, server, window


def test_a_call_made_by_a_rogue_page_stays_refused_after_the_window_moved_on(
        tmp_path: Path) -> None:
    bridge, server, _ = bridge_for(tmp_path, confirm=lambda room, pw: True)
    assert "error" in bridge.call_from(ROGUE, "host_room", [{"room": "Evil", "name": "M"}])
    assert "error" in bridge.call_from(ROGUE, "set_prefs", [{"name": "Mallory"}])
    assert server.hosted == [] and bridge.get_prefs()["name"] == ""
    assert bridge.call_from(OWN, "set_prefs", [{"name": "Ann"}])["prefs"]["name"] == "Ann"
    with pytest.raises(ValueError):
        bridge.call_from(OWN, "attach", [])


def test_hosting_needs_the_persons_yes(tmp_path: Path) -> None:
    asked: list[tuple[str, bool]] = []
    answer = {"yes": False}

    def person(room: str, with_password: bool) -> bool:
        asked.append((room, with_password))
        return answer["yes"]

    bridge, server, _ = bridge_for(tmp_path)
    assert "ask you" in bridge.host_room({"room": "Den", "name": "Ann"})["error"]
    bridge.set_confirm(person)
    assert "did not confirm" in bridge.host_room({"room": "Den", "name": "Ann",
                                                  "password": "pw"})["error"]
    assert asked == [("Den", True)] and server.hosted == []
    assert bridge.get_prefs() == {"name": "", "last_room": "", "standby": True}
    answer["yes"] = True
    assert bridge.host_room({"room": "Den", "name": "Ann"})["url"]
    assert server.hosted == ["Den"] and asked[-1] == ("Den", False)


def test_one_hosting_question_at_a_time(tmp_path: Path) -> None:
    release = threading.Event()
    bridge, server, _ = bridge_for(tmp_path, confirm=lambda room, pw: release.wait(10))
    first: list[Any] = []
    thread = threading.Thread(target=lambda: first.append(bridge.host_room({"room": "A"})))
    thread.start()
    try:
        wait_until(lambda: bridge._confirming, what="the first question")
        assert "already asking" in bridge.host_room({"room": "B"})["error"]
    finally:
        release.set()
        thread.join(5)
    assert first[0]["room"] == "A" and server.hosted == ["A"]


def test_links_to_the_browser_are_limited_per_page(tmp_path: Path) -> None:
    bridge, *_ = bridge_for(tmp_path)
    opened = [bridge.call_from(ROGUE, "open_external", ["https://example.org/"])
              for _ in range(10)]
    assert opened.count(True) == 3
    assert bridge.call_from(OWN, "open_external", ["https://example.org/"])  # its own bucket


# Other backends: pywebview's dispatcher behind a guard --------------------------------------

def test_the_guard_for_other_backends_passes_only_well_formed_calls(monkeypatch) -> None:
    import webview.util

    passed: list[tuple[str, str]] = []
    monkeypatch.setattr(webview.util, "js_bridge_call",
                        lambda window, name, param, vid: passed.append((name, vid)))
    monkeypatch.setattr(webview.util, "_lanchat_original_js_bridge_call", None, raising=False)
    monkeypatch.delattr(webview.util, "_lanchat_original_js_bridge_call")
    guard_pywebview_dispatch(EXPOSED, rate=1.0, burst=3.0)
    call = webview.util.js_bridge_call
    call(None, "get_prefs", [], 'x"];alert(1)//')
    call(None, "pywebviewMoveWindow", [1, 2], "move")
    call(None, "notify", ["x" * MAX_PARAM_CHARS], "1")
    for i in range(5):
        call(None, "get_prefs", [], str(i))
    assert passed == [("get_prefs", "0"), ("get_prefs", "1"), ("get_prefs", "2")]


def test_alert_text_is_the_alerted_value_cut_short() -> None:
    from desktop.qtbridge import MAX_ALERT_CHARS, alert_text

    assert alert_text(json.dumps("hello <b>you</b>")) == "hello <b>you</b>"
    assert alert_text(json.dumps({"a": 1})) == '{"a": 1}'
    assert alert_text(None) == "" and alert_text("not json") == "not json"
    assert len(alert_text(json.dumps("x" * 10_000))) == MAX_ALERT_CHARS
