"""Where LAN Chat finds its UI files and keeps its users' data.

One place decides this for every way the app runs: from a source checkout, installed with pip,
or frozen by PyInstaller (where bundled files live under ``sys._MEIPASS``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

_APP_DIR_NAME = "LANChat"


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def bundle_root() -> Path:
    """The folder that holds ``static/``: the bundle when frozen, the checkout otherwise."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parent.parent


def static_dir() -> Path:
    """The UI's files (index.html, css/, js/)."""
    return bundle_root() / "static"


def app_icon() -> Path | None:
    """The window's icon: only a built app has one (the build draws it into the bundle)."""
    icon = bundle_root() / "lanchat.png"
    return icon if icon.is_file() else None


def user_data_dir() -> Path:
    """History and shared files, never beside the executable."""
    return Path(platformdirs.user_data_dir(_APP_DIR_NAME, appauthor=False))


def user_config_dir() -> Path:
    """Small preferences (nickname, last room) that outlive the window's private storage."""
    return Path(platformdirs.user_config_dir(_APP_DIR_NAME, appauthor=False))


def user_log_dir() -> Path:
    """Log files: the windowed app has no console."""
    return Path(platformdirs.user_log_dir(_APP_DIR_NAME, appauthor=False))


def private_folder(folder: Path) -> Path:
    """Create ``folder`` (and its parents) if needed and make it its owner's alone (0700): it
    holds the chat's history, the session secret and shared files, which other people using
    this computer must not read. Windows keeps a user's profile private already."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _owner_only(folder, 0o700)
    return folder


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, and make it its owner's alone (0600)."""
    if os.name == "posix":
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
        _owner_only(path, 0o600)
    return path


def _owner_only(path: Path, mode: int) -> None:
    if os.name != "posix" or path.stat().st_mode & 0o077 == 0:
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:  # not ours, or a read-only disk: say so, keep going
        log.warning("could not make %s private to its owner: %s", path, exc.strerror)
