"""TEST ONLY: a loopback HTTP endpoint that lets tests look inside the real window.

Off unless the environment variable ``LANCHAT_TEST_CONTROL`` holds a port number. It listens on
127.0.0.1 only and offers:

- ``GET  /state``  the window's URL and title, the server's port, whether it hosts, and the
  seconds from launch to the first page load;
- ``POST /eval``   ``{"js": "..."}`` -> ``{"result": window.evaluate_js(js)}``;
- ``POST /close``  destroys the window, as the user closing it would.

It runs arbitrary JavaScript in the window, which is why it must never be on in normal use.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

ENV_VAR = "LANCHAT_TEST_CONTROL"
MAX_BODY = 1_000_000


class TestControl:
    """The endpoint; ``state`` gives /state's body, ``window`` is the pywebview window."""

    def __init__(self, port: int, window: Any, state: Callable[[], dict[str, Any]],
                 close: Callable[[], None]) -> None:
        self._window = window
        self._state = state
        self._close = close
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        # A short poll, so that stopping it does not add half a second to the app's exit.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="lanchat-test-control", daemon=True)

    def start(self) -> TestControl:
        self._thread.start()
        log.warning("TEST CONTROL endpoint on 127.0.0.1:%d (never enable this in normal use)",
                    self._httpd.server_address[1])
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(1.0)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("control: " + format, *args)

            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path == "/state":
                    self._reply(200, control._state())
                else:
                    self._reply(404, {"error": "no such endpoint"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(min(length, MAX_BODY)) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._reply(400, {"error": "body must be JSON"})
                    return
                if self.path == "/eval":
                    try:
                        result = control._window.evaluate_js(str(body.get("js", "")))
                    except Exception as exc:  # noqa: BLE001 - reported to the test
                        self._reply(500, {"error": f"{type(exc).__name__}: {exc}"})
                        return
                    self._reply(200, {"result": result})
                elif self.path == "/close":
                    self._reply(200, {"closing": True})
                    control._close()
                else:
                    self._reply(404, {"error": "no such endpoint"})

        return Handler
