"""Desktop notifications on each system, with what that system ships: no extra package.

- Linux and the BSDs: ``notify-send`` (libnotify), when installed.
- macOS: ``osascript`` running ``display notification``.
- Windows 10 and 11: Windows PowerShell showing a toast through the WinRT notification API.

The texts come from chat messages, so they are never part of a program's source: notify-send
gets them as arguments after ``--``; the AppleScript reads them from its run handler's argument
list; the PowerShell script is fixed (sent encoded, so no quoting is involved) and reads them from
two environment variables, placing them in the toast's XML as text nodes, never as markup.

Which command runs is decided by :func:`notification_command` from the platform name it is
handed, so every system's choice can be checked on any of them.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import NamedTuple

APP_TITLE = "LAN Chat"
TITLE_ENV = "LANCHAT_NOTIFY_TITLE"
BODY_ENV = "LANCHAT_NOTIFY_BODY"

# A toast needs the id of an app Windows knows; Windows PowerShell's own is always there.
POWERSHELL_APP_ID = r"{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\WindowsPowerShell\v1.0\powershell.exe"
WINRT = "ContentType = WindowsRuntime"
TOAST_XML = ('<toast><visual><binding template="ToastGeneric"><text/><text/></binding>'
             '</visual></toast>')
WINDOWS_TOAST = "\n".join((
    "$ErrorActionPreference = 'Stop'",
    f"$null = [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, "
    f"{WINRT}]",
    f"$null = [Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, {WINRT}]",
    "$xml = New-Object Windows.Data.Xml.Dom.XmlDocument",
    f"$xml.LoadXml('{TOAST_XML}')",
    "$texts = $xml.GetElementsByTagName('text')",
    f"$null = $texts.Item(0).AppendChild($xml.CreateTextNode($env:{TITLE_ENV}))",
    f"$null = $texts.Item(1).AppendChild($xml.CreateTextNode($env:{BODY_ENV}))",
    "$toast = [Windows.UI.Notifications.ToastNotification]::new($xml)",
    "[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier(",
    f"  '{POWERSHELL_APP_ID}').Show($toast)",
))
MAC_SCRIPT = ("on run argv", "display notification (item 2 of argv) with title (item 1 of argv)",
              "end run")


class NotifyCommand(NamedTuple):
    """A program to start: its arguments and the environment variables it needs added."""

    argv: list[str]
    env: dict[str, str]


def notification_command(title: str, body: str, platform: str,
                         which: Callable[[str], str | None] = shutil.which) -> NotifyCommand | None:
    """The command that shows (`title`, `body`) on `platform` (a ``sys.platform`` value), or
    None where the system has no way this app knows."""
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        tool = which("notify-send")
        if tool is None:
            return None
        return NotifyCommand([tool, "--app-name", APP_TITLE, "--", title, body], {})
    if platform == "darwin":
        tool = which("osascript")
        if tool is None:
            return None
        lines = [arg for line in MAC_SCRIPT for arg in ("-e", line)]
        return NotifyCommand([tool, *lines, title, body], {})
    if platform == "win32":
        tool = which("powershell.exe") or which("powershell")
        if tool is None:
            return None
        encoded = base64.b64encode(WINDOWS_TOAST.encode("utf-16-le")).decode("ascii")
        argv = [tool, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                "-WindowStyle", "Hidden", "-EncodedCommand", encoded]
        return NotifyCommand(argv, {TITLE_ENV: title, BODY_ENV: body})
    return None


def send_notification(title: str, body: str, platform: str = sys.platform,
                      which: Callable[[str], str | None] = shutil.which) -> bool:
    """Start the system's notifier without waiting for it; False where there is none."""
    command = notification_command(title, body, platform, which)
    if command is None:
        return False
    # Windows: no console window flashes up for the helper.
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if platform == "win32" else 0
    subprocess.Popen(command.argv, env={**os.environ, **command.env}, creationflags=flags,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, close_fds=True)
    return True
