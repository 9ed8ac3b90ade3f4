"""Property-based tests: no frame and no request, however odd, breaks a host.

The protocol parser is checked as a pure function with hypothesis; then generated frames go to a
real host over a real WebSocket; then schemathesis drives every HTTP route from the OpenAPI schema
and no answer may be a 5xx.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.protocol import (
    Hello,
    Ping,
    ProtocolError,
    SendMessage,
    Typing,
    parse_frame,
    parse_hello,
)
from tests.conftest import Chatter, Host, artifact_path

FIELDS = ["type", "text", "client_msg_id", "file_id", "name", "client_id", "since"]
TYPES = ["message", "typing", "ping", "hello", "welcome", "join", "", "MESSAGE", "message\x00"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)
frames = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).flatmap(
    lambda d: st.sampled_from(TYPES).map(lambda t: {**d, "type": t})) | st.dictionaries(
    st.sampled_from(FIELDS), json_values, max_size=6)
raw_frames = frames.map(json.dumps) | st.text(max_size=200) | st.binary(max_size=200)


@settings(max_examples=500, deadline=None)
@given(raw_frames)
def test_the_frame_parser_accepts_or_refuses_but_never_crashes(raw: str | bytes) -> None:
    try:
        frame = parse_frame(raw, 8192)
    except ProtocolError as exc:
        assert exc.code and exc.detail
        return
    assert isinstance(frame, SendMessage | Typing | Ping)
    if isinstance(frame, SendMessage):
        assert len(frame.text.encode()) <= 8192
        assert frame.text.strip() or frame.file_id


@settings(max_examples=300, deadline=None)
@given(raw_frames)
def test_the_hello_parser_accepts_or_refuses_but_never_crashes(raw: str | bytes) -> None:
    try:
        hello = parse_hello(raw, 32)
    except ProtocolError as exc:
        assert exc.code and exc.detail
        return
    assert isinstance(hello, Hello) and 1 <= len(hello.name) <= 32
    assert hello.since is None or hello.since >= 0


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=300).filter(lambda t: t.strip()))
def test_any_real_text_goes_through_unchanged(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    frame = parse_frame(json.dumps({"type": "message", "text": text, "client_msg_id": "a"}), 8192)
    assert isinstance(frame, SendMessage) and frame.text == text


@pytest.fixture(scope="module")
def fuzz_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    h = Host(tmp_path_factory.mktemp("fuzz") / "data", messages_per_second=100_000.0,
             message_burst=100_000).start()
    yield h
    h.stop()


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """The module shares one host, so the per-test thread check stays off here."""
    yield


def test_generated_frames_never_break_a_real_host(fuzz_host: Host) -> None:
    client = Chatter(fuzz_host, "Fuzzer", max_queue=None)
    watcher = Chatter(fuzz_host, "Watcher", max_queue=None)
    sent: list[Any] = []

    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(raw_frames)
    def send(raw: str | bytes) -> None:
        client.ws.send(raw)
        sent.append(raw)

    send()
    client.say("still alive after fuzzing")
    assert watcher.recv_type("message", timeout=30, text="still alive after fuzzing")
    with fuzz_host.http() as http:
        assert http.get("/api/health").json()["status"] == "ok"
    client.close()
    watcher.close()
    assert len(sent) >= 100


def test_schemathesis_finds_no_server_error(fuzz_host: Host) -> None:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert exe, "schemathesis is not installed (pip install -e '.[test]')"
    report = artifact_path("schemathesis.txt")
    proc = subprocess.run(
        [exe, "run", f"{fuzz_host.url}/api/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "40", "--seed", "1", "--exclude-path-regex", "stream",
         "--workers", "1", "--no-color"],
        capture_output=True, text=True, timeout=600)
    report.write_text(proc.stdout + proc.stderr)
    tail = "\n".join(proc.stdout.splitlines()[-25:])
    print(f"\nschemathesis report: {report}\n{tail}")
    assert proc.returncode == 0, tail
    with fuzz_host.http() as http:
        assert http.get("/api/health").json()["status"] == "ok"
