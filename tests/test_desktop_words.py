"""The desktop app's terminal lines in the system's language (desktop/words.py)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from desktop.words import CATALOGUE, EN, system_language, words
from tests.conftest import ROOT
from tests.desktop_helpers import free_port
from tests.test_desktop import app_env

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_the_system_locale_picks_the_language() -> None:
    assert system_language({"LANG": "de_DE.UTF-8"}) == "de"
    assert system_language({"LC_ALL": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}) == "ja"
    assert system_language({"LANG": "zh_TW.UTF-8"}) == "zh-CN"
    assert system_language({"LANG": "pt_BR"}) == "pt"
    assert system_language({"LANG": "C.UTF-8", "LANGUAGE": "fr:en"}) == "fr"
    assert system_language({"LANG": "fi_FI.UTF-8"}) == "en"  # no Finnish: English


def test_every_line_keeps_its_placeholders_and_missing_lines_fall_back() -> None:
    for code, table in CATALOGUE.items():
        assert set(table) <= set(EN), code
        for key, text in table.items():
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(EN[key])), (code, key)
    assert words("no_gui", "ar") == EN["no_gui"]
    assert words("cannot_start", "ru", error="x") == "не удаётся запустить: x"


def test_no_display_line_in_german(tmp_path: Path) -> None:
    port = free_port()
    env = app_env(tmp_path, display=None, devtools_port=None)
    env.update({"LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8"})
    proc = subprocess.Popen([sys.executable, "-m", "desktop", "--no-discovery", "--port",
                             str(port), "--data-dir", str(tmp_path / "data")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        print(line)
        assert line.startswith(
            "LAN Chat: kein Bildschirm gefunden; die Oberfläche läuft unter "), line
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        assert httpx.get(url.group(0) + "api/health", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert "Traceback" not in err and "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
