"""Saving shared files from the window: into the Downloads folder, with a notice in the page.

pywebview's own Qt download handler is off by default, and on Qt 6 it calls a method that no
longer exists (``setPath``), so a click on a file's download button did nothing. This module
answers Qt's ``downloadRequested`` itself: the file goes to the user's Downloads folder under
its own name (``name (2).ext`` when that is taken), and the page is told, so it can say where
the file went. A save dialog per file would be one click more for every file, and a modal Qt
dialog stalls the chat; the notice names the folder instead.
"""

from __future__ import annotations

import json
import logging
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 200


def default_download_dir() -> Path:
    """The user's Downloads folder (XDG_DOWNLOAD_DIR on Linux, ~/Downloads elsewhere)."""
    return Path(platformdirs.user_downloads_dir())


def safe_name(name: str) -> str:
    """A file name that stays inside the folder: no separators, no control characters, no
    leading dots (a hidden file, or ``..``)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name)
                   if unicodedata.category(c)[0] != "C" and c not in ':*?"<>|')
    name = name.strip().lstrip(".").strip() or "download"
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME_CHARS - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 \
            else name[:MAX_NAME_CHARS]
    return name


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/name (2).ext`` and so on when a file already has it."""
    target = folder / name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    n = 2
    while target.exists():
        target = folder / (f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})")
        n += 1
    return target


def notice_script(detail: dict[str, Any]) -> str:
    """The JavaScript that tells the page about a finished download (data as JSON only)."""
    return ("window.dispatchEvent(new CustomEvent('lanchat:download', {detail: "
            f"{json.dumps(detail)}}})); true")


class QtDownloads:
    """Accepts the window's downloads into ``folder()`` and reports each to the page."""

    def __init__(self, window: Any, folder: Callable[[], Path] = default_download_dir) -> None:
        self._window = window
        self._folder = folder
        self._active: set[Any] = set()  # Qt frees a request nobody holds

    def attach(self) -> bool:
        """Connect to the window's web profile; False when there is no Qt window to use."""
        try:
            from PyQt6.QtCore import Qt
            profile = self._window.native.webview.page().profile()
        except Exception:  # noqa: BLE001 - not the Qt backend, or not shown yet
            log.warning("downloads: no Qt web profile found; saving files will not work")
            return False
        # Qt cancels a download not accepted before the signal returns: run in Qt's thread.
        profile.downloadRequested.connect(self._on_request, Qt.ConnectionType.DirectConnection)
        return True

    def _on_request(self, download: Any) -> None:
        try:
            folder = self._folder()
            folder.mkdir(parents=True, exist_ok=True)
            target = unique_path(folder, safe_name(download.suggestedFileName()
                                                   or download.downloadFileName()))
            download.setDownloadDirectory(str(folder))
            download.setDownloadFileName(target.name)
        except OSError as exc:
            log.error("cannot save a download: %s", exc)
            download.cancel()
            self._tell({"state": "failed", "name": download.suggestedFileName(),
                        "reason": f"the Downloads folder cannot be written ({exc.strerror})"})
            return
        self._active.add(download)
        download.isFinishedChanged.connect(lambda: self._finished(download, target))
        download.accept()
        log.info("saving a download to %s", target)

    def _finished(self, download: Any, target: Path) -> None:
        self._active.discard(download)
        from PyQt6.QtWebEngineCore import QWebEngineDownloadRequest as Request
        if download.state() == Request.DownloadState.DownloadCompleted:
            # The folder's name only: the page may be another host's, and needs no more.
            self._tell({"state": "saved", "name": target.name, "folder": target.parent.name})
        else:
            reason = download.interruptReasonString() or "cancelled"
            log.warning("download of %s failed: %s", target.name, reason)
            self._tell({"state": "failed", "name": target.name, "reason": reason})

    def _tell(self, detail: dict[str, Any]) -> None:
        """evaluate_js waits for Qt's thread, which is this one: call it from another."""
        script = notice_script(detail)

        def run() -> None:
            try:
                self._window.evaluate_js(script)
            except Exception:  # the window may be closing
                log.debug("could not tell the page about a download", exc_info=True)

        threading.Thread(target=run, name="lanchat-download-notice", daemon=True).start()
