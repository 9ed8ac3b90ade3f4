"""Three real browser engines behind one small interface, so one smoke test runs in each.

- Chromium (Debian's ``chromium``) through Playwright, as the other e2e tests drive it.
- Firefox (Debian's ``firefox-esr``) over WebDriver BiDi, spoken directly on its WebSocket: the
  browser itself is the server (``--remote-debugging-port``), no driver binary in between.
- WebKit (Debian's WebKitGTK ``MiniBrowser``) through ``WebKitWebDriver`` (package
  ``webkit2gtk-driver``) over plain W3C WebDriver HTTP, on a private Xvfb screen.

Nothing here downloads a browser: each engine is the one Debian installed. Every driver offers
the same few verbs: ``goto``, ``run`` (an async JavaScript function body, its JSON-able result
returned), ``type_into`` (real key presses into a focused field), ``set_files`` (a real file
chooser input), ``screenshot`` and ``close``.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.conftest import stop_process

ENTER = "\ue007"  # WebDriver's key code for Enter, understood by BiDi and W3C WebDriver alike
MINIBROWSER_DIRS = ("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1",
                    "/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1", "/usr/libexec/webkit2gtk-4.1")
# A Firefox profile that stays off the network and out of the way: no updates, no telemetry,
# no first-run pages (there is no internet here, and a test must not wait on one).
FIREFOX_PREFS = {
    "app.update.disabledForTesting": True, "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore", "browser.startup.page": 0,
    "datareporting.policy.dataSubmissionEnabled": False, "toolkit.telemetry.enabled": False,
    "browser.aboutwelcome.enabled": False, "extensions.update.enabled": False,
    "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False, "browser.safebrowsing.phishing.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/", "browser.download.panel.shown": True,
    "dom.disable_open_during_load": False, "remote.prefs.recommended": True,
}


class Driver(Protocol):
    name: str

    def goto(self, url: str) -> None: ...
    def run(self, body: str, *args: Any) -> Any: ...
    def type_into(self, selector: str, text: str) -> None: ...
    def set_files(self, selector: str, path: Path) -> None: ...
    def resize(self, width: int, height: int) -> None: ...
    def screenshot(self, path: Path) -> None: ...
    def close(self) -> None: ...


def _wrap(body: str) -> str:
    """An async function whose result travels back as JSON text (one format for every driver)."""
    inner = f"(async (...args) => {{ {body} }})"
    return f"async (...args) => JSON.stringify((await {inner}(...args)) ?? null)"


def firefox_path() -> str | None:
    return shutil.which("firefox-esr") or shutil.which("firefox")


def webkit_paths() -> tuple[str | None, str | None]:
    """(WebKitWebDriver, MiniBrowser) when both are installed."""
    mini = next((str(Path(d) / "MiniBrowser") for d in MINIBROWSER_DIRS
                 if (Path(d) / "MiniBrowser").exists()), None)
    return shutil.which("WebKitWebDriver"), mini


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PlaywrightDriver:
    """A Playwright page (Chromium) seen through the same verbs."""

    def __init__(self, page: Any, name: str = "chromium") -> None:
        self.page = page
        self.name = name

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def run(self, body: str, *args: Any) -> Any:
        return json.loads(self.page.evaluate(f"(args) => ({_wrap(body)})(...args)", list(args)))

    def type_into(self, selector: str, text: str) -> None:
        field = self.page.locator(selector)
        field.focus()
        field.press_sequentially(text.replace(ENTER, ""))
        if text.endswith(ENTER):
            field.press("Enter")

    def set_files(self, selector: str, path: Path) -> None:
        self.page.locator(selector).set_input_files(str(path))

    def resize(self, width: int, height: int) -> None:
        self.page.set_viewport_size({"width": width, "height": height})

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=str(path))

    def close(self) -> None:
        self.page.context.close()


class BidiError(RuntimeError):
    pass


class FirefoxBidi:
    """Debian's Firefox ESR, headless, driven over WebDriver BiDi on its own WebSocket."""

    name = "firefox"

    def __init__(self, binary: str, width: int = 1280, height: int = 800) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="lanchat-firefox-"))
        (self.profile / "user.js").write_text("".join(
            f'user_pref("{k}", {json.dumps(v)});\n' for k, v in FIREFOX_PREFS.items()))
        env = {**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_HEADLESS": "1"}
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-remote", "--remote-debugging-port=0",
             "--profile", str(self.profile), f"--width={width}", f"--height={height}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.ids = itertools.count(1)
        try:
            self.ws: ClientConnection = connect(self._bidi_url() + "/session", open_timeout=60,
                                                max_size=64 * 1024 * 1024).__enter__()
            self.send("session.new", capabilities={"alwaysMatch": {"acceptInsecureCerts": True}})
            self.context = self.send("browsingContext.getTree")["contexts"][0]["context"]
            self.send("browsingContext.setViewport", context=self.context,
                      viewport={"width": width, "height": height})
        except Exception:
            self.close()
            raise

    def _bidi_url(self) -> str:
        """Firefox prints where BiDi listens on stderr; read until it does (60 s at most: a
        loaded CI machine was seen to take 20 s)."""
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline().decode(errors="replace")
            if not line and self.proc.poll() is not None:
                break
            if "WebDriver BiDi listening on " in line:
                url = line.split("listening on ", 1)[1].strip()
                # Keep draining stderr so Firefox never blocks on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return url
        raise BidiError("Firefox did not start WebDriver BiDi")

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for _ in self.proc.stderr:
            pass

    def send(self, method: str, **params: Any) -> Any:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") != msg_id:
                continue  # an event, or a late answer
            if reply.get("type") == "error":
                raise BidiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
            return reply["result"]

    def goto(self, url: str) -> None:
        self.send("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def _call(self, declaration: str, args: list[Any]) -> Any:
        result = self.send("script.callFunction", functionDeclaration=declaration,
                           target={"context": self.context}, awaitPromise=True,
                           arguments=args, resultOwnership="root")
        if result["type"] == "exception":
            raise BidiError(result["exceptionDetails"].get("text", "script failed"))
        return result["result"]

    def run(self, body: str, *args: Any) -> Any:
        values = [{"type": "string", "value": json.dumps(a)} for a in args]
        wrapper = f"(...raw) => ({_wrap(body)})(...raw.map((a) => JSON.parse(a)))"
        return json.loads(self._call(wrapper, values)["value"])

    def _element(self, selector: str) -> dict[str, str]:
        node = self._call(f"() => document.querySelector({json.dumps(selector)})", [])
        if node.get("type") != "node":
            raise BidiError(f"no element {selector}")
        return {"sharedId": node["sharedId"]}

    def type_into(self, selector: str, text: str) -> None:
        self.run("document.querySelector(args[0]).focus();", selector)
        keys: list[dict[str, str]] = []
        for ch in text:
            keys += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        self.send("input.performActions", context=self.context,
                  actions=[{"type": "key", "id": "keyboard", "actions": keys}])

    def set_files(self, selector: str, path: Path) -> None:
        self.send("input.setFiles", context=self.context, element=self._element(selector),
                  files=[str(path)])

    def resize(self, width: int, height: int) -> None:
        self.send("browsingContext.setViewport", context=self.context,
                  viewport={"width": width, "height": height})

    def screenshot(self, path: Path) -> None:
        data = self.send("browsingContext.captureScreenshot", context=self.context)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            if hasattr(self, "ws"):
                self.ws.close()
        finally:
            stop_process(self.proc)
            shutil.rmtree(self.profile, ignore_errors=True)


ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element reference key


class WebKitWebDriver:
    """WebKitGTK's MiniBrowser under ``WebKitWebDriver``, spoken to over W3C WebDriver HTTP."""

    name = "webkit"

    def __init__(self, driver: str, minibrowser: str, display: str,
                 width: int = 1280, height: int = 800) -> None:
        port = free_port()
        env = {**os.environ, "DISPLAY": display}
        env.pop("WAYLAND_DISPLAY", None)
        self.proc = subprocess.Popen([driver, f"--port={port}"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        self.session = ""
        try:
            self._wait_ready()
            caps = {"browserName": "MiniBrowser", "webkitgtk:browserOptions": {
                "binary": minibrowser, "args": ["--automation"]}}
            reply = self._post("/session", {"capabilities": {"alwaysMatch": caps}})
            self.session = reply["sessionId"]
            self._post(f"/session/{self.session}/window/rect", {"width": width, "height": height})
        except Exception:
            self.close()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.http.get("/status").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)  # the driver's port is not open yet: nothing else to wait on
        raise RuntimeError("WebKitWebDriver did not start")

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        reply = self.http.post(path, json=body)
        value = reply.json().get("value")
        if reply.status_code != 200:
            raise RuntimeError(f"WebDriver {path}: {value}")
        return value

    def _s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    def goto(self, url: str) -> None:
        self._post(self._s("/url"), {"url": url})

    def run(self, body: str, *args: Any) -> Any:
        script = (f"const done = arguments[arguments.length - 1];"
                  f"({_wrap(body)})(...Array.from(arguments).slice(0, -1))"
                  f".then(done, (e) => done(JSON.stringify({{__error: String(e)}})));")
        text = self._post(self._s("/execute/async"), {"script": script, "args": list(args)})
        value = json.loads(text)
        if isinstance(value, dict) and "__error" in value:
            raise RuntimeError(value["__error"])
        return value

    def _element(self, selector: str) -> str:
        found = self._post(self._s("/element"), {"using": "css selector", "value": selector})
        return str(found[ELEMENT])

    def type_into(self, selector: str, text: str) -> None:
        self._post(self._s(f"/element/{self._element(selector)}/value"), {"text": text})

    def set_files(self, selector: str, path: Path) -> None:
        self._post(self._s(f"/element/{self._element(selector)}/value"), {"text": str(path)})

    def resize(self, width: int, height: int) -> None:
        self._post(self._s("/window/rect"), {"width": width, "height": height})

    def screenshot(self, path: Path) -> None:
        reply = self.http.get(self._s("/screenshot"))
        path.write_bytes(base64.b64decode(reply.json()["value"]))

    def close(self) -> None:
        try:
            if self.session:
                self.http.delete(self._s(""))
        except httpx.HTTPError:
            pass  # the browser is going away either way
        finally:
            self.http.close()
            stop_process(self.proc)
