"""Settings from the command line, LANCHAT_<FIELD> variables and a TOML file, and the README's
table of them: precedence, clear refusals, and a real host that obeys what it was given."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import desktop.__main__ as desktop_main
import server.__main__ as server_main
from server.config import FIELD_HELP, ConfigError, settings_table
from server.settings import Settings
from tests.conftest import ROOT, stop_process, wait_until
from tests.procs import free_port


def test_readme_lists_every_setting_as_settings_declares_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- settings table")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- end of settings table -->")
    assert readme[start:end] == settings_table(), (
        "the README's settings table is out of date: run python -m tests.readme_table")


def test_every_setting_is_explained() -> None:
    names = {f.name for f in dataclasses.fields(Settings)}
    assert names - FIELD_HELP.keys() == set(), "add a FIELD_HELP line for each new setting"
    assert FIELD_HELP.keys() - names == set(), "FIELD_HELP names a setting that no longer exists"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_command_line_beats_environment_beats_file_beats_defaults(tmp_path: Path) -> None:
    cfg = write(tmp_path / "lanchat.toml", 'room = "From the file"\nport = 9001\n'
                'max_connections_per_address = 300\nmessages_per_second = 3\n'
                'extra_hosts = ["chat.lab"]\n')
    env = {"LANCHAT_PORT": "9002", "LANCHAT_MESSAGES_PER_SECOND": "4.5",
           "LANCHAT_DISCOVERY": "false"}
    args = server_main.parse_args(["--config", str(cfg), "--port", "9003"])
    s = server_main.settings_from(args, env)
    assert s.port == 9003  # command line
    assert s.messages_per_second == 4.5 and s.discovery is False  # environment
    assert s.room == "From the file" and s.max_connections_per_address == 300  # file
    assert s.extra_hosts == ("chat.lab",)
    assert s.host == "0.0.0.0" and s.max_message_bytes == 8 * 1024  # the program's defaults


def test_set_reaches_any_field_and_named_options_win(tmp_path: Path) -> None:
    args = server_main.parse_args(["--config", str(write(tmp_path / "c.toml", "")),
                                   "--set", "ping_interval_seconds=3",
                                   "--set", "discovery_interfaces=127.0.0.1,::1",
                                   "--set", "port=1", "--port", "2"])
    s = server_main.settings_from(args, {})
    assert s.ping_interval_seconds == 3.0
    assert s.discovery_interfaces == ("127.0.0.1", "::1")
    assert s.port == 2


def test_desktop_takes_the_same_sources_but_its_lobby_stays_on_loopback(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'host = "0.0.0.0"\nroom = "Desk"\n')
    args = desktop_main.parse_args(["--config", str(cfg)])
    s = desktop_main.settings_from(args, {"LANCHAT_MAX_NAME_CHARS": "20"})
    assert (s.room, s.max_name_chars) == ("Desk", 20)
    assert s.host == "127.0.0.1" and s.hosting is False


@pytest.mark.parametrize(("env", "cli", "toml", "words"), [
    ({"LANCHAT_PORT": "eighty"}, [], "", ["LANCHAT_PORT", "'port'", "whole number"]),
    ({"LANCHAT_RATE": "5"}, [], "", None),  # not a setting: ignored with a warning
    ({"LANCHAT_MESSAGE_BURST": "-1"}, [], "", ["'message_burst'", "0 or more"]),
    ({"LANCHAT_DIRECT_SEND": "maybe"}, [], "", ["'direct_send'", "true or false"]),
    ({}, ["--set", "nope=1"], "", ["--set nope=1", "FIELD=VALUE"]),
    ({}, ["--set", "max_page"], "", ["--set max_page", "FIELD=VALUE"]),
    ({}, [], "colour = 'red'\n", ["unknown setting 'colour'"]),
    ({}, [], "port = '8765'\n", ["'port'", "whole number"]),
    ({}, [], "port = 70000\n", ["'port'", "0 to 65535"]),
    ({}, [], "room = [\n", ["not valid TOML"]),
    ({}, [], "max_upload_bytes = 1.5\n", ["'max_upload_bytes'", "whole number"]),
])
def test_bad_values_are_refused_naming_the_setting(tmp_path: Path, env: dict[str, str],
                                                   cli: list[str], toml: str,
                                                   words: list[str] | None) -> None:
    cfg = write(tmp_path / "c.toml", toml)
    args = server_main.parse_args(["--config", str(cfg), *cli])
    if words is None:
        server_main.settings_from(args, env)
        return
    with pytest.raises(ConfigError) as info:
        server_main.settings_from(args, env)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    args = server_main.parse_args(["--config", str(tmp_path / "missing.toml")])
    with pytest.raises(ConfigError, match="does not exist"):
        server_main.settings_from(args, {})


def run_host(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--data-dir",
           str(tmp_path / "data"), *args]
    base = {k: v for k, v in os.environ.items() if not k.startswith("LANCHAT_")}
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**base, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), **env})


def test_a_bad_setting_stops_the_host_with_one_line(tmp_path: Path) -> None:
    proc = run_host(tmp_path, "--port", "0", env={"LANCHAT_MAX_CONNECTIONS": "lots"})
    try:
        _out, err = proc.communicate(timeout=30)
    finally:
        stop_process(proc)
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "LANCHAT_MAX_CONNECTIONS" in lines[0], lines


def hello(port: int) -> dict[str, object]:
    return {"type": "hello", "name": f"p{uuid.uuid4().hex[:6]}", "client_id": uuid.uuid4().hex,
            "since": None}


def test_a_real_host_obeys_its_config_file_and_environment(tmp_path: Path) -> None:
    """An admin raises nothing by editing code: the default config file names the room, and a
    variable sets the connections-per-address limit, which the host then enforces."""
    cfg_dir = tmp_path / "cfg" / "LANChat"
    cfg_dir.mkdir(parents=True)
    write(cfg_dir / "lanchat.toml", 'room = "Configured"\ndiscovery = false\n')
    port = free_port()
    proc = run_host(tmp_path, "--port", str(port),
                    env={"LANCHAT_MAX_CONNECTIONS_PER_ADDRESS": "2"})
    url = f"http://127.0.0.1:{port}"
    try:
        def answers() -> dict[str, object] | None:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                return dict(httpx.get(f"{url}/api/room", timeout=1).json())
            except httpx.HTTPError:
                return None
        info = wait_until(answers, timeout=20, what="the configured host")
        assert info["room"] == "Configured"
        ws_url = f"ws://127.0.0.1:{port}/ws"
        with connect(ws_url) as a, connect(ws_url) as b, connect(ws_url) as c:
            for ws in (a, b):
                ws.send(json.dumps(hello(port)))
                assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
            c.send(json.dumps(hello(port)))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    c.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
    finally:
        stop_process(proc)
