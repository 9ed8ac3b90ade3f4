"""What a sniffer on the LAN sees: a packet capture between two "computers" (network namespaces
joined by a veth, tests/netns.py) while two people sign in with the room's password, chat and
share a file.

With TLS (the default for a host on the LAN) the capture holds none of the message, the
password or the file's bytes; with ``--no-tls`` the same capture holds all three (so the test
can fail). Also: the fingerprint in the zeroconf TXT record, in ``/api/room`` and of the
certificate served are one, and it survives a restart.

Needs root, iproute2 and tcpdump; skips without them, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_tool, wait_until
from tests.test_lan import PORT, Lan, Proc, lan_setup

pytestmark = pytest.mark.lan


def tcpdump_path() -> str | None:
    return shutil.which("tcpdump") or next(
        (p for p in ("/usr/bin/tcpdump", "/usr/sbin/tcpdump") if os.path.exists(p)), None)


def start_host(lan: Lan, name: str, password_file: Path, *extra: str) -> Proc:
    host = lan.run(lan.pair.a, name, "-m", "server", "--host", "0.0.0.0", "--port", str(PORT),
                   "--data-dir", str(lan.tmp / "room"), "--room", "Sniffed room",
                   "--password-file", str(password_file), "--log-level", "info", *extra)
    host.wait_line("LAN Chat is serving", 30)
    return host


def capture(lan: Lan, path: Path) -> Proc:
    """tcpdump on every interface of namespace b, writing each packet as it comes (-U)."""
    tool = tcpdump_path()
    assert tool is not None
    proc = Proc("tcpdump", lan.pair.exec_args(lan.pair.b, tool, "-i", "any", "-U", "-s", "0",
                                              "-w", str(path), "tcp", "port", str(PORT)),
                lan.logs / "tcpdump.log")
    lan.procs.append(proc)
    wait_until(lambda: "listening on" in proc.log_text(), timeout=15,
               what="tcpdump to start listening")
    return proc


def chat_and_share(lan: Lan, scheme: str, password: str, text: str,
                   blob_path: Path) -> dict[str, Any]:
    session = lan.run(lan.pair.b, "session", "-m", "tests.lan_helper", "session",
                      f"{scheme}://{lan.pair.addr_a}:{PORT}/", "--password", password,
                      "--say", text, "--file", str(blob_path))
    record = session.wait_record(lambda r: r.get("done") is True, 60, "the chat session")
    assert session.popen.wait(10) == 0
    assert record["same_file"] is True
    return record


def sniffed(lan: Lan, tls: bool, tmp: Path) -> tuple[bytes, str, str, bytes, dict[str, Any]]:
    """Run the whole session under capture; returns the capture and what was secret."""
    password = "hunter-" + secrets.token_hex(6)
    text = "meet at the north door " + secrets.token_hex(6)
    blob = secrets.token_bytes(256 * 1024)
    (tmp / "password.txt").write_text(password + "\n")
    (tmp / "password.txt").chmod(0o600)
    (tmp / "plans.bin").write_bytes(blob)
    host = start_host(lan, "host-a", tmp / "password.txt", *([] if tls else ["--no-tls"]))
    pcap = tmp / ("tls.pcap" if tls else "plain.pcap")
    dump = capture(lan, pcap)
    record = chat_and_share(lan, "https" if tls else "http", password, text, tmp / "plans.bin")
    dump.signal(signal.SIGINT)  # tcpdump writes what it has and exits
    dump.popen.wait(10)
    host.signal(signal.SIGTERM)
    host.popen.wait(10)
    data = pcap.read_bytes()
    assert len(data) > len(blob), "the capture missed the traffic"
    return data, password, text, blob, record


def found_pieces(capture: bytes, blob: bytes) -> int:
    """How many of 16 slices (64 bytes each, spread over the file) appear in the capture."""
    step = len(blob) // 16
    return sum(blob[i * step:i * step + 64] in capture for i in range(16))


@pytest.fixture
def lan(tmp_path: Path) -> Iterator[Lan]:
    yield from lan_setup(tmp_path)


@pytest.fixture
def sniffing_lan(lan: Lan) -> Lan:
    need_tool(tcpdump_path(), "tcpdump")
    return lan


def test_with_tls_a_sniffer_sees_no_message_password_or_file(sniffing_lan: Lan,
                                                             tmp_path: Path) -> None:
    capture_bytes, password, text, blob, record = sniffed(sniffing_lan, True, tmp_path)
    assert password.encode() not in capture_bytes
    assert text.encode() not in capture_bytes
    assert found_pieces(capture_bytes, blob) == 0
    assert record["fingerprint"] == record["room_fingerprint"]
    print(f"\ncapture with TLS: {len(capture_bytes)} bytes, nothing readable")


def test_without_tls_the_same_sniffer_reads_everything(sniffing_lan: Lan,
                                                       tmp_path: Path) -> None:
    capture_bytes, password, text, blob, record = sniffed(sniffing_lan, False, tmp_path)
    assert password.encode() in capture_bytes
    assert text.encode() in capture_bytes
    assert found_pieces(capture_bytes, blob) >= 12  # a slice may straddle two TCP segments
    assert record["fingerprint"] is None and record["room_fingerprint"] is None


def test_fingerprint_is_one_in_txt_api_and_certificate_and_survives_restart(
        lan: Lan, tmp_path: Path) -> None:
    (tmp_path / "password.txt").write_text("pw\n")
    (tmp_path / "password.txt").chmod(0o600)
    (tmp_path / "f.bin").write_bytes(b"x" * 1000)
    seen: list[str] = []
    for run in range(2):
        host = start_host(lan, f"host-{run}", tmp_path / "password.txt")
        browse = lan.run(lan.pair.b, f"txt-{run}", "-m", "tests.lan_helper", "txt",
                         "--seconds", "20")
        txt = browse.wait_record(lambda r: r.get("port") == PORT, 20, "the room's TXT record")
        record = chat_and_share(lan, "https", "pw", f"run {run}", tmp_path / "f.bin")
        fp = txt["properties"]["fp"]
        assert len(fp) == 64 and fp == fp.lower()
        assert fp == record["fingerprint"] == record["room_fingerprint"]
        seen.append(fp)
        browse.stop()
        host.signal(signal.SIGTERM)
        host.popen.wait(10)
    assert seen[0] == seen[1], "the host's certificate changed across a restart"
    assert (lan.tmp / "room" / "tls-cert.pem").exists()
    assert oct((lan.tmp / "room" / "tls-key.pem").stat().st_mode & 0o777) == "0o600"
