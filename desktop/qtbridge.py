"""The Qt side of the bridge: our web-channel object in place of pywebview's, and the dialog
that asks the person before hosting.

pywebview's Qt backend registers ``BrowserView.JSBridge(view)`` on the page's QWebChannel as
``external``; its script calls ``external.call(func_name, params, value_id)`` for API calls, for
``alert()`` (``_pywebviewAlert``) and for window drags (``pywebviewMoveWindow``). We replace that
class before the window is made (:func:`install`), so every message a page can send lands in
:class:`desktop.dispatch.Dispatcher` or in the alert and move limits below. Replacing the class
is simpler and tighter than wrapping ``js_bridge_call``: the alert is handled before that
function is reached, and the GUI thread is where we see navigations and may run the reply.

pywebview internals the app does not use are refused: DOM event handlers (``window.dom``),
``evaluate_js`` callbacks (``pywebviewAsyncCallback``: a page could answer or crash them) and
``window.state`` sync. Moves are allowed to our own pages only (the window is not frameless and
has no drag region: a remote page has no business moving it), with numbers in range and a rate;
alerts are shown one at a time, at most one per few seconds per page, as plain text titled with
the page's origin.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from PyQt6 import QtCore, QtWebEngineCore, QtWidgets

from server.tls import fingerprint

from .bridge import EXPOSED, Bridge
from .dispatch import Call, Dispatcher, RateLimiter, origin_of
from .pinning import Pinning, Verdict
from .qtenums import promote_only_what_pywebview_uses

log = logging.getLogger(__name__)

ALERT = "_pywebviewAlert"
MOVE = "pywebviewMoveWindow"
MAX_ALERT_CHARS = 300
MAX_COORDINATE = 100_000
CONFIRM_TIMEOUT = 600.0  # seconds: a question left unanswered this long counts as "no"
CONFIRM_TITLE = "LAN Chat: host a room?"
HOST_BUTTON = "&Host on my network"
JOIN_TITLE = "LAN Chat: compare the safety code"
JOIN_BUTTON = "&Join"


def alert_text(param: str | None) -> str:
    """What ``alert(x)`` shows: pywebview's script sends ``JSON.stringify(x)``."""
    try:
        value = json.loads(param or "null")
    except ValueError:
        value = param
    text = value if isinstance(value, str) else "" if value is None else json.dumps(value)
    return text[:MAX_ALERT_CHARS]


