"""When it breaks: an unexpected error shows a small dialog instead of the window vanishing.

A windowed app has no console, so a traceback printed on the way out is lost and the window
just disappears. :class:`CrashReporter` takes ``sys.excepthook`` and ``threading.excepthook``:
the error goes to the log with its traceback, and the person sees what happened and where the
log file is, in a message box shown on the GUI thread:

- Qt (Linux): a QMessageBox. From a worker thread the report travels by a queued signal to
  the GUI thread; with no QApplication yet (or any more), one is made for the box.
- Windows: ``MessageBoxW`` (any thread may call it). macOS: ``osascript``'s alert.
- anywhere else, or if the dialog itself fails: one line on stderr.

PyQt calls ``sys.excepthook`` for an exception raised in a slot; with the default hook it then
aborts the process, with ours the window stays.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from .logs import say

log = logging.getLogger(__name__)

TITLE = "LAN Chat: something went wrong"
MAX_DETAIL_CHARS = 600


def dialog_kind(platform: str) -> str:
    """Which dialog this system gets: ``qt`` (Linux), ``win32`` or ``osascript`` (macOS);
    ``none`` (stderr only) is what is left when Qt turns out to be missing."""
    if platform == "win32":
        return "win32"
    if platform == "darwin":
        return "osascript"
    return "qt"


def message_text(what: str, exc: BaseException | None, log_path: Path | None) -> str:
    """What the dialog says: what happened, the error in one line, where the details are."""
    lines = [what]
    if exc is not None:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        lines.append(detail[:MAX_DETAIL_CHARS])
    lines.append(f"The log file has the details:\n{log_path}" if log_path is not None
                 else "No log file could be written.")
    return "\n\n".join(lines)


def show_qt_box(text: str) -> None:
    """A modal critical box on this (the GUI) thread, with an application if none runs."""
    from PyQt6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Critical, TITLE, text)
    box.setTextInteractionFlags(box.textInteractionFlags()
                                | _qt_selectable())  # the path can be copied
    box.exec()
    del app


def _qt_selectable() -> Any:
    from PyQt6 import QtCore
    return QtCore.Qt.TextInteractionFlag.TextSelectableByMouse


def show_native_box(kind: str, text: str) -> None:
    """The Windows or macOS dialog (both may be shown from any thread)."""
    if kind == "win32":
        import ctypes
        ctypes.windll.user32.MessageBoxW(None, text, TITLE, 0x10)  # type: ignore[attr-defined]
    elif kind == "osascript":
        script = ('on run argv\ndisplay alert (item 1 of argv) message (item 2 of argv) '
                  'as critical\nend run')
        subprocess.run(["osascript", "-e", script, TITLE, text], timeout=3600, check=False)


class CrashReporter:
    """Logs every uncaught exception and shows it to the person in a dialog."""

    def __init__(self, log_path: Path | None, platform: str = sys.platform) -> None:
        self.log_path = log_path
        self.kind = dialog_kind(platform)
        self.shown = 0
        self._relay: Any = None
        self._lock = threading.Lock()

    def install(self) -> CrashReporter:
        """Take over both exception hooks; on Qt, make the relay to the GUI thread (this
        must be called on the main thread, which Qt's loop will run on)."""
        sys.excepthook = self._on_main
        threading.excepthook = self._on_thread
        if self.kind == "qt":
            try:
                self._relay = _make_relay(self._show_here)
            except ImportError:  # no Qt: the message goes to stderr and the log only
                self.kind = "none"
        return self

    def _on_main(self, kind: type[BaseException], exc: BaseException,
                 tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            return
        log.critical("unexpected error", exc_info=(kind, exc, tb))
        self.show("LAN Chat hit an unexpected error.", exc)

    def _on_thread(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        exc = args.exc_value
        log.critical("unexpected error in thread %s", name,
                     exc_info=exc if exc is not None else True)
        self.show("LAN Chat hit an unexpected error in the background.", exc)

    def show(self, what: str, exc: BaseException | None,
             then: Callable[[], None] | None = None) -> None:
        """Show the dialog from any thread; ``then`` runs (on the GUI thread, on Qt) once the
        person has closed it. Never raises: a failing dialog falls back to stderr."""
        text = message_text(what, exc, self.log_path)
        say(f"{TITLE}\n{text}")
        on_gui = threading.current_thread() is threading.main_thread()
        if self.kind == "qt" and not on_gui and self._relay is not None:
            self._relay.report.emit(text, then)
            return
        self._show_here(text, then)

    def _show_here(self, text: str, then: Callable[[], None] | None) -> None:
        with self._lock:
            self.shown += 1
        log.info("showing the error dialog")
        try:
            if self.kind == "qt":
                show_qt_box(text)
            else:
                show_native_box(self.kind, text)
        except Exception:  # the dialog is the last resort; stderr has it
            log.exception("could not show the error dialog")
        if then is not None:
            then()


def _make_relay(show: Callable[[str, Callable[[], None] | None], None]) -> Any:
    """A QObject living on this thread whose queued signal runs ``show`` there."""
    from PyQt6 import QtCore

    class Relay(QtCore.QObject):
        report = QtCore.pyqtSignal(str, object)

        @QtCore.pyqtSlot(str, object)
        def deliver(self, text: str, then: Callable[[], None] | None) -> None:
            show(text, then)

    relay = Relay()
    relay.report.connect(relay.deliver,  # type: ignore[call-arg]
                         QtCore.Qt.ConnectionType.QueuedConnection)
    return relay
