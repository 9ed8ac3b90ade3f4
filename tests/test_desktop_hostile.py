"""A rogue host's page in the real desktop window (Xvfb): it may not get code run, host a room,
rewrite the prefs, or exhaust the app with bridge calls.

The rogue page is served by a tiny HTTP server on loopback (tests/desktop_helpers.HostilePage);
it talks to pywebview's Qt channel directly, the way any page can, instead of through
``window.pywebview.api``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import wait_until
from tests.desktop_helpers import (
    DesktopApp,
    HostilePage,
    Xvfb,
    answer_hosting_question,
    js_string,
    listening_addresses,
    question_windows,
    visible_windows,
    window_position,
)
from tests.test_desktop import bridge_call, shot, wait_bridge

pytestmark = [pytest.mark.desktop, pytest.mark.skipif(not sys.platform.startswith("linux"),
                                                      reason="the window tests use Xvfb")]


@pytest.fixture
def rogue() -> Iterator[HostilePage]:
    page = HostilePage()
    yield page
    page.stop()


@pytest.fixture
def app(tmp_path: Path, xvfb: Xvfb) -> Iterator[DesktopApp]:
    started = DesktopApp(tmp_path / "app", xvfb.display)
    yield started
    started.stop()


def settle(app: DesktopApp, proc: psutil.Process, threads_at_rest: int) -> None:
    """Wait until what the rogue page set in motion has played out: the app is back to its
    usual thread count and a bridge call made now (queued behind the rest) is answered."""
    wait_until(lambda: proc.num_threads() <= threads_at_rest + 4, timeout=60, interval=0.2,
               what="the app's threads to come back down")
    bridge_call(app, "get_prefs()")


def test_a_rogue_page_gets_no_code_run_and_cannot_make_the_app_host(app, rogue, xvfb) -> None:
    app.wait_loaded()
    wait_bridge(app)
    proc = psutil.Process(app.proc.pid)
    threads_at_rest = proc.num_threads()
    assert "prefs" in bridge_call(app, 'set_prefs({name: "Ann", last_room: ""})')
    prefs_file = app.home / "config" / "LANChat" / "prefs.json"
    prefs_before = prefs_file.read_text()
    lobby = f"http://127.0.0.1:{app.app_port}/#lobby"

    app.eval(f"location.href = {js_string(rogue.url('inject', 3000))}; 1")
    wait_until(lambda: any(line.startswith("sent") for line in rogue.logs()), timeout=30,
               what="the rogue page to send its calls")
    wait_until(lambda: (s := app.try_state()) and s["url"] == lobby, timeout=30,
               what="the rogue page to send the window back to the lobby")
    wait_bridge(app)
    settle(app, proc, threads_at_rest)
    time.sleep(0.5)  # the lobby's own first paint, for the screenshot
    shot(xvfb, "desktop-after-rogue-page.png")

    found = {
        "code ran in the rogue page": rogue.ran(),
        "code ran in the lobby": app.eval(
            "String(window.__pwned || localStorage.getItem('pwned') || '')"),
        "the app hosts": app.state()["hosting"],
        "listening beyond loopback": listening_addresses(app.app_port) - {"127.0.0.1"},
        "prefs rewritten": prefs_file.read_text() != prefs_before,
        "a hosting question was put up": question_windows(xvfb.display),
    }
    assert not any(found.values()), found
    log = app.log()
    assert "refused" in log and "value_id" in log, log[-2000:]


def test_a_flood_of_bridge_calls_keeps_threads_and_memory_bounded(app, rogue) -> None:
    app.wait_loaded()
    wait_bridge(app)
    proc = psutil.Process(app.proc.pid)
    threads_before, rss_before = proc.num_threads(), proc.memory_info().rss
    peak = {"threads": threads_before, "rss": rss_before}

    def flooded() -> bool:
        if app.proc.poll() is not None:
            raise AssertionError(f"the app died under the flood: {app.output()[-2000:]}")
        peak["threads"] = max(peak["threads"], proc.num_threads())
        if peak["threads"] > threads_before + 500:  # no need to wait for the crash
            raise AssertionError(f"{peak['threads']} threads in the app (from {threads_before})")
        peak["rss"] = max(peak["rss"], proc.memory_info().rss)
        return any(line.startswith("flooded") for line in rogue.logs())

    app.eval(f"location.href = {js_string(rogue.url('flood', 20000))}; 1")
    wait_until(flooded, timeout=90, interval=0.05, what="the rogue page's 20,000 calls")
    wait_until(lambda: proc.num_threads() <= threads_before + 8,
               timeout=60, interval=0.2, what="the app's threads to come back down")
    rss_after = proc.memory_info().rss
    mib = 1024 * 1024
    print(f"\nflood: {[x for x in rogue.logs() if x.startswith('flooded')]}; threads "
          f"{threads_before} before, {peak['threads']} at peak, {proc.num_threads()} after; RSS "
          f"{rss_before / mib:.0f} MiB before, {peak['rss'] / mib:.0f} MiB at peak, "
          f"{rss_after / mib:.0f} MiB after")
    # The window still answers: a script, and a bridge call from the lobby.
    assert app.eval("1 + 1") == 2
    app.eval(f"location.href = {js_string(f'http://127.0.0.1:{app.app_port}/#lobby')}; 1")
    wait_until(lambda: (s := app.try_state()) and s["url"].endswith("#lobby"), timeout=30,
               what="the lobby")
    wait_bridge(app)
    assert bridge_call(app, "lobby_url()") == f"http://127.0.0.1:{app.app_port}/#lobby"
    assert peak["threads"] <= threads_before + 8
    assert peak["rss"] - rss_before < 200 * mib


def test_a_rogue_page_cannot_flood_the_system_browser(tmp_path: Path, xvfb: Xvfb,
                                                      rogue: HostilePage) -> None:
    """Links to the system browser, asked for by the bridge or by ``window.open`` without a
    click, are http(s) only and a few per page; the browser is a script that notes each one."""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> "{opened}"\n')
    browser.chmod(0o755)
    app = DesktopApp(tmp_path / "app", xvfb.display, env={"BROWSER": str(browser)})
    try:
        app.wait_loaded()
        wait_bridge(app)
        app.eval(f"location.href = {js_string(rogue.url('open', 0))}; 1")
        wait_until(lambda: "opened" in rogue.logs(), timeout=30, what="the rogue page's links")

        def links() -> list[str]:
            return opened.read_text().split() if opened.exists() else []

        # A burst of three is let through (the browser script writes them down a moment later).
        wait_until(lambda: len(links()) >= 3, timeout=20, what="the first links to open")
        bridge_call(app, "lobby_url()")  # queued behind the page's open_external calls
        links = links()
        print(f"\nlinks handed to the browser: {len(links)} of 46 asked for")
        assert 1 <= len(links) <= 4, links
        assert all(link.startswith("http://127.0.0.1:9/") for link in links), links
    finally:
        app.stop()


def test_an_answer_never_reaches_a_page_loaded_since(app, rogue, xvfb) -> None:
    """The lobby asks to host; while the question is up the window goes to a rogue page that
    catches every reply evaluated in it. The person agrees: the room is hosted, and the lobby's
    answer (the room's address) is not given to the rogue page."""
    app.wait_loaded()
    wait_bridge(app)
    app.eval("window.pywebview.api.host_room({room: 'Den', name: 'Ann'}); 1")
    wait_until(lambda: question_windows(xvfb.display), what="the hosting question")
    app.eval(f"location.href = {js_string(rogue.url('catch', 0))}; 1")
    wait_until(lambda: "catching" in rogue.logs(), timeout=30, what="the rogue page to listen")
    answer_hosting_question(app, host=True)
    wait_until(lambda: (s := app.try_state()) and s["hosting"], timeout=20, what="hosting")
    # Proof that replies do reach the page that asked (and that the catcher works): the rogue
    # page's own call is answered in the rogue page.
    app.eval("window.pywebview.api.lobby_url(); 1")
    wait_until(rogue.caught, timeout=10, what="the rogue page's own answer")
    caught = rogue.caught()
    assert len(caught) == 1 and "lobby" in caught[0], caught


def test_a_rogue_page_gets_one_alert_at_a_time_and_cannot_move_the_window(app, rogue,
                                                                           xvfb) -> None:
    """Fifty alert() calls show one plain box titled with the page's origin; fifty window moves
    from a remote page are refused."""
    app.wait_loaded()
    wait_bridge(app)
    main = visible_windows(xvfb.display, "LAN Chat")
    assert len(main) == 1, main
    where = window_position(xvfb.display, main[0])
    app.eval(f"location.href = {js_string(rogue.url('nuisance', 0))}; 1")
    wait_until(lambda: "nuisance" in rogue.logs(), timeout=30, what="the rogue page's alerts")
    wait_bridge(app)
    bridge_call(app, "lobby_url()")
    boxes = wait_until(lambda: visible_windows(xvfb.display, "Message from"), timeout=10,
                       what="the alert")
    time.sleep(0.5)  # the box's first paint, for the screenshot
    shot(xvfb, "desktop-rogue-alert.png")
    assert len(boxes) == 1, f"{len(boxes)} alert boxes"
    assert window_position(xvfb.display, main[0]) == where
    assert "window move from a remote page" in app.log()


def test_the_channel_object_offers_a_page_nothing_but_call(app) -> None:
    """What the web channel publishes is all a page can touch: our one slot, and QObject's
    own members, which the channel will not let a page use against us."""
    app.wait_loaded()
    wait_bridge(app)
    keys = set(json.loads(app.eval(
        "JSON.stringify(Object.keys(window.pywebview._QWebChannel.objects.external))")))
    members = {k.split("(")[0] for k in keys if not k.startswith("__")} - {
        "unwrapQObject", "unwrapProperties", "propertyUpdate", "signalEmitted"}  # qwebchannel.js
    assert members == {"call", "deleteLater", "destroyed", "objectNameChanged"}, members
    app.eval("const x = window.pywebview._QWebChannel.objects.external; x.objectName = 'gone';"
             " x.deleteLater(); 1")
    time.sleep(0.5)  # give a deletion, if the channel allowed one, the time to happen
    assert bridge_call(app, "lobby_url()") == f"http://127.0.0.1:{app.app_port}/#lobby"
    app.eval("window.__before_reload = 1; location.reload(); 1")  # and on the next page too
    wait_until(lambda: app.eval("!window.__before_reload && !!(window.pywebview && "
                                "window.pywebview.api && window.pywebview.api.lobby_url)"),
               timeout=20, what="the bridge after a reload")
    assert bridge_call(app, "lobby_url()") == f"http://127.0.0.1:{app.app_port}/#lobby"
    assert "deleteLater on the bridge" in app.log()