class Answer:
    """The person's answer to a question, handed from the GUI thread to a waiting worker."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.yes = False
        self.box: QtWidgets.QMessageBox | None = None


class Relay(QtCore.QObject):
    """Signals from worker threads to the GUI thread. Not on :class:`Channel`: the web channel
    shows a page every signal of the object it publishes, and lets it listen to them."""

    reply = QtCore.pyqtSignal(int, str)
    ask = QtCore.pyqtSignal(str, bool, object)
    dismiss = QtCore.pyqtSignal(object)
    ask_join = QtCore.pyqtSignal(str, object)
    decide = QtCore.pyqtSignal(object, object)


class Channel(QtCore.QObject):
    """What the page's ``external`` object is: one slot, ``call``, that trusts nothing (and no
    signal of its own: see :class:`Relay`)."""

    bridge: Bridge  # set by install(): the app has one window, hence one bridge
    pinning: Pinning | None = None  # set by install(): which certificates the window accepts

    def __init__(self, view: Any) -> None:
        super().__init__()
        self._view = view
        self.window = view.pywebview_window  # pywebview reads it to inject its script
        self._relay = Relay()
        self.dispatcher = Dispatcher(EXPOSED, run=self._run, deliver=self._relay.reply.emit)
        self._alerts = RateLimiter(rate=0.2, burst=2.0)
        self._moves = RateLimiter(rate=60.0, burst=60.0)
        self._alert_open = False
        self._open_boxes: set[QtWidgets.QMessageBox] = set()
        self._relay.reply.connect(self._deliver)
        self._relay.ask.connect(self._show_question)
        self._relay.dismiss.connect(self._close_question)
        self._relay.ask_join.connect(self._show_join_question)
        self._relay.decide.connect(self._apply_verdict)
        self._pending: set[QtWebEngineCore.QWebEngineCertificateError] = set()
        self._refused = 0
        self.bridge.set_confirm(self.confirm)
        # The view's page exists once BrowserView's constructor is done: watch it from the loop.
        QtCore.QTimer.singleShot(0, self._watch_page)

    def event(self, event: QtCore.QEvent | None) -> bool:
        """Keep this object alive: the web channel lets any page call QObject's
        ``deleteLater`` on it, which would leave the app without a bridge until restarted."""
        if event is not None and event.type() == QtCore.QEvent.Type.DeferredDelete:
            self.dispatcher.refusals.refuse("deleteLater on the bridge", origin_of(
                self._page_url()))
            return True
        return super().event(event)

    def _watch_page(self) -> None:
        page = self._view.webview.page()
        page.loadStarted.connect(self.dispatcher.pages.load_started)
        page.loadFinished.connect(lambda _ok: self.dispatcher.pages.load_finished())
        page.certificateError.connect(self._certificate_error)

    def _page_url(self) -> str:
        return str(self._view.webview.page().url().toString())

    def _run(self, call: Call) -> object:
        return self.bridge.call_from(call.page_url, call.name, call.args)

    @QtCore.pyqtSlot(str, QtCore.QJsonValue, str)
    def call(self, func_name: str, param: QtCore.QJsonValue, value_id: str) -> None:
        """Every message of every page arrives here, on the GUI thread."""
        try:
            url = self._page_url()
            text = None if param.isNull() or param.isUndefined() else (
                param.toString() if param.isString() else "")
            if func_name == ALERT:
                self._alert(url, text)
            elif func_name == MOVE:
                self._move(url, text)
            else:
                self.dispatcher.receive(func_name, text, value_id, url)
        except Exception:  # a page's message must never take the GUI down
            log.exception("bridge message failed")

    def _deliver(self, generation: int, script: str) -> None:
        """On the GUI thread: answer only the very page that asked (see dispatch.py)."""
        if self.dispatcher.pages.current(generation):
            self._view.webview.page().runJavaScript(script)

    def _alert(self, url: str, text: str | None) -> None:
        origin = origin_of(url)
        if self._alert_open or not self._alerts.allow(origin):
            self.dispatcher.refusals.refuse("too many alerts", origin)
            return
        box = self._box(QtWidgets.QMessageBox.Icon.Information, f"Message from {origin}",
                        alert_text(text))
        box.addButton(QtWidgets.QMessageBox.StandardButton.Ok)
        self._alert_open = True

        def closed(_result: int) -> None:
            self._alert_open = False
            self._open_boxes.discard(box)

        box.finished.connect(closed)
        box.open()

    def _move(self, url: str, text: str | None) -> None:
        origin = origin_of(url)
        if not self.bridge.owns(url):
            self.dispatcher.refusals.refuse("window move from a remote page", origin)
            return
        if not self._moves.allow(origin):
            self.dispatcher.refusals.refuse("too many window moves", origin)
            return
        try:
            x, y = json.loads(text or "")
        except (ValueError, TypeError):
            x = y = None
        if not all(type(v) is int and abs(v) <= MAX_COORDINATE for v in (x, y)):
            self.dispatcher.refusals.refuse("bad window move", origin)
            return
        self._view.move(x, y)

    def _box(self, icon: QtWidgets.QMessageBox.Icon, title: str,
             text: str) -> QtWidgets.QMessageBox:
        """A message box over the window; its text is plain (a page's text is never markup)."""
        box = QtWidgets.QMessageBox(self._view)
        box.setIcon(icon)
        box.setWindowTitle(title)
        box.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        box.setText(text)
        box.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        self._open_boxes.add(box)
        return box

    # Hosting: the person decides ------------------------------------------------------------

    def confirm(self, room: str, with_password: bool) -> bool:
        """Ask the person (from a worker thread; waits for the answer)."""
        answer = Answer()
        self._relay.ask.emit(room, with_password, answer)
        if not answer.done.wait(CONFIRM_TIMEOUT):
            self._relay.dismiss.emit(answer)
            return False
        return answer.yes

    def _show_question(self, room: str, with_password: bool, answer: Answer) -> None:
        box = self._box(QtWidgets.QMessageBox.Icon.Question, CONFIRM_TITLE,
                        f"Host “{room}” on your network?")
        who = ("People on this network who know the password will be able to join it."
               if with_password else "Anyone on this network will be able to join it and "
               "read what is written there.")
        box.setInformativeText(f"{who} Other computers can reach LAN Chat on this computer "
                               "until you close the app.")
        host = box.addButton(HOST_BUTTON, QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QtWidgets.QMessageBox.StandardButton.Cancel)
        # Enter or Escape, pressed by habit, must not put the computer on the network.
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        answer.box = box

        def finished(_result: int) -> None:
            answer.yes = box.clickedButton() is host
            self._open_boxes.discard(box)
            answer.done.set()

        box.finished.connect(finished)
        box.open()
        box.raise_()
        box.activateWindow()

    def _close_question(self, answer: Answer) -> None:
        if answer.box is not None:
            answer.box.reject()


    # Certificates: pinned, never silently accepted (desktop/pinning.py says why here) ------

    def _certificate_error(self, error: QtWebEngineCore.QWebEngineCertificateError) -> None:
        """The engine met a certificate it does not trust: hold the load, judge it on a worker
        (it may ask the host for its room id, and the person), then accept or refuse."""
        kept = QtWebEngineCore.QWebEngineCertificateError(error)  # outlives this signal
        chain = kept.certificateChain()
        der = chain[0].toDer().data() if chain else b""
        url = str(kept.url().toString())
        kept.defer()
        self._pending.add(kept)
        threading.Thread(target=self._judge, args=(kept, url, der, kept.isMainFrame()),
                         name="lanchat-certificate", daemon=True).start()

    def _judge(self, error: object, url: str, der: bytes, main_frame: bool) -> None:
        verdict = Verdict("refuse", "LAN Chat could not check this room's certificate.")
        try:
            if self.pinning is not None:
                verdict = self.pinning.judge(url, der)
            if verdict.action == "ask":
                verdict = self._ask_first_visit(verdict, url, der) if main_frame else Verdict(
                    "refuse")  # a first visit is agreed to by opening the room itself
        except Exception:  # a failure to check is a refusal, never an acceptance
            log.exception("checking a certificate failed")
        if verdict.action != "accept":
            log.warning("refused the certificate of %s: %s", url, verdict.text or "-")
        self._relay.decide.emit(error, (verdict, main_frame))

    def _ask_first_visit(self, verdict: Verdict, url: str, der: bytes) -> Verdict:
        answer = Answer()
        self._relay.ask_join.emit(verdict.text, answer)
        if not answer.done.wait(CONFIRM_TIMEOUT):
            self._relay.dismiss.emit(answer)
        if not answer.yes:
            return Verdict("refuse", f"You did not join “{verdict.room}”.")
        assert self.pinning is not None
        self.pinning.pins.remember(verdict.room_id, fingerprint(der), verdict.room, url)
        return Verdict("accept")

    def _apply_verdict(self, error: QtWebEngineCore.QWebEngineCertificateError,
                       outcome: tuple[Verdict, bool]) -> None:
        verdict, main_frame = outcome
        self._pending.discard(error)
        if verdict.action == "accept":
            error.acceptCertificate()
            return
        error.rejectCertificate()
        if main_frame:  # instead of the engine's error page: the lobby, saying why
            self.bridge.set_refusal(verdict.text)
            # A new address each time: the window may show the lobby already, and loading the
            # same address with a #fragment would only scroll it, not load it afresh.
            self._refused += 1
            origin, _, fragment = self.bridge.lobby_url().partition("#")
            self._view.webview.load(QtCore.QUrl(f"{origin}?refused={self._refused}#{fragment}"))

    def _show_join_question(self, text: str, answer: Answer) -> None:
        box = self._box(QtWidgets.QMessageBox.Icon.Question, JOIN_TITLE, text)
        join = box.addButton(JOIN_BUTTON, QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QtWidgets.QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        answer.box = box

        def finished(_result: int) -> None:
            answer.yes = box.clickedButton() is join
            self._open_boxes.discard(box)
            answer.done.set()

        box.finished.connect(finished)
        box.open()
        box.raise_()
        box.activateWindow()


class PopupHandler(QtWebEngineCore.QWebEnginePage):
    """Where a page's ``window.open`` and ``target=_blank`` links go instead of a new window.

    pywebview's handler gave every such address to the system browser, any scheme, no limit:
    a page could start the browser twenty times a second without a click. Here the address
    goes through the bridge's ``open_external`` for the page that opened it (http(s) only, a
    few per origin), and the popup itself is always cancelled.
    """

    def __init__(self, page: QtWebEngineCore.QWebEnginePage) -> None:
        super().__init__(page.profile())
        self._opener = page

    def acceptNavigationRequest(self, url: QtCore.QUrl,  # noqa: N802 - Qt's name
                                type: QtWebEngineCore.QWebEnginePage.NavigationType,  # noqa: A002
                                isMainFrame: bool) -> bool:  # noqa: N803
        opener = str(self._opener.url().toString())
        try:
            Channel.bridge.call_from(opener, "open_external", [url.toString()])
        except Exception:  # a link that cannot open is not worth a crash
            log.exception("could not hand a link to the browser")
        return False


def install(bridge: Bridge, pinning: Pinning | None = None) -> None:
    """Make pywebview's Qt windows use :class:`Channel` and :class:`PopupHandler` for
    ``bridge``, and ``pinning`` for certificates; call before the window is created."""
    promote_only_what_pywebview_uses()
    from webview.platforms import qt as backend

    Channel.bridge = bridge
    Channel.pinning = pinning
    # setattr: the attributes are nested classes, which mypy would not let us reassign.
    setattr(backend.BrowserView, "JSBridge", Channel)  # noqa: B010
    setattr(backend.BrowserView, "NavigationHandler", PopupHandler)  # noqa: B010


class Raiser(QtCore.QObject):
    """Brings the main window to the front, on the GUI thread, when another launch asks.

    pywebview's ``restore()`` would also un-maximize a maximized window; this keeps its state
    and only clears "minimized". Make it on the GUI thread; ``request`` may be emitted from
    any thread.
    """

    request = QtCore.pyqtSignal()

    def __init__(self, window: Any) -> None:
        super().__init__()
        self._window = window
        self.request.connect(self._bring_forward,  # type: ignore[call-arg]
                             QtCore.Qt.ConnectionType.QueuedConnection)

    @QtCore.pyqtSlot()
    def _bring_forward(self) -> None:
        native = getattr(self._window, "native", None)
        if native is None:
            return
        state = native.windowState() & ~QtCore.Qt.WindowState.WindowMinimized
        native.setWindowState(state | QtCore.Qt.WindowState.WindowActive)
        native.show()
        native.raise_()
        native.activateWindow()
