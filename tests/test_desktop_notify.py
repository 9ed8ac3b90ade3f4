"""Desktop notifications on Linux, macOS and Windows: which command each system gets, that a
message's text never becomes part of a program, and a real start of the chosen command."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from desktop.notify import (
    BODY_ENV,
    TITLE_ENV,
    WINDOWS_TOAST,
    notification_command,
    send_notification,
)
from tests.conftest import wait_until

HOSTILE_TITLE = 'Bob "); do shell script "rm -rf ~" --'
HOSTILE_BODY = "$(Remove-Item C:\\) <text>markup</text> `whoami` '; --help"


def only(*tools: str):  # type: ignore[no-untyped-def]
    """A stand-in for shutil.which on a system that has exactly `tools`."""
    return lambda name: f"/sys/bin/{name}" if name in tools else None


def test_linux_uses_notify_send_with_the_texts_after_double_dash() -> None:
    cmd = notification_command(HOSTILE_TITLE, HOSTILE_BODY, "linux", only("notify-send"))
    assert cmd is not None
    assert cmd.argv == ["/sys/bin/notify-send", "--app-name", "LAN Chat", "--",
                        HOSTILE_TITLE, HOSTILE_BODY]
    assert cmd.env == {}
    assert notification_command("t", "b", "linux", only()) is None
    assert notification_command("t", "b", "freebsd14", only("notify-send")) is not None


def test_macos_uses_osascript_with_the_texts_as_run_arguments() -> None:
    cmd = notification_command(HOSTILE_TITLE, HOSTILE_BODY, "darwin", only("osascript"))
    assert cmd is not None
    assert cmd.argv[0] == "/sys/bin/osascript"
    script = [cmd.argv[i + 1] for i, a in enumerate(cmd.argv[:-2]) if a == "-e"]
    assert script == ["on run argv",
                      "display notification (item 2 of argv) with title (item 1 of argv)",
                      "end run"]
    assert cmd.argv[-2:] == [HOSTILE_TITLE, HOSTILE_BODY]  # arguments, not source
    assert not any(HOSTILE_TITLE in line or HOSTILE_BODY in line for line in script)
    assert notification_command("t", "b", "darwin", only()) is None


def test_windows_uses_a_fixed_powershell_toast_fed_through_the_environment() -> None:
    cmd = notification_command(HOSTILE_TITLE, HOSTILE_BODY, "win32", only("powershell.exe"))
    assert cmd is not None
    assert cmd.argv[0] == "/sys/bin/powershell.exe"
    assert cmd.argv[cmd.argv.index("-WindowStyle") + 1] == "Hidden"
    encoded = cmd.argv[cmd.argv.index("-EncodedCommand") + 1]
    script = base64.b64decode(encoded).decode("utf-16-le")
    assert script == WINDOWS_TOAST
    assert f"CreateTextNode($env:{TITLE_ENV})" in script
    assert f"CreateTextNode($env:{BODY_ENV})" in script
    assert "ToastNotificationManager" in script
    assert cmd.env == {TITLE_ENV: HOSTILE_TITLE, BODY_ENV: HOSTILE_BODY}
    assert not any(HOSTILE_BODY in a or HOSTILE_TITLE in a for a in cmd.argv)
    assert notification_command("t", "b", "win32", only("powershell")) is not None
    assert notification_command("t", "b", "win32", only()) is None


@pytest.mark.parametrize("platform", ["emscripten", "wasi", "aix", "cygwin"])
def test_other_systems_have_none(platform: str) -> None:
    tools = only("notify-send", "osascript", "powershell.exe")
    assert notification_command("t", "b", platform, tools) is None


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in notifier is a shell script")
def test_the_chosen_command_really_starts_with_its_texts(tmp_path: Path) -> None:
    """A stand-in notify-send (this machine has no notification daemon) records what it got."""
    record = tmp_path / "got.json"
    tool = tmp_path / "notify-send"
    tool.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                    f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    assert send_notification(HOSTILE_TITLE, HOSTILE_BODY, "linux", lambda name: str(tool))
    got = wait_until(lambda: record.exists() and record.read_text(), what="the notifier to run")
    assert json.loads(got) == ["--app-name", "LAN Chat", "--", HOSTILE_TITLE, HOSTILE_BODY]
    assert not send_notification("t", "b", "linux", only())
    assert os.environ.get(TITLE_ENV) is None  # the caller's environment is left alone
